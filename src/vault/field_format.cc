#include "vault/field_format.h"

#include <arpa/inet.h>

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/countries.h"
#include "core/utf8.h"

namespace clover::vault {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

absl::Status Bad(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("field '", std::string(field), "': ", std::string(what)));
}

bool IsAtext(char c) {
  if (IsAlpha(c) || IsDigit(c)) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '/':
    case '=':
    case '?':
    case '^':
    case '_':
    case '`':
    case '{':
    case '|':
    case '}':
    case '~':
      return true;
    default:
      return false;
  }
}

bool ValidEmail(absl::string_view v) {
  if (v.size() > 254) return false;
  size_t at = v.rfind('@');
  if (at == absl::string_view::npos || at == 0 || at > 64) return false;
  absl::string_view local = v.substr(0, at), domain = v.substr(at + 1);
  if (local.front() == '.' || local.back() == '.') return false;
  for (size_t i = 0; i < local.size(); ++i) {
    if (local[i] == '.') {
      if (local[i - 1] == '.') return false;
    } else if (!IsAtext(local[i])) {
      return false;
    }
  }
  if (domain.empty() || domain.size() > 253) return false;
  size_t labels = 0, start = 0;
  absl::string_view last;
  while (start <= domain.size()) {
    size_t dot = domain.find('.', start);
    if (dot == absl::string_view::npos) dot = domain.size();
    absl::string_view label = domain.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' ||
        label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!IsAlpha(c) && !IsDigit(c) && c != '-') return false;
    }
    ++labels;
    last = label;
    start = dot + 1;
  }
  if (labels < 2 || last.size() < 2) return false;
  for (char c : last) {
    if (!IsAlpha(c)) return false;
  }
  return true;
}

bool ValidE164(absl::string_view v) {
  if (v.size() < 8 || v.size() > 16 || v[0] != '+' || v[1] == '0') return false;
  for (size_t i = 1; i < v.size(); ++i) {
    if (!IsDigit(v[i])) return false;
  }
  return true;
}

bool ValidIp(absl::string_view v) {
  if (v.empty() || v.size() > 45) return false;
  std::string s(v);
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

bool ValidDate(absl::string_view v) {
  if (v.size() != 10 || v[4] != '-' || v[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!IsDigit(v[i])) return false;
  }
  int y = (v[0] - '0') * 1000 + (v[1] - '0') * 100 + (v[2] - '0') * 10 +
          (v[3] - '0');
  int m = (v[5] - '0') * 10 + (v[6] - '0');
  int d = (v[8] - '0') * 10 + (v[9] - '0');
  if (y < 1 || m < 1 || m > 12 || d < 1) return false;
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int max = kDays[m - 1];
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (m == 2 && leap) max = 29;
  return d <= max;
}

bool ValidInteger(absl::string_view v) {
  absl::string_view digits = v;
  bool negative = false;
  if (!digits.empty() && digits[0] == '-') {
    negative = true;
    digits.remove_prefix(1);
  }
  if (digits.empty() || digits.size() > 19) return false;
  if (digits[0] == '0' && (digits.size() > 1 || negative)) return false;
  uint64_t acc = 0;
  for (char c : digits) {
    if (!IsDigit(c)) return false;
    acc = acc * 10 + static_cast<uint64_t>(c - '0');
  }
  uint64_t limit = negative ? (uint64_t{1} << 63) : (uint64_t{1} << 63) - 1;
  return acc <= limit;
}

}  // namespace

absl::Status ValidateFieldValue(absl::string_view field, FieldFormat format,
                                absl::string_view value) {
  switch (format) {
    case FieldFormat::kText:
    case FieldFormat::kTextList:
      if (value.empty()) return Bad(field, "text must not be empty");
      if (value.size() > kMaxTextBytes) {
        return Bad(field,
                   absl::StrCat("text longer than ", kMaxTextBytes, " bytes"));
      }
      if (!IsValidUtf8(absl::string_view(value.data(), value.size())))
        return Bad(field, "text is not valid UTF-8");
      for (char c : value) {
        auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && c != '\t' && c != '\n' && c != '\r') || u == 0x7f) {
          return Bad(field, "text contains a control character");
        }
      }
      return absl::OkStatus();
    case FieldFormat::kEmail:
      return ValidEmail(value) ? absl::OkStatus()
                               : Bad(field, "not a valid email address");
    case FieldFormat::kE164:
      return ValidE164(value)
                 ? absl::OkStatus()
                 : Bad(field,
                       "not an E.164 phone number (+ and 7 to 15 digits)");
    case FieldFormat::kIp:
      return ValidIp(value) ? absl::OkStatus()
                            : Bad(field, "not an IPv4 or IPv6 address");
    case FieldFormat::kDate:
      return ValidDate(value) ? absl::OkStatus()
                              : Bad(field, "not an ISO date (YYYY-MM-DD)");
    case FieldFormat::kCountry:
      return IsIsoCountryCode(absl::string_view(value.data(), value.size()))
                 ? absl::OkStatus()
                 : Bad(field, "not an ISO 3166-1 alpha-2 country code");
    case FieldFormat::kInteger:
      return ValidInteger(value) ? absl::OkStatus()
                                 : Bad(field, "not a 64-bit integer");
    case FieldFormat::kDigits:
      if (value.empty() || value.size() > kMaxDigits) {
        return Bad(field, absl::StrCat("digits must be 1 to ", kMaxDigits,
                                       " characters"));
      }
      for (char c : value) {
        if (!IsDigit(c)) return Bad(field, "not a string of digits");
      }
      return absl::OkStatus();
  }
  return Bad(field, "unknown format");
}

}  // namespace clover::vault
