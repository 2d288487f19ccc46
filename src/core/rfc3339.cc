#include "core/rfc3339.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"

namespace clover {

std::string FormatRfc3339Millis(absl::Time t) {
  if (t == absl::InfiniteFuture() || t == absl::InfinitePast()) {
    return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
  }
  // absl::FormatTime costs about a microsecond; every decision is stamped,
  // and consecutive stamps share their second. So the "YYYY-MM-DDTHH:MM:SS"
  // part is formatted once per second per thread.
  const int64_t millis = absl::ToUnixMillis(t);  // rounds toward -inf
  int64_t second = millis / 1000;
  int64_t milli = millis % 1000;
  if (milli < 0) {
    milli += 1000;
    second -= 1;
  }
  thread_local int64_t cached_second = 0;
  thread_local std::string cached_prefix;
  if (cached_prefix.empty() || cached_second != second) {
    cached_prefix =
        absl::FormatTime("%Y-%m-%dT%H:%M:%S", absl::FromUnixSeconds(second),
                         absl::UTCTimeZone());
    cached_second = second;
  }
  std::string out;
  out.reserve(cached_prefix.size() + 5);
  out.append(cached_prefix);
  out.push_back('.');
  out.push_back(static_cast<char>('0' + milli / 100));
  out.push_back(static_cast<char>('0' + milli / 10 % 10));
  out.push_back(static_cast<char>('0' + milli % 10));
  out.push_back('Z');
  return out;
}

namespace {

// "YYYY-MM-DDTHH:MM:SS[.f...]Z", the form the gateway writes, without
// absl::ParseTime's general (and much slower) format machinery.
bool FastUtc(absl::string_view s, absl::Time* out) {
  if (s.size() < 20 || s.back() != 'Z' || s[4] != '-' || s[7] != '-' ||
      s[10] != 'T' || s[13] != ':' || s[16] != ':') {
    return false;
  }
  auto num = [&](size_t pos, size_t len, int* v) {
    int r = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      r = r * 10 + (s[i] - '0');
    }
    *v = r;
    return true;
  };
  int y, mo, d, h, mi, se;
  if (!num(0, 4, &y) || !num(5, 2, &mo) || !num(8, 2, &d) || !num(11, 2, &h) ||
      !num(14, 2, &mi) || !num(17, 2, &se)) {
    return false;
  }
  int64_t nanos = 0;
  if (s.size() > 20) {
    if (s[19] != '.' || s.size() == 21 || s.size() > 30) return false;
    int64_t scale = 100000000;
    for (size_t i = 20; i + 1 < s.size(); ++i, scale /= 10) {
      if (s[i] < '0' || s[i] > '9') return false;
      nanos += (s[i] - '0') * scale;
    }
  }
  const absl::CivilSecond cs(y, mo, d, h, mi, se);
  // CivilSecond normalises out-of-range fields; a valid time survives
  // unchanged.
  if (cs.year() != y || cs.month() != mo || cs.day() != d || cs.hour() != h ||
      cs.minute() != mi || cs.second() != se) {
    return false;
  }
  *out = absl::FromCivil(cs, absl::UTCTimeZone()) + absl::Nanoseconds(nanos);
  return true;
}

}  // namespace

absl::StatusOr<absl::Time> ParseRfc3339(absl::string_view text) {
  absl::Time t;
  if (FastUtc(text, &t)) return t;
  std::string err;
  if (!absl::ParseTime("%Y-%m-%dT%H:%M:%E*S%Ez", text, &t, &err) &&
      !absl::ParseTime(absl::RFC3339_full, text, &t, &err)) {
    return absl::InvalidArgumentError(
        absl::StrCat("not an RFC 3339 time: '", text.substr(0, 40),
                     text.size() > 40 ? "...'" : "'"));
  }
  return t;
}

}  // namespace clover
