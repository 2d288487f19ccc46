#include "audit/json_util.h"

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "core/canonical_json.h"
#include "core/json_parse.h"
#include "rapidjson/error/en.h"

namespace clover::audit {

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
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

}  // namespace clover::audit
