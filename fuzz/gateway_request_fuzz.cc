// The gateway's request-body helpers on any bytes: an
// export/detokenize/aggregate body and a `fields=` query list must give a value
// or an InvalidArgument, never a crash.
#include <cstddef>
#include <cstdint>

#include "gateway/request_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  static const clover::Schema* schema = [] {
    auto* s = new clover::Schema();
    for (const char* name : {"email", "phone", "name", "watch_history"}) {
      clover::FieldSpec f;
      f.name = name;
      f.category = "contact";
      s->fields.push_back(f);
    }
    return s;
  }();
  (void)clover::gateway::ResolveFields(*schema,
                                       clover::gateway::SplitList(text));
  // The same bytes as a Content-Type header of a request with a body.
  clover::server::HttpRequest req;
  req.body = "{}";
  req.headers["content-type"] = std::string(text);
  (void)clover::gateway::CheckJsonContentType(req);
  rapidjson::Document doc;
  if (clover::gateway::ParseJsonObject(text, &doc).ok()) {
    (void)clover::gateway::StringMember(doc, "destination", true);
    (void)clover::gateway::StringMember(doc, "purpose", false);
    (void)clover::gateway::StringArrayMember(doc, "fields", true, 1000);
    (void)clover::gateway::StringArrayMember(doc, "subjects", false, 10);
  }
  return 0;
}
