// Request and trace identifiers of the HTTP transport: `X-Request-Id` and the
// W3C Trace Context `traceparent` header
// (https://www.w3.org/TR/trace-context/). A client's values are used only when
// well-formed; anything else is replaced by a generated value, never echoed,
// so a client cannot put arbitrary text into responses or the access log.
#ifndef CLOVER_SERVER_REQUEST_ID_H_
#define CLOVER_SERVER_REQUEST_ID_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace clover::server {

// A usable X-Request-Id: 1 to 128 characters of [A-Za-z0-9._:-].
bool ValidRequestId(absl::string_view id);

// A new request id: 32 lower-case hex digits (128 random bits).
std::string NewRequestId();

struct TraceParent {
  std::string trace_id;   // 32 lower-case hex digits, not all zero
  std::string parent_id;  // 16 lower-case hex digits, not all zero
  std::string flags;      // 2 lower-case hex digits
};

// Parses a traceparent value: version "00" exactly
// "00-<trace-id>-<parent-id>-<flags>", or a later version (not "ff") with at
// least those fields, as the specification asks of a version-00 parser.
// nullopt for anything else.
std::optional<TraceParent> ParseTraceParent(absl::string_view value);

// 32 or 16 random lower-case hex digits, not all zero.
std::string NewTraceId();
std::string NewSpanId();

// "00-<trace_id>-<span_id>-<flags>".
std::string FormatTraceParent(absl::string_view trace_id,
                              absl::string_view span_id,
                              absl::string_view flags);

}  // namespace clover::server

#endif  // CLOVER_SERVER_REQUEST_ID_H_
