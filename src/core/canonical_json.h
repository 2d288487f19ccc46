// RFC 8785 JSON Canonicalization Scheme (JCS): the byte form of every log
// entry.
#ifndef CLOVER_CORE_CANONICAL_JSON_H_
#define CLOVER_CORE_CANONICAL_JSON_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rapidjson/document.h"

namespace clover {

// Serializes `value` canonically: object members sorted by their UTF-16 code
// units, no whitespace, numbers in the ECMAScript shortest form, minimal string
// escaping. Errors: InvalidArgument for NaN/Infinity, duplicate object keys or
// invalid UTF-8. Thread-safe (pure function).
[[nodiscard]] absl::StatusOr<std::string> CanonicalJson(
    const rapidjson::Value& value);

// Parses `json` (UTF-8, validated) and returns its canonical form.
// Errors: InvalidArgument naming the byte offset of a parse error.
[[nodiscard]] absl::StatusOr<std::string> CanonicalizeJson(
    absl::string_view json);

// RFC 8785 member order: true if key `a` sorts before key `b` by UTF-16 code
// units. For writers that emit members in order without building a DOM.
// Thread-safe (pure function).
bool JsonKeyLess(absl::string_view a, absl::string_view b);

// Appends `s` to `out` as a JSON string literal with RFC 8785 escaping.
void AppendJsonString(absl::string_view s, std::string* out);

}  // namespace clover

#endif  // CLOVER_CORE_CANONICAL_JSON_H_
