#include "server/page_token.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/http.h"

namespace clover::server {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1800000000);

TEST(PageTokensTest, RoundTripsOnlyForTheSameListAndFilter) {
  PageTokens t(std::string(32, 'k'));
  const std::string token =
      t.Issue("incidents", "status=open", "cur\0sor", kNow);
  auto cursor = t.Open("incidents", "status=open", token, kNow);
  ASSERT_TRUE(cursor.ok()) << cursor.status();
  EXPECT_EQ(*cursor, std::string("cur\0sor"));
  EXPECT_EQ(
      token.find_first_not_of(
          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
      std::string::npos);
  // Another list, other filters, another process's key: refused.
  EXPECT_FALSE(t.Open("approvals", "status=open", token, kNow).ok());
  EXPECT_FALSE(t.Open("incidents", "status=resolved", token, kNow).ok());
  EXPECT_FALSE(PageTokens(std::string(32, 'x'))
                   .Open("incidents", "status=open", token, kNow)
                   .ok());
}

TEST(PageTokensTest, RefusesForgedAlteredAndExpiredTokens) {
  PageTokens t(std::string(32, 'k'));
  const std::string token = t.Issue("flows", "", "abc", kNow);
  auto code = [&](absl::string_view tok, absl::Time now = kNow) {
    return t.Open("flows", "", tok, now).status().code();
  };
  EXPECT_EQ(code(token), absl::StatusCode::kOk);
  // Every single-character change is caught.
  for (size_t i = 0; i < token.size(); ++i) {
    std::string bad = token;
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    EXPECT_EQ(code(bad), absl::StatusCode::kInvalidArgument) << i;
  }
  // A cursor of the attacker's choosing with a made-up tag.
  std::string raw(1, '\1');
  raw.append(8, '\0');
  raw.append("zzz");
  raw.append(16, '\0');
  EXPECT_EQ(code(absl::WebSafeBase64Escape(raw)),
            absl::StatusCode::kInvalidArgument);
  for (absl::string_view junk : {"", "!", "====", "AAAA", "a b", "%00"}) {
    EXPECT_EQ(code(junk), absl::StatusCode::kInvalidArgument) << junk;
  }
  EXPECT_EQ(code(token + "="), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(std::string(kMaxPageTokenBytes + 1, 'A')),
            absl::StatusCode::kInvalidArgument);
  // Expired after its lifetime.
  EXPECT_EQ(code(token, kNow + kPageTokenLifetime - absl::Seconds(1)),
            absl::StatusCode::kOk);
  EXPECT_EQ(code(token, kNow + kPageTokenLifetime + absl::Seconds(1)),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(token, kNow - absl::Hours(1)),
            absl::StatusCode::kInvalidArgument);
}

TEST(PageTokensTest, ParsesLimitAndToken) {
  auto parse = [](std::string query) {
    HttpRequest req;
    req.query = std::move(query);
    return ParsePageRequest(req, "l", "", 10, 50);
  };
  auto page = parse("");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->limit, 10u);
  EXPECT_FALSE(page->after.has_value());
  page = parse("limit=50&page_token=");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->limit, 50u);
  EXPECT_FALSE(page->after.has_value());
  for (const char* bad :
       {"limit=0", "limit=51", "limit=-1", "limit=x", "limit=", "limit=+5",
        "limit=99999999999999999999", "page_token=abc"}) {
    auto r = parse(bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  const std::string token = PageTokens::ForProcess().Issue("l", "", "7");
  page = parse(absl::StrCat("page_token=", token));
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->after, "7");
}

TEST(PageTokensTest, KeysSortAsTheirValues) {
  EXPECT_LT(AscendingKey(1), AscendingKey(2));
  EXPECT_LT(AscendingKey(255), AscendingKey(256));
  EXPECT_GT(DescendingKey(1), DescendingKey(2));
  EXPECT_GT(DescendingKey(-5), DescendingKey(3));
  EXPECT_GT(DescendingKey(INT64_MIN), DescendingKey(INT64_MAX));
  const std::string c = JoinCursor({"a", "", std::string("b\0c", 3)});
  auto back = SplitCursor(c, 3);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ((*back)[2], std::string("b\0c", 3));
  EXPECT_FALSE(SplitCursor(c, 2).has_value());
  EXPECT_FALSE(SplitCursor(c.substr(0, c.size() - 1), 3).has_value());
  EXPECT_FALSE(SplitCursor(std::string(8, '\xff'), 1).has_value());
}

TEST(PageTokensTest, SlicesEveryItemExactlyOnceWhileItemsAreAdded) {
  std::vector<uint64_t> items;
  for (uint64_t i = 0; i < 25; ++i) items.push_back(i * 2);
  auto key = [](uint64_t v) { return AscendingKey(v); };
  PageRequest page;
  page.limit = 7;
  std::multiset<uint64_t> seen;
  int pages = 0;
  while (true) {
    PageSlice s = SlicePage(items, key, page);
    for (size_t i = s.begin; i < s.end; ++i) seen.insert(items[i]);
    ++pages;
    // Items appended (higher keys) and inserted before the cursor (lower
    // keys) while the walk goes on.
    items.push_back(1000 + pages);
    items.insert(items.begin(), 0);  // a duplicate key is never returned twice
    items.erase(items.begin());
    if (s.next_cursor.empty()) break;
    page.after = s.next_cursor;
    ASSERT_LT(pages, 100);
  }
  for (uint64_t i = 0; i < 25; ++i) EXPECT_EQ(seen.count(i * 2), 1u) << i;
  for (uint64_t v : seen) EXPECT_EQ(seen.count(v), 1u);
}

TEST(PageTokensTest, AddsNextPageTokenAsLastMember) {
  std::string a = "{\"x\":[]}";
  AddNextPageToken(a, "tok");
  EXPECT_EQ(a, "{\"x\":[],\"next_page_token\":\"tok\"}");
  std::string b = "{}";
  AddNextPageToken(b, "tok");
  EXPECT_EQ(b, "{\"next_page_token\":\"tok\"}");
  std::string c = "{\"x\":1}";
  AddNextPageToken(c, "");
  EXPECT_EQ(c, "{\"x\":1}");
}

}  // namespace
}  // namespace clover::server
