#include "server/request_id.h"

#include <cstdint>
#include <optional>
#include <random>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace clover::server {

namespace {

bool IsLowerHex(absl::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool AllZero(absl::string_view s) {
  return s.find_first_not_of('0') == absl::string_view::npos;
}

// Random hex digits. Identifiers for correlation, not secrets: a per-thread
// generator seeded from the OS.
std::string RandomHex(size_t digits) {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(digits);
  while (true) {
    out.clear();
    while (out.size() < digits) {
      uint64_t bits = engine();
      for (int i = 0; i < 16 && out.size() < digits; ++i, bits >>= 4) {
        out.push_back(kHex[bits & 0xf]);
      }
    }
    if (!AllZero(out)) return out;
  }
}

}  // namespace

bool ValidRequestId(absl::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' &&
        c != '_' && c != ':' && c != '-') {
      return false;
    }
  }
  return true;
}

std::string NewRequestId() { return RandomHex(32); }
std::string NewTraceId() { return RandomHex(32); }
std::string NewSpanId() { return RandomHex(16); }

std::optional<TraceParent> ParseTraceParent(absl::string_view value) {
  // version(2) '-' trace-id(32) '-' parent-id(16) '-' flags(2) = 55
  constexpr size_t kLength = 55;
  if (value.size() < kLength) return std::nullopt;
  absl::string_view version = value.substr(0, 2);
  if (!IsLowerHex(version) || version == "ff") return std::nullopt;
  if (version == "00" ? value.size() != kLength
                      : value.size() > kLength && value[kLength] != '-') {
    return std::nullopt;
  }
  if (value[2] != '-' || value[35] != '-' || value[52] != '-') {
    return std::nullopt;
  }
  TraceParent tp;
  tp.trace_id = std::string(value.substr(3, 32));
  tp.parent_id = std::string(value.substr(36, 16));
  tp.flags = std::string(value.substr(53, 2));
  if (!IsLowerHex(tp.trace_id) || AllZero(tp.trace_id) ||
      !IsLowerHex(tp.parent_id) || AllZero(tp.parent_id) ||
      !IsLowerHex(tp.flags)) {
    return std::nullopt;
  }
  return tp;
}

std::string FormatTraceParent(absl::string_view trace_id,
                              absl::string_view span_id,
                              absl::string_view flags) {
  return absl::StrCat("00-", trace_id, "-", span_id, "-", flags);
}

}  // namespace clover::server
