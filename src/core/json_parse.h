// The one way Clover parses JSON it did not write itself (request bodies,
// records, log entries, JWT claims, auditor inputs).
#ifndef CLOVER_CORE_JSON_PARSE_H_
#define CLOVER_CORE_JSON_PARSE_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "rapidjson/document.h"

namespace clover {

// Parses `text` as exactly one JSON value into *doc. Iterative, so no nesting
// depth can exhaust the stack; strict UTF-8, including the strings "\u"
// escapes decode to (RapidJSON 1.1 lets an unpaired low surrogate such as
// "\udeac" through, which would write invalid UTF-8 into canonical log
// entries). Numbers use RapidJSON's default conversion: its full-precision
// mode has undefined behaviour on inputs such as "0e121".
// Errors: InvalidArgument "invalid JSON at byte N: reason", or "invalid JSON:
// a string is not valid UTF-8 (unpaired surrogate escape?)". Never echoes the
// input. Thread-safe (pure function).
[[nodiscard]] absl::Status ParseJson(absl::string_view text,
                                     rapidjson::Document* doc);

// OK when no object inside `value` (at any depth) has a member name twice.
// RapidJSON keeps both members and lookups find the first, so two readers of
// one body could act on different values; request bodies are refused instead.
// Errors: InvalidArgument "duplicate key 'name'" (the name is quoted only when
// it is short and printable ASCII, else "duplicate key"). Walks with an
// explicit stack (any depth).
[[nodiscard]] absl::Status RejectDuplicateKeys(const rapidjson::Value& value);

// True when every string and member name inside `value` is strict UTF-8.
// Walks with an explicit stack (any depth).
[[nodiscard]] bool JsonStringsAreUtf8(const rapidjson::Value& value);

}  // namespace clover

#endif  // CLOVER_CORE_JSON_PARSE_H_
