#include "core/json_parse.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "core/utf8.h"
#include "rapidjson/error/en.h"

namespace clover {

bool JsonStringsAreUtf8(const rapidjson::Value& value) {
  std::vector<const rapidjson::Value*> pending = {&value};
  while (!pending.empty()) {
    const rapidjson::Value* v = pending.back();
    pending.pop_back();
    if (v->IsString()) {
      if (!IsValidUtf8(absl::string_view(v->GetString(), v->GetStringLength())))
        return false;
    } else if (v->IsArray()) {
      for (rapidjson::SizeType i = 0; i < v->Size(); ++i)
        pending.push_back(&(*v)[i]);
    } else if (v->IsObject()) {
      // Indexed access: clang's C++20 -Wambiguous-reversed-operator rejects
      // RapidJSON's member iterators in range-for loops.
      const auto begin = v->MemberBegin();
      for (rapidjson::SizeType i = 0; i < v->MemberCount(); ++i) {
        pending.push_back(&begin[i].name);
        pending.push_back(&begin[i].value);
      }
    }
  }
  return true;
}

absl::Status ParseJson(absl::string_view text, rapidjson::Document* doc) {
  doc->Parse<rapidjson::kParseValidateEncodingFlag |
             rapidjson::kParseIterativeFlag>(text.data(), text.size());
  if (doc->HasParseError()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid JSON at byte ", doc->GetErrorOffset(), ": ",
                     rapidjson::GetParseError_En(doc->GetParseError())));
  }
  if (!JsonStringsAreUtf8(*doc)) {
    return absl::InvalidArgumentError(
        "invalid JSON: a string is not valid UTF-8 (unpaired surrogate "
        "escape?)");
  }
  return absl::OkStatus();
}

}  // namespace clover
