#include "gateway/request_util.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace clover::gateway {
namespace {

using ::testing::HasSubstr;

Schema TestSchema() {
  Schema s;
  for (const char* n : {"email", "name", "phone"}) {
    FieldSpec f;
    f.name = n;
    f.category = "contact";
    s.fields.push_back(f);
  }
  return s;
}

TEST(RequestUtilTest, PurposeHeader) {
  server::HttpRequest req;
  EXPECT_THAT(std::string(PurposeOf(req).status().message()),
              HasSubstr("X-Clover-Purpose"));
  req.headers["x-clover-purpose"] = "customer_support";
  EXPECT_EQ(*PurposeOf(req), "customer_support");
  req.headers["x-clover-purpose"] = "Customer Support!";
  EXPECT_FALSE(PurposeOf(req).ok());
}

TEST(RequestUtilTest, ResolveFields) {
  Schema s = TestSchema();
  EXPECT_EQ(ResolveFields(s, {})->size(), 3u);
  auto two = ResolveFields(s, SplitList("phone, email"));
  ASSERT_TRUE(two.ok());
  EXPECT_EQ((*two)[0]->name, "phone");
  EXPECT_EQ((*two)[1]->name, "email");
  EXPECT_THAT(std::string(ResolveFields(s, {"shoe"}).status().message()),
              HasSubstr("unknown field 'shoe'"));
  EXPECT_THAT(
      std::string(ResolveFields(s, {"email", "email"}).status().message()),
      HasSubstr("twice"));
  // Client-supplied junk is not echoed.
  EXPECT_EQ(ResolveFields(s, {"<script>"}).status().message(), "unknown field");
}

TEST(RequestUtilTest, JsonBodies) {
  rapidjson::Document doc;
  EXPECT_THAT(std::string(ParseJsonObject("{\"a\":", &doc).message()),
              HasSubstr("byte"));
  EXPECT_FALSE(ParseJsonObject("[1]", &doc).ok());
  // A lone surrogate would otherwise reach the canonical log entry.
  EXPECT_FALSE(ParseJsonObject(R"({"justification":"\udeac"})", &doc).ok());
  ASSERT_TRUE(
      ParseJsonObject(R"({"s":"x","n":1,"l":["a","b"],"m":[1]})", &doc).ok());
  EXPECT_EQ(*StringMember(doc, "s", true), "x");
  EXPECT_EQ(*StringMember(doc, "absent", false), "");
  EXPECT_FALSE(StringMember(doc, "absent", true).ok());
  EXPECT_FALSE(StringMember(doc, "n", true).ok());
  EXPECT_EQ(StringArrayMember(doc, "l", true, 10)->size(), 2u);
  EXPECT_FALSE(StringArrayMember(doc, "l", true, 1).ok());
  EXPECT_FALSE(StringArrayMember(doc, "m", true, 10).ok());
}

TEST(RequestUtilTest, ErrorWithExtraMembers) {
  auto r = ErrorWith(421, "misdirected", "go \"there\"",
                     "\"endpoint\":\"http://x\"");
  EXPECT_EQ(r.status, 421);
  EXPECT_EQ(
      r.body,
      R"({"error":{"code":"misdirected","message":"go \"there\"","endpoint":"http://x"}})");
}

}  // namespace
}  // namespace clover::gateway
