#include "core/json_parse.h"

#include <vector>

#include "absl/container/flat_hash_set.h"
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

absl::Status RejectDuplicateKeys(const rapidjson::Value& value) {
  std::vector<const rapidjson::Value*> pending = {&value};
  absl::flat_hash_set<absl::string_view> names;
  while (!pending.empty()) {
    const rapidjson::Value* v = pending.back();
    pending.pop_back();
    if (v->IsArray()) {
      for (rapidjson::SizeType i = 0; i < v->Size(); ++i)
        pending.push_back(&(*v)[i]);
    } else if (v->IsObject()) {
      names.clear();
      const auto begin = v->MemberBegin();
      for (rapidjson::SizeType i = 0; i < v->MemberCount(); ++i) {
        absl::string_view name(begin[i].name.GetString(),
                               begin[i].name.GetStringLength());
        if (!names.insert(name).second) {
          bool printable = !name.empty() && name.size() <= 64;
          for (char c : name) {
            printable = printable && c >= 0x21 && c <= 0x7e && c != '\\' &&
                        c != '\'' && c != '"';
          }
          return absl::InvalidArgumentError(
              printable ? absl::StrCat("duplicate key '", name, "'")
                        : std::string("duplicate key"));
        }
        pending.push_back(&begin[i].value);
      }
    }
  }
  return absl::OkStatus();
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
