// The times of log entries: RFC 3339 UTC with milliseconds, as the gateway
// writes them and every reader of entries parses them.
#ifndef CLOVER_CORE_RFC3339_H_
#define CLOVER_CORE_RFC3339_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace clover {

// RFC 3339 UTC with milliseconds, e.g. "2026-11-28T23:50:00.123Z".
// Thread-safe (a per-thread cache of the formatted second).
std::string FormatRfc3339Millis(absl::Time t);

// Accepts RFC 3339 with an offset or "Z" and optional fractional seconds.
// Errors: InvalidArgument quoting at most 40 characters of the input.
[[nodiscard]] absl::StatusOr<absl::Time> ParseRfc3339(absl::string_view text);

}  // namespace clover

#endif  // CLOVER_CORE_RFC3339_H_
