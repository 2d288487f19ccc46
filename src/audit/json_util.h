// Small helpers shared by the auditor's JSON readers and writers (RapidJSON
// DOM); the member readers and builders are core/json_fields.h.
#ifndef CLOVER_AUDIT_JSON_UTIL_H_
#define CLOVER_AUDIT_JSON_UTIL_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/json_fields.h"
#include "entry/rfc3339.h"
#include "rapidjson/document.h"

namespace clover::audit {

// Debian's Abseil has its own string_view type; these bridge it and
// absl::string_view.
inline absl::string_view AV(absl::string_view s) {
  return absl::string_view(s.data(), s.size());
}
inline absl::string_view SV(absl::string_view s) {
  return absl::string_view(s.data(), s.size());
}

// RFC 3339 UTC with milliseconds: "2026-11-28T23:50:00.123Z".
std::string Rfc3339(absl::Time t);
// Accepts RFC 3339 with an offset or "Z" and optional fractional seconds
// (entry/rfc3339.h: the parser of entries' times, shared with every reader).
[[nodiscard]] inline absl::StatusOr<absl::Time> ParseRfc3339(
    absl::string_view text) {
  return entry::ParseRfc3339(text);
}

}  // namespace clover::audit

#endif  // CLOVER_AUDIT_JSON_UTIL_H_
