// Small helpers shared by the auditor's JSON readers and writers (RapidJSON
// DOM).
#ifndef CLOVER_AUDIT_JSON_UTIL_H_
#define CLOVER_AUDIT_JSON_UTIL_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "entry/rfc3339.h"
#include "rapidjson/document.h"

namespace clover::audit {

// Debian's Abseil has its own string_view type; these bridge it and
// std::string_view.
inline absl::string_view AV(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}
inline std::string_view SV(absl::string_view s) {
  return std::string_view(s.data(), s.size());
}

// RFC 3339 UTC with milliseconds: "2026-11-28T23:50:00.123Z".
std::string Rfc3339(absl::Time t);
// Accepts RFC 3339 with an offset or "Z" and optional fractional seconds
// (entry/rfc3339.h: the parser of entries' times, shared with every reader).
[[nodiscard]] inline absl::StatusOr<absl::Time> ParseRfc3339(
    absl::string_view text) {
  return entry::ParseRfc3339(text);
}

// Parses `json` into `doc`, requiring an object whose names are unique at every
// depth. Errors: InvalidArgument naming the offset or the duplicate key.
[[nodiscard]] absl::Status ParseJsonObject(absl::string_view json,
                                           rapidjson::Document& doc,
                                           absl::string_view what);

// Member readers: InvalidArgument "field 'name': ..." when the member has the
// wrong type, or is absent and `required`. An absent optional member leaves
// `out` untouched.
[[nodiscard]] absl::Status GetString(const rapidjson::Value& obj,
                                     const char* name, bool required,
                                     std::string* out);
[[nodiscard]] absl::Status GetStringArray(const rapidjson::Value& obj,
                                          const char* name, bool required,
                                          std::vector<std::string>* out);
[[nodiscard]] absl::Status GetUint64(const rapidjson::Value& obj,
                                     const char* name, bool required,
                                     uint64_t* out);
[[nodiscard]] absl::Status GetInt64(const rapidjson::Value& obj,
                                    const char* name, bool required,
                                    int64_t* out);

// Builders for DOM values owned by `doc`'s allocator.
rapidjson::Value JsonString(absl::string_view s, rapidjson::Document& doc);
rapidjson::Value JsonStringArray(const std::vector<std::string>& v,
                                 rapidjson::Document& doc);

// Canonical (RFC 8785) serialisation of a DOM built by this library; values
// built here are always serialisable, so a failure is an Internal error.
[[nodiscard]] absl::StatusOr<std::string> ToCanonical(
    const rapidjson::Value& v);

}  // namespace clover::audit

#endif  // CLOVER_AUDIT_JSON_UTIL_H_
