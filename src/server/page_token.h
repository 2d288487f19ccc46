// Paging of list endpoints (docs/api.md, "Paging"): `?limit=` and
// `?page_token=` in, `next_page_token` out.
//
// A page token carries a cursor: the sort key of the last item of the page
// before, never an offset, so items added while a client walks the list do
// not shift it (each item present when the walk starts is returned exactly
// once; an item added later at most once). Tokens are opaque to clients and
// tamper-evident: base64url of (version, issue time, cursor) followed by an
// HMAC-SHA-256 tag (128 bits) under a key drawn at random when the process
// starts, over the list's name and the request's filters as well. So a
// token forged, altered, issued by another process (or before a restart),
// for another list or other filters, or older than kPageTokenLifetime, is
// refused with InvalidArgument (400 invalid_argument), never a 500.
//
// Thread-safety: PageTokens is immutable after construction.
#ifndef CLOVER_SERVER_PAGE_TOKEN_H_
#define CLOVER_SERVER_PAGE_TOKEN_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/http.h"

namespace clover::server {

// How long a token stays usable after it was issued.
inline constexpr absl::Duration kPageTokenLifetime = absl::Hours(24);
// The longest token accepted (a cursor beyond it is not ours).
inline constexpr size_t kMaxPageTokenBytes = 2048;
// Every list's default and largest page.
inline constexpr size_t kDefaultPageLimit = 100;
inline constexpr size_t kMaxPageLimit = 1000;

class PageTokens {
 public:
  // A random key, drawn once per process.
  static const PageTokens& ForProcess();
  // A fixed key (tests, the fuzzer): at least 16 bytes.
  explicit PageTokens(std::string key);

  // The token that resumes list `list` (with filters `filter`, any text that
  // differs between filter choices) after `cursor`.
  [[nodiscard]] std::string Issue(absl::string_view list,
                                  absl::string_view filter,
                                  absl::string_view cursor,
                                  absl::Time now = absl::Now()) const;
  // The cursor of a token Issue made for the same list and filter within
  // kPageTokenLifetime before `now`. Errors: InvalidArgument (malformed,
  // forged, another list or filter, expired), never saying which.
  [[nodiscard]] absl::StatusOr<std::string> Open(
      absl::string_view list, absl::string_view filter, absl::string_view token,
      absl::Time now = absl::Now()) const;

 private:
  std::string Tag(absl::string_view list, absl::string_view filter,
                  absl::string_view payload) const;
  std::string key_;
};

// One request's page: at most `limit` items after `after` (from the start
// when nullopt).
struct PageRequest {
  size_t limit = kDefaultPageLimit;
  std::optional<std::string> after;
};

// Reads `limit` (1..max_limit, default `default_limit`) and `page_token`
// (opened with `tokens` for `list` and `filter`) from `req`. Errors:
// InvalidArgument naming the parameter.
[[nodiscard]] absl::StatusOr<PageRequest> ParsePageRequest(
    const HttpRequest& req, absl::string_view list, absl::string_view filter,
    size_t default_limit = kDefaultPageLimit, size_t max_limit = kMaxPageLimit,
    const PageTokens& tokens = PageTokens::ForProcess());

// Cursor encodings that sort bytewise as their values do: AscendingKey(a) <
// AscendingKey(b) iff a < b; DescendingKey reverses the order (for lists
// newest first).
[[nodiscard]] std::string AscendingKey(uint64_t v);
[[nodiscard]] std::string DescendingKey(int64_t v);
// Several fields in one cursor (each length-prefixed) and back. SplitCursor:
// nullopt unless `cursor` is exactly such a join of `n` fields.
[[nodiscard]] std::string JoinCursor(const std::vector<std::string>& fields);
[[nodiscard]] std::optional<std::vector<std::string>> SplitCursor(
    absl::string_view cursor, size_t n);

// `json_object` ("{...}") with `"next_page_token":"<token>"` added as its
// last member when `token` is non-empty.
void AddNextPageToken(std::string& json_object, absl::string_view token);

// Pages a list sorted by ascending `key(item)` (keys unique): the indices
// [begin, end) of `page` and the cursor to resume after it (empty on the last
// page).
struct PageSlice {
  size_t begin = 0;
  size_t end = 0;
  std::string next_cursor;
};
template <typename T, typename KeyFn>
PageSlice SlicePage(const std::vector<T>& items, KeyFn key,
                    const PageRequest& page) {
  PageSlice s;
  if (page.after.has_value()) {
    while (s.begin < items.size() && !(key(items[s.begin]) > *page.after))
      ++s.begin;
  }
  s.end = s.begin + std::min(page.limit, items.size() - s.begin);
  if (s.end < items.size() && s.end > s.begin) {
    s.next_cursor = key(items[s.end - 1]);
  }
  return s;
}

}  // namespace clover::server

#endif  // CLOVER_SERVER_PAGE_TOKEN_H_
