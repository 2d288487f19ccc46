#include "core/json_parse.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

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

}  // namespace
}  // namespace clover
