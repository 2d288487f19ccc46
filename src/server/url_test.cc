#include "server/url.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace clover::server {
namespace {

TEST(PercentDecodeTest, DecodesEscapesAndPlus) {
  EXPECT_EQ(*PercentDecode("a%20b%2Fc", false), "a b/c");
  EXPECT_EQ(*PercentDecode("a+b", true), "a b");
  EXPECT_EQ(*PercentDecode("a+b", false), "a+b");
  EXPECT_EQ(*PercentDecode("%e2%82%AC", false), "\xe2\x82\xac");
}

TEST(PercentDecodeTest, RejectsBadEscapes) {
  EXPECT_FALSE(PercentDecode("%", false).ok());
  EXPECT_FALSE(PercentDecode("%2", false).ok());
  EXPECT_FALSE(PercentDecode("%zz", false).ok());
  EXPECT_FALSE(PercentDecode("a%00b", false).ok());
}

TEST(ParseRequestTargetTest, SplitsPathAndQuery) {
  std::string path, query;
  ASSERT_TRUE(
      ParseRequestTarget("/v1/subjects/u%201?fields=a,b&x", path, query).ok());
  EXPECT_EQ(path, "/v1/subjects/u 1");
  EXPECT_EQ(query, "fields=a,b&x");
  ASSERT_TRUE(ParseRequestTarget("/", path, query).ok());
  EXPECT_EQ(path, "/");
  EXPECT_EQ(query, "");
}

TEST(ParseRequestTargetTest, RejectsDangerousTargets) {
  std::string path, query;
  for (const char* bad :
       {"", "v1/x", "http://host/x", "/a/../b", "/a/./b", "/..", "/a/%2e%2E/b",
        "/a%2Fb", "/a b", "/a\tb", "/a#frag", "/a%zz", "/a%00",
        // A query parameter that does not decode, or is given twice, is not
        // skipped or half-read by a handler: the request is refused.
        "/x?fields=email%00", "/x?fields=%0", "/x?a=1&fields=%zz", "/x?%00=1",
        "/x?fields=a&fields=b", "/x?f=1&g=2&f=3"}) {
    EXPECT_FALSE(ParseRequestTarget(bad, path, query).ok()) << bad;
  }
}

TEST(ParseRequestTargetTest, BoundsTheQuery) {
  std::string path, query;
  EXPECT_TRUE(ParseRequestTarget("/x?a=1&b&&c=%20+", path, query).ok());
  std::string many = "/x?";
  for (int i = 0; i < 65; ++i) absl::StrAppend(&many, "p", i, "=1&");
  EXPECT_FALSE(ParseRequestTarget(many, path, query).ok());
}

TEST(FindQueryParamTest, FindsDecodedValues) {
  std::string v;
  EXPECT_TRUE(FindQueryParam("fields=a%2Cb&state=pending", "fields", &v));
  EXPECT_EQ(v, "a,b");
  EXPECT_TRUE(FindQueryParam("fields=a%2Cb&state=pending", "state", &v));
  EXPECT_EQ(v, "pending");
  EXPECT_TRUE(FindQueryParam("flag&x=1", "flag", &v));
  EXPECT_EQ(v, "");
  EXPECT_TRUE(FindQueryParam("q=a+b", "q", &v));
  EXPECT_EQ(v, "a b");
  EXPECT_TRUE(FindQueryParam("x=1&x=2", "x", &v));
  EXPECT_EQ(v, "1");
  EXPECT_TRUE(FindQueryParam("my%20name=1", "my name", &v));
  EXPECT_FALSE(FindQueryParam("x=1", "y", &v));
  EXPECT_FALSE(FindQueryParam("", "y", &v));
  EXPECT_FALSE(FindQueryParam("x=%zz", "x", &v));
}

}  // namespace
}  // namespace clover::server
