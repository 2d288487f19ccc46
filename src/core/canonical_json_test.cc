#include "core/canonical_json.h"

#include <random>

#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"

namespace clover {
namespace {

std::string Canon(absl::string_view json) {
  auto out = CanonicalizeJson(json);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : "";
}

TEST(CanonicalJsonTest, SortsKeysAndStripsWhitespace) {
  EXPECT_EQ(
      Canon(R"({ "b": 1, "a": [true, false, null], "c": {"z": "x", "y": 2} })"),
      R"({"a":[true,false,null],"b":1,"c":{"y":2,"z":"x"}})");
}

TEST(CanonicalJsonTest, SortsByUtf16CodeUnits) {
  // RFC 8785 3.2.3: U+FB33 sorts after U+1F600, whose UTF-16 starts with
  // 0xD83D.
  EXPECT_EQ(Canon("{\"\xef\xac\xb3\":1,\"\xf0\x9f\x98\x80\":2,\"a\":3}"),
            "{\"a\":3,\"\xf0\x9f\x98\x80\":2,\"\xef\xac\xb3\":1}");
}

TEST(CanonicalJsonTest, NumbersFollowEcmaScript) {
  // Examples from RFC 8785 Appendix B.
  EXPECT_EQ(
      Canon("[0, -0, 1e21, 1e20, 1e-7, 0.000001, 123456789012345680000, 4.5, "
            "-1.5e-10, 333333333.33333329, 9007199254740992]"),
      "[0,0,1e+21,100000000000000000000,1e-7,0.000001,123456789012345680000,4."
      "5,"
      "-1.5e-10,333333333.3333333,9007199254740992]");
}

TEST(CanonicalJsonTest, ZeroMantissaWithExponent) {
  // Found by fuzz_canonical_json: RapidJSON's full-precision path had undefined
  // behaviour here.
  EXPECT_FALSE(CanonicalizeJson("[1e400]").ok());  // not finite
  EXPECT_EQ(Canon("[0e121,0E-5,-0.0e7]"), "[0,0,0]");
  EXPECT_EQ(Canon("[18446744073709551615,-9223372036854775808]"),
            "[18446744073709552000,-9223372036854776000]");
}

TEST(CanonicalJsonTest, EscapesMinimally) {
  EXPECT_EQ(Canon(R"(["\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/"])"),
            "[\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"]");
}

TEST(CanonicalJsonTest, RejectsBadInput) {
  EXPECT_FALSE(CanonicalizeJson("{\"a\":1,\"a\":2}").ok());
  EXPECT_FALSE(CanonicalizeJson("{\"a\":").ok());
  EXPECT_FALSE(CanonicalizeJson("[1] [2]").ok());
  EXPECT_FALSE(CanonicalizeJson("\"\xff\"").ok());
}

TEST(CanonicalJsonTest, RefusesStringsThatAreNotUtf8) {
  // fuzz_canonical_json: "\udeac" used to canonicalise into bytes that do not
  // parse back.
  EXPECT_FALSE(CanonicalizeJson(R"("\udeac")").ok());
  EXPECT_FALSE(CanonicalizeJson(R"({"\udc00":1})").ok());
  EXPECT_EQ(Canon(R"("\ud83d\ude00")"), "\"\xf0\x9f\x98\x80\"");
  rapidjson::Document doc;
  doc.SetString("\xed\xba\xac", doc.GetAllocator());
  EXPECT_FALSE(CanonicalJson(doc).ok());
}

// AppendJsonString scans eight bytes at a time; it must escape exactly what a
// byte-at-a-time escaper does, wherever the escapes fall and whatever the
// high bytes around them.
TEST(CanonicalJsonTest, AppendJsonStringMatchesAByteWiseEscaper) {
  auto reference = [](const std::string& in) {
    std::string out = "\"";
    for (unsigned char c : in) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (c < 0x20) {
            out += absl::StrFormat("\\u%04x", c);
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
    }
    return out + "\"";
  };
  std::mt19937 rng(11);
  const unsigned char palette[] = {'a',  'Z',  ' ',  '"',  '\\', 0x00,
                                   0x1f, 0x20, 0x21, 0x5b, 0x5d, 0x7f,
                                   0x80, 0xc3, 0xff, '\n', '\t', 0x1b};
  for (int n = 0; n < 20000; ++n) {
    std::string in(rng() % 40, 'x');
    for (char& c : in) {
      if (rng() % 4 == 0)
        c = static_cast<char>(palette[rng() % sizeof palette]);
    }
    std::string out = "prefix";
    AppendJsonString(in, &out);
    ASSERT_EQ(out, "prefix" + reference(in)) << absl::CHexEscape(in);
  }
}

}  // namespace
}  // namespace clover
