#include "vault/generalize.h"

#include <arpa/inet.h>

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace clover::vault {

absl::StatusOr<std::string> GeneralizeIp(absl::string_view ip) {
  std::string s(ip.substr(0, 64));
  unsigned char buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) {
    return absl::StrCat(buf[0], ".", buf[1], ".", buf[2], ".0/24");
  }
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    for (int i = 6; i < 16; ++i) buf[i] = 0;
    char text[INET6_ADDRSTRLEN];
    if (inet_ntop(AF_INET6, buf, text, sizeof(text)) == nullptr) {
      return absl::InternalError("inet_ntop failed");
    }
    return absl::StrCat(text, "/48");
  }
  return absl::InvalidArgumentError("not an IP address");
}

absl::StatusOr<std::string> GeneralizeDate(absl::string_view date) {
  if (date.size() != 10 || date[4] != '-')
    return absl::InvalidArgumentError("not a date");
  for (int i = 0; i < 4; ++i) {
    if (date[i] < '0' || date[i] > '9')
      return absl::InvalidArgumentError("not a date");
  }
  return std::string(date.substr(0, 4));
}

absl::StatusOr<std::string> GeneralizeInteger(absl::string_view integer) {
  int64_t v = 0;
  if (!absl::SimpleAtoi(absl::string_view(integer.data(), integer.size()),
                        &v)) {
    return absl::InvalidArgumentError("not an integer");
  }
  if (v < 0) return std::string("<0");
  if (v >= 100) return std::string("100+");
  int64_t lo = v / 10 * 10;
  return absl::StrCat(lo, "-", lo + 9);
}

absl::StatusOr<std::string> GeneralizeEmail(absl::string_view email) {
  size_t at = email.rfind('@');
  if (at == absl::string_view::npos || at + 1 >= email.size()) {
    return absl::InvalidArgumentError("not an email address");
  }
  std::string domain(email.substr(at + 1));
  absl::AsciiStrToLower(&domain);
  return absl::StrCat("*@", domain);
}

}  // namespace clover::vault
