#include "vault/subject_id.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace clover::vault {

absl::Status ValidateSubjectId(absl::string_view id) {
  if (id.empty())
    return absl::InvalidArgumentError("subject id: must not be empty");
  if (id.size() > kMaxSubjectIdLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "subject id: longer than ", kMaxSubjectIdLength, " characters"));
  }
  if (id[0] == '.')
    return absl::InvalidArgumentError("subject id: must not start with '.'");
  for (size_t i = 0; i < id.size(); ++i) {
    char c = id[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
              c == '@' || c == '-';
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("subject id: character at position ", i,
                       " is not one of [A-Za-z0-9._:@-]"));
    }
  }
  return absl::OkStatus();
}

}  // namespace clover::vault
