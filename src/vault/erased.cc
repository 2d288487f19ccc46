#include "vault/erased.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace clover::vault {
namespace {
constexpr char kErasedPayload[] = "clover.dev/erased";
}  // namespace

absl::Status ErasedError(absl::string_view subject_id) {
  absl::Status s = absl::NotFoundError(
      absl::StrCat("subject ", std::string(subject_id), " was erased"));
  s.SetPayload(kErasedPayload, absl::Cord("1"));
  return s;
}

bool IsErased(const absl::Status& status) {
  return status.code() == absl::StatusCode::kNotFound &&
         status.GetPayload(kErasedPayload).has_value();
}

}  // namespace clover::vault
