#include "entry/entry_subjects.h"

#include "rapidjson/memorystream.h"
#include "rapidjson/reader.h"

namespace clover::entry {
namespace {

// Collects the top-level "subject" string and the strings of a top-level
// "subjects" array.
class SubjectsHandler
    : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, SubjectsHandler> {
 public:
  explicit SubjectsHandler(std::vector<std::string>& out) : out_(out) {}

  bool Default() { return true; }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    if (depth_ == 1) {
      const absl::string_view key(s, n);
      wanted_ = key == "subject"    ? Wanted::kSubject
                : key == "subjects" ? Wanted::kSubjects
                                    : Wanted::kNone;
    }
    return true;
  }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    if ((depth_ == 1 && wanted_ == Wanted::kSubject) ||
        (depth_ == 2 && in_subjects_)) {
      out_.emplace_back(s, n);
    }
    return true;
  }
  bool StartObject() { return Enter(false); }
  bool EndObject(rapidjson::SizeType) { return Leave(); }
  bool StartArray() {
    return Enter(depth_ == 1 && wanted_ == Wanted::kSubjects);
  }
  bool EndArray(rapidjson::SizeType) { return Leave(); }

 private:
  enum class Wanted { kNone, kSubject, kSubjects };
  bool Enter(bool subjects_array) {
    ++depth_;
    if (depth_ == 2) in_subjects_ = subjects_array;
    return true;
  }
  bool Leave() {
    if (depth_ == 2) in_subjects_ = false;
    if (depth_ == 1) wanted_ = Wanted::kNone;
    --depth_;
    return true;
  }

  std::vector<std::string>& out_;
  int depth_ = 0;
  Wanted wanted_ = Wanted::kNone;
  bool in_subjects_ = false;
};

}  // namespace

bool SubjectsOf(absl::string_view entry, std::vector<std::string>& out) {
  out.clear();
  SubjectsHandler handler(out);
  rapidjson::Reader reader;
  rapidjson::MemoryStream stream(entry.data(), entry.size());
  // Iterative: an entry is the gateway's own canonical JSON, but a reader
  // must not trust its nesting depth either.
  if (reader.Parse<rapidjson::kParseIterativeFlag>(stream, handler).IsError()) {
    out.clear();
    return false;
  }
  return true;
}

}  // namespace clover::entry
