#include "core/json_parse.h"

#include <string>

#include "core/json_fields.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"

namespace clover {
namespace {

using ::testing::HasSubstr;

TEST(JsonParseTest, ParsesOneValue) {
  rapidjson::Document doc;
  ASSERT_TRUE(
      ParseJson(R"({"a":[1,"\u00e9",{"\ud83d\ude00":true}]})", &doc).ok());
  ASSERT_TRUE(doc.IsObject());
  EXPECT_EQ(std::string(doc["a"][1].GetString()), "\xc3\xa9");
}

TEST(JsonParseTest, NamesTheByteOfASyntaxError) {
  rapidjson::Document doc;
  absl::Status s = ParseJson("{\"a\": }", &doc);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("at byte 6"));
  EXPECT_FALSE(ParseJson("{} {}", &doc).ok());             // trailing value
  EXPECT_FALSE(ParseJson("\"\xed\xba\xac\"", &doc).ok());  // raw CESU-8
}

TEST(JsonParseTest, RefusesUnpairedSurrogateEscapes) {
  rapidjson::Document doc;
  // Found by fuzz_canonical_json: RapidJSON 1.1 accepts a lone low surrogate.
  for (const char* text : {R"("\udeac")", R"({"\udc00":1})", R"(["a\udfffb"])",
                           R"("\ud800")", R"("\ud800x")"}) {
    absl::Status s = ParseJson(text, &doc);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << text;
  }
}

TEST(JsonParseTest, DeepNestingIsNotAStackOverflow) {
  rapidjson::Document doc;
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  ASSERT_TRUE(ParseJson(deep, &doc).ok());
  EXPECT_TRUE(JsonStringsAreUtf8(doc));
}

TEST(JsonParseTest, RejectDuplicateKeysAtAnyDepth) {
  rapidjson::Document doc;
  ASSERT_TRUE(
      ParseJson(R"({"a":1,"b":{"a":2},"c":[{"a":1,"b":2}]})", &doc).ok());
  EXPECT_TRUE(RejectDuplicateKeys(doc).ok());
  struct Case {
    const char* text;
    const char* message;
  };
  for (const Case& c : {
           Case{R"({"purpose":"a","purpose":"b"})", "duplicate key 'purpose'"},
           Case{R"({"x":{"k":1,"k":1}})", "duplicate key 'k'"},
           Case{R"([[{"z":1,"y":2,"z":3}]])", "duplicate key 'z'"},
           // Names that are not short printable ASCII are not echoed.
           Case{R"({"<\"x":1,"<\"x":2})", "duplicate key"},
           Case{R"({"":1,"":2})", "duplicate key"},
       }) {
    ASSERT_TRUE(ParseJson(c.text, &doc).ok()) << c.text;
    absl::Status s = RejectDuplicateKeys(doc);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_EQ(s.message(), c.message) << c.text;
  }
  // Any depth, without recursion.
  const std::string deep =
      std::string(100000, '[') + R"({"a":1,"a":2})" + std::string(100000, ']');
  ASSERT_TRUE(ParseJson(deep, &doc).ok());
  EXPECT_FALSE(RejectDuplicateKeys(doc).ok());
}

TEST(JsonFieldsTest, ObjectsWithDuplicateKeysAreRefusedAtAnyDepth) {
  rapidjson::Document d;
  EXPECT_TRUE(ParseJsonObject(R"({"by":"a","note":{"x":1}})", d, "body").ok());
  for (const char* body :
       {R"({"by":"a","by":"b"})", R"({"note":{"x":1,"x":2}})",
        R"({"list":[{"k":1,"k":1}]})"}) {
    absl::Status s = ParseJsonObject(body, d, "body");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << body;
    EXPECT_NE(s.message().find("duplicate key"), absl::string_view::npos)
        << s.message();
  }
}

}  // namespace
}  // namespace clover
