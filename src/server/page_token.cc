#include "server/page_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace clover::server {
namespace {

constexpr char kVersion = 1;
constexpr size_t kTagBytes = 16;
constexpr size_t kHeaderBytes = 1 + 8;  // version, issue time

void AppendU64(uint64_t v, std::string& out) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i)));
}

uint64_t ReadU64(absl::string_view s) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(s[i]);
  return v;
}

absl::Status BadToken() {
  return absl::InvalidArgumentError(
      "query 'page_token': not a valid page token for this list (forged, "
      "expired, from another node or another query); start again without "
      "it");
}

}  // namespace

const PageTokens& PageTokens::ForProcess() {
  static const PageTokens* tokens = [] {
    std::string key(32, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()),
                   static_cast<int>(key.size())) != 1) {
      std::abort();  // no randomness: nothing safe to run on
    }
    return new PageTokens(std::move(key));
  }();
  return *tokens;
}

PageTokens::PageTokens(std::string key) : key_(std::move(key)) {}

std::string PageTokens::Tag(absl::string_view list, absl::string_view filter,
                            absl::string_view payload) const {
  // Length-prefixed, so no (list, filter, payload) split is ambiguous.
  std::string data;
  data.reserve(24 + list.size() + filter.size() + payload.size());
  AppendU64(list.size(), data);
  data.append(list.data(), list.size());
  AppendU64(filter.size(), data);
  data.append(filter.data(), filter.size());
  data.append(payload.data(), payload.size());
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac,
       &len);
  return std::string(reinterpret_cast<const char*>(mac), kTagBytes);
}

std::string PageTokens::Issue(absl::string_view list, absl::string_view filter,
                              absl::string_view cursor, absl::Time now) const {
  std::string payload;
  payload.push_back(kVersion);
  AppendU64(static_cast<uint64_t>(absl::ToUnixSeconds(now)), payload);
  payload.append(cursor.data(), cursor.size());
  std::string raw = payload + Tag(list, filter, payload);
  return absl::WebSafeBase64Escape(raw);
}

absl::StatusOr<std::string> PageTokens::Open(absl::string_view list,
                                             absl::string_view filter,
                                             absl::string_view token,
                                             absl::Time now) const {
  if (token.empty() || token.size() > kMaxPageTokenBytes) return BadToken();
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw)) return BadToken();
  // One spelling per token: no padding, no stray bits accepted.
  if (absl::WebSafeBase64Escape(raw) != token) return BadToken();
  if (raw.size() < kHeaderBytes + kTagBytes) return BadToken();
  absl::string_view all(raw);
  absl::string_view payload = all.substr(0, raw.size() - kTagBytes);
  absl::string_view tag = all.substr(raw.size() - kTagBytes);
  const std::string want = Tag(list, filter, payload);
  if (CRYPTO_memcmp(want.data(), tag.data(), kTagBytes) != 0) {
    return BadToken();
  }
  if (payload[0] != kVersion) return BadToken();
  const int64_t issued = static_cast<int64_t>(ReadU64(payload.substr(1)));
  const int64_t age = absl::ToUnixSeconds(now) - issued;
  // A token from the future (a clock stepped back) is as unusable as an old
  // one.
  if (age < -60 || age > absl::ToInt64Seconds(kPageTokenLifetime)) {
    return BadToken();
  }
  return std::string(payload.substr(kHeaderBytes));
}

absl::StatusOr<PageRequest> ParsePageRequest(
    const HttpRequest& req, absl::string_view list, absl::string_view filter,
    size_t default_limit, size_t max_limit, const PageTokens& tokens) {
  PageRequest page;
  page.limit = default_limit;
  if (req.HasQueryParam("limit")) {
    const std::string text = req.QueryParam("limit");
    uint64_t limit = 0;
    if (text.empty() || text.size() > 9 ||
        text.find_first_not_of("0123456789") != std::string::npos ||
        !absl::SimpleAtoi(text, &limit) || limit < 1 || limit > max_limit) {
      return absl::InvalidArgumentError(absl::StrCat(
          "query 'limit': must be an integer from 1 to ", max_limit));
    }
    page.limit = static_cast<size_t>(limit);
  }
  // An empty page_token is the first page (a client building its URL the
  // same way for every page).
  if (const std::string token = req.QueryParam("page_token"); !token.empty()) {
    auto cursor = tokens.Open(list, filter, token);
    if (!cursor.ok()) return cursor.status();
    page.after = *std::move(cursor);
  }
  return page;
}

std::string AscendingKey(uint64_t v) {
  std::string out;
  AppendU64(v, out);
  return out;
}

std::string DescendingKey(int64_t v) {
  // Flip the sign bit (signed order to unsigned), then invert.
  return AscendingKey(~(static_cast<uint64_t>(v) ^ (uint64_t{1} << 63)));
}

std::string JoinCursor(const std::vector<std::string>& fields) {
  std::string out;
  for (const std::string& f : fields) {
    AppendU64(f.size(), out);
    out.append(f);
  }
  return out;
}

std::optional<std::vector<std::string>> SplitCursor(absl::string_view cursor,
                                                    size_t n) {
  std::vector<std::string> out;
  while (!cursor.empty()) {
    if (cursor.size() < 8 || out.size() == n) return std::nullopt;
    const uint64_t len = ReadU64(cursor);
    cursor.remove_prefix(8);
    if (len > cursor.size()) return std::nullopt;
    out.emplace_back(cursor.substr(0, len));
    cursor.remove_prefix(len);
  }
  if (out.size() != n) return std::nullopt;
  return out;
}

void AddNextPageToken(std::string& json_object, absl::string_view token) {
  if (token.empty() || json_object.size() < 2 || json_object.back() != '}') {
    return;
  }
  json_object.pop_back();
  if (json_object.back() != '{') json_object.push_back(',');
  // base64url: nothing to escape.
  absl::StrAppend(&json_object, "\"next_page_token\":\"", token, "\"}");
}

}  // namespace clover::server
