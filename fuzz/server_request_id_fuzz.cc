// Fuzzes the request identifiers a client sends (X-Request-Id, traceparent)
// and the logger's redaction of text: no crash; an accepted traceparent is
// lower-case hex of the right lengths and formats back to a parsable value;
// an accepted request id is only safe characters; a formatted log line (JSON
// or text) is one line whatever its message and fields hold.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "core/logger.h"
#include "server/request_id.h"

namespace {

bool LowerHex(const std::string& s, size_t n) {
  if (s.size() != n) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  if (auto tp = clover::server::ParseTraceParent(input)) {
    if (!LowerHex(tp->trace_id, 32) || !LowerHex(tp->parent_id, 16) ||
        !LowerHex(tp->flags, 2)) {
      __builtin_trap();
    }
    if (!clover::server::ParseTraceParent(clover::server::FormatTraceParent(
            tp->trace_id, tp->parent_id, tp->flags))) {
      __builtin_trap();
    }
  }
  if (clover::server::ValidRequestId(input)) {
    if (input.empty() || input.size() > 128) __builtin_trap();
    for (char c : input) {
      if (c == '"' || c == '\\' || c == '\r' || c == '\n' || c == ' ')
        __builtin_trap();
    }
  }
  // A log line stays one line whatever a message or field holds: no client
  // text can forge another entry.
  for (auto format :
       {clover::logging::Format::kJson, clover::logging::Format::kText}) {
    const std::string line = clover::logging::FormatLine(
        format, 0, clover::logging::Level::kInfo, input, {{"k", input}});
    for (char c : line) {
      if (c == '\n' || c == '\r') __builtin_trap();
    }
    if (format == clover::logging::Format::kJson &&
        (line.front() != '{' || line.back() != '}')) {
      __builtin_trap();
    }
  }
  return 0;
}
