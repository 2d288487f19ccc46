#include "server/url.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace clover::server {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

absl::StatusOr<std::string> PercentDecode(absl::string_view in,
                                          bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) {
        return absl::InvalidArgumentError("truncated percent escape");
      }
      int hi = HexValue(in[i + 1]);
      int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0)
        return absl::InvalidArgumentError("invalid percent escape");
      c = static_cast<char>(hi * 16 + lo);
      if (c == '\0')
        return absl::InvalidArgumentError("percent escape decodes to NUL");
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    } else if (c == '\0') {
      return absl::InvalidArgumentError("NUL byte in URL");
    }
    out.push_back(c);
  }
  return out;
}

absl::Status ParseRequestTarget(absl::string_view target, std::string& path,
                                std::string& query) {
  if (target.empty() || target.front() != '/') {
    return absl::InvalidArgumentError(
        "request target must be an absolute path");
  }
  for (char c : target) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '#') {
      return absl::InvalidArgumentError("invalid character in request target");
    }
  }
  size_t q = target.find('?');
  absl::string_view raw_path = target.substr(0, q);
  absl::string_view raw_query =
      q == absl::string_view::npos ? absl::string_view() : target.substr(q + 1);
  // Every query parameter must decode, and none may be given twice: a lookup
  // that skipped a malformed value ("fields=email%00") or took the first of
  // two would let a handler act on something other than what was sent.
  {
    std::vector<std::string> names;
    absl::string_view rest = raw_query;
    while (!rest.empty()) {
      size_t amp = rest.find('&');
      absl::string_view pair = rest.substr(0, amp);
      rest = amp == absl::string_view::npos ? absl::string_view()
                                            : rest.substr(amp + 1);
      if (pair.empty()) continue;
      size_t eq = pair.find('=');
      auto name = PercentDecode(pair.substr(0, eq), /*plus_is_space=*/true);
      if (!name.ok()) return name.status();
      if (eq != absl::string_view::npos) {
        auto value = PercentDecode(pair.substr(eq + 1), /*plus_is_space=*/true);
        if (!value.ok()) return value.status();
      }
      if (std::find(names.begin(), names.end(), *name) != names.end()) {
        return absl::InvalidArgumentError("query parameter given twice");
      }
      // Few parameters are legitimate; a list of thousands is not looked at.
      if (names.size() >= 64) {
        return absl::InvalidArgumentError("too many query parameters");
      }
      names.push_back(*std::move(name));
    }
  }
  query.assign(raw_query.data(), raw_query.size());

  // Segments are checked on the raw form: "%2F" would let a decoded path differ
  // in structure from what the router sees, and "%2E%2E" is as much a traversal
  // as "..".
  size_t start = 1;
  while (start <= raw_path.size()) {
    size_t end = raw_path.find('/', start);
    if (end == absl::string_view::npos) end = raw_path.size();
    absl::string_view seg = raw_path.substr(start, end - start);
    if (seg.find('%') != absl::string_view::npos) {
      auto decoded = PercentDecode(seg, /*plus_is_space=*/false);
      if (!decoded.ok()) return decoded.status();
      if (decoded->find('/') != std::string::npos) {
        return absl::InvalidArgumentError("encoded '/' in request path");
      }
      if (*decoded == "." || *decoded == "..") {
        return absl::InvalidArgumentError("dot segment in request path");
      }
    } else if (seg == "." || seg == "..") {
      return absl::InvalidArgumentError("dot segment in request path");
    }
    start = end + 1;
  }
  auto decoded_path = PercentDecode(raw_path, /*plus_is_space=*/false);
  if (!decoded_path.ok()) return decoded_path.status();
  path = *std::move(decoded_path);
  return absl::OkStatus();
}

bool FindQueryParam(absl::string_view query, absl::string_view name,
                    std::string* value) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    absl::string_view pair = query.substr(0, amp);
    query = amp == absl::string_view::npos ? absl::string_view()
                                           : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    absl::string_view raw_name = pair.substr(0, eq);
    absl::string_view raw_value = eq == absl::string_view::npos
                                      ? absl::string_view()
                                      : pair.substr(eq + 1);
    bool match;
    if (raw_name.find_first_of("%+") == absl::string_view::npos) {
      match = raw_name == name;
    } else {
      auto decoded = PercentDecode(raw_name, /*plus_is_space=*/true);
      match = decoded.ok() && *decoded == name;
    }
    if (!match) continue;
    auto decoded_value = PercentDecode(raw_value, /*plus_is_space=*/true);
    if (!decoded_value.ok()) return false;
    if (value != nullptr) *value = *std::move(decoded_value);
    return true;
  }
  return false;
}

}  // namespace clover::server
