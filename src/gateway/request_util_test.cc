#include "gateway/request_util.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace clover::gateway {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

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

TEST(RequestUtilTest, FieldListsKeepEmptyItems) {
  Schema s = TestSchema();
  EXPECT_TRUE(SplitList("").empty());
  EXPECT_EQ(SplitList("email,"), (std::vector<std::string>{"email", ""}));
  EXPECT_EQ(SplitList(" , "), (std::vector<std::string>{"", ""}));
  for (const char* csv : {"email,", ",", "email,,name", " ", "email, ,name"}) {
    auto r = ResolveFields(s, SplitList(csv));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << csv;
  }
  EXPECT_EQ(
      std::string(
          ResolveFields(s, {std::string("email\0", 6)}).status().message()),
      "unknown field");
}

TEST(RequestUtilTest, JsonBodiesRefuseDuplicateKeys) {
  rapidjson::Document doc;
  EXPECT_EQ(
      std::string(
          ParseJsonObject(R"({"purpose":"a","purpose":"b"})", &doc).message()),
      "duplicate key 'purpose'");
  EXPECT_FALSE(ParseJsonObject(R"({"l":[{"k":1,"k":2}]})", &doc).ok());
  EXPECT_TRUE(ParseJsonObject(R"({"a":{"k":1},"b":{"k":2}})", &doc).ok());
}

TEST(RequestUtilTest, DeclaredPurposes) {
  Deployment d;
  d.purposes = {"customer_support", "analytics"};
  EXPECT_TRUE(CheckDeclaredPurpose(d, "analytics").ok());
  absl::Status s = CheckDeclaredPurpose(d, "marketing");
  ASSERT_FALSE(s.ok());
  auto r = HttpErrorResponse(s);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(r->body, HasSubstr("\"unknown_purpose\""));
  EXPECT_THAT(r->body, HasSubstr("marketing"));
  // Not an identifier: not echoed.
  auto junk = HttpErrorResponse(CheckDeclaredPurpose(d, "<b>x"));
  ASSERT_TRUE(junk.has_value());
  EXPECT_THAT(junk->body, Not(HasSubstr("<b>")));
  EXPECT_FALSE(HttpErrorResponse(absl::InvalidArgumentError("x")).has_value());
}

TEST(RequestUtilTest, JsonContentType) {
  server::HttpRequest req;
  EXPECT_FALSE(CheckJsonContentType(req).has_value());  // no body
  req.body = "{}";
  auto missing = CheckJsonContentType(req);
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->status, 415);
  EXPECT_THAT(missing->body, HasSubstr("unsupported_media_type"));
  for (const char* ok : {"application/json", "application/json; charset=utf-8",
                         " Application/JSON ;charset=UTF-8"}) {
    req.headers["content-type"] = ok;
    EXPECT_FALSE(CheckJsonContentType(req).has_value()) << ok;
  }
  for (const char* bad :
       {"text/plain", "application/x-www-form-urlencoded", "application/jsonp",
        "application/json, text/plain", "", "multipart/form-data"}) {
    req.headers["content-type"] = bad;
    EXPECT_TRUE(CheckJsonContentType(req).has_value()) << bad;
  }
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
