// Reading and building the members of JSON objects (RapidJSON DOM): the
// helpers every reader and writer of Clover's own JSON records shares (the
// auditor, the approvals store and their records). Parsing itself is
// core/json_parse.h; canonical bytes are core/canonical_json.h.
#ifndef CLOVER_CORE_JSON_FIELDS_H_
#define CLOVER_CORE_JSON_FIELDS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rapidjson/document.h"

namespace clover {

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

}  // namespace clover

#endif  // CLOVER_CORE_JSON_FIELDS_H_
