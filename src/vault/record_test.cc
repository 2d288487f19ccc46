#include "vault/record.h"

#include "gtest/gtest.h"
#include "vault/field_format.h"
#include "vault/record_parser.h"
#include "vault/subject_id.h"
#include "vault/test_util.h"

namespace clover::vault {
namespace {

using testing::TestDeployment;

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

TEST(RecordCodecTest, RoundTripsAndRejectsGarbage) {
  Record r;
  r.country = "IE";
  r.fields.push_back({"email", false, "ann@mail.example", {}});
  r.fields.push_back({"watch_history", true, "", {"v1", "v2", ""}});
  std::string bytes = EncodeRecord(r);
  auto back = DecodeRecord(bytes);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, r);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_EQ(DecodeRecord(bytes.substr(0, cut)).status().code(),
              absl::StatusCode::kDataLoss);
  }
  EXPECT_EQ(DecodeRecord(bytes + "x").status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_FALSE(
      DecodeRecord(
          std::string("\x01\x02IE\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 14))
          .ok());
}

TEST(SubjectIdTest, Charset) {
  EXPECT_TRUE(ValidateSubjectId("user-42").ok());
  EXPECT_TRUE(ValidateSubjectId("a.b_c:d@e-F9").ok());
  EXPECT_FALSE(ValidateSubjectId("").ok());
  EXPECT_FALSE(ValidateSubjectId(".hidden").ok());
  EXPECT_FALSE(ValidateSubjectId("a/b").ok());
  EXPECT_FALSE(ValidateSubjectId("a b").ok());
  EXPECT_FALSE(ValidateSubjectId(std::string(129, 'a')).ok());
  EXPECT_TRUE(ValidateSubjectId(std::string(128, 'a')).ok());
  EXPECT_NE(Msg(ValidateSubjectId("ab/c")).find("position 2"),
            std::string::npos);
}

struct FormatCase {
  FieldFormat format;
  const char* value;
  bool ok;
};

TEST(FieldFormatTest, AcceptsAndRefuses) {
  const FormatCase cases[] = {
      {FieldFormat::kEmail, "ann@mail.example", true},
      {FieldFormat::kEmail, "a.b+tag@sub.mail.example.org", true},
      {FieldFormat::kEmail, "no-at-sign", false},
      {FieldFormat::kEmail, "a@b", false},
      {FieldFormat::kEmail, "a..b@mail.example", false},
      {FieldFormat::kEmail, ".a@mail.example", false},
      {FieldFormat::kEmail, "a@-mail.example", false},
      {FieldFormat::kEmail, "a@mail.e1", false},
      {FieldFormat::kEmail, "a b@mail.example", false},
      {FieldFormat::kE164, "+353861234567", true},
      {FieldFormat::kE164, "+14155550100", true},
      {FieldFormat::kE164, "353861234567", false},
      {FieldFormat::kE164, "+0353861234", false},
      {FieldFormat::kE164, "+1234", false},
      {FieldFormat::kE164, "+1234567890123456", false},
      {FieldFormat::kE164, "+35386123456a", false},
      {FieldFormat::kIp, "192.0.2.17", true},
      {FieldFormat::kIp, "2001:db8::1", true},
      {FieldFormat::kIp, "256.1.1.1", false},
      {FieldFormat::kIp, "1.2.3", false},
      {FieldFormat::kIp, "fe80::1%eth0", false},
      {FieldFormat::kDate, "1990-04-12", true},
      {FieldFormat::kDate, "2000-02-29", true},
      {FieldFormat::kDate, "1900-02-29", false},
      {FieldFormat::kDate, "1990-13-01", false},
      {FieldFormat::kDate, "1990-4-12", false},
      {FieldFormat::kDate, "12/04/1990", false},
      {FieldFormat::kCountry, "IE", true},
      {FieldFormat::kCountry, "ie", false},
      {FieldFormat::kCountry, "XX", false},
      {FieldFormat::kInteger, "42", true},
      {FieldFormat::kInteger, "-7", true},
      {FieldFormat::kInteger, "0", true},
      {FieldFormat::kInteger, "007", false},
      {FieldFormat::kInteger, "-0", false},
      {FieldFormat::kInteger, "9223372036854775807", true},
      {FieldFormat::kInteger, "9223372036854775808", false},
      {FieldFormat::kInteger, "-9223372036854775808", true},
      {FieldFormat::kInteger, "4.2", false},
      {FieldFormat::kDigits, "0012345", true},
      {FieldFormat::kDigits, "12a", false},
      {FieldFormat::kDigits, "", false},
      {FieldFormat::kText, "Ann O'Neill", true},
      {FieldFormat::kText, "Zoë 東京", true},
      {FieldFormat::kText, "bad\x01", false},
      {FieldFormat::kText, "\xc3\x28", false},
      {FieldFormat::kText, "\xed\xa0\x80", false},  // UTF-8 encoded surrogate
      {FieldFormat::kText, "", false},
  };
  for (const FormatCase& c : cases) {
    absl::Status s = ValidateFieldValue("f", c.format, c.value);
    EXPECT_EQ(s.ok(), c.ok) << c.value << ": " << s;
    if (!s.ok()) {
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
      EXPECT_NE(Msg(s).find("field 'f'"), std::string::npos);
    }
  }
}

TEST(RecordParserTest, ParsesAValidBody) {
  Deployment d = TestDeployment();
  auto r = ParseRecordJson(d.schema, R"({"country":"IE","fields":{
      "email":"ann@mail.example","phone":"+353861234567","name":"Ann",
      "birthdate":"1990-04-12","ip_address":"192.0.2.17","age":34,
      "watch_history":["v1","v2"],"payment_country":"DE"}})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->country, "IE");
  ASSERT_EQ(r->fields.size(), 8u);
  EXPECT_EQ(r->Find("age")->value, "34");
  EXPECT_TRUE(r->Find("watch_history")->is_list);
  EXPECT_EQ(r->Find("watch_history")->items,
            (std::vector<std::string>{"v1", "v2"}));
  EXPECT_TRUE(ValidateRecord(d.schema, *r).ok());
}

TEST(RecordParserTest, RefusesWithTheFieldNamed) {
  Deployment d = TestDeployment();
  struct Case {
    const char* body;
    const char* needle;
  } cases[] = {
      {R"({"country":"IE","fields":{"shoe_size":"42"}})",
       "field 'shoe_size': not in the schema"},
      {R"({"country":"IE","fields":{"email":"nope"}})", "field 'email'"},
      {R"({"country":"IE","fields":{"phone":"0861234567"}})", "field 'phone'"},
      {R"({"country":"IE","fields":{"ip_address":"300.1.1.1"}})",
       "field 'ip_address'"},
      {R"({"country":"IE","fields":{"birthdate":"1990-02-30"}})",
       "field 'birthdate'"},
      {R"({"country":"IE","fields":{"payment_country":"ZZ"}})",
       "field 'payment_country'"},
      {R"({"country":"IE","fields":{"age":"x"}})", "field 'age'"},
      {R"({"country":"IE","fields":{"age":1.5}})", "field 'age'"},
      {R"({"country":"IE","fields":{"account_number":"12x"}})",
       "field 'account_number'"},
      {R"({"country":"IE","fields":{"watch_history":"v1"}})",
       "field 'watch_history'"},
      {R"({"country":"IE","fields":{"watch_history":["v1",2]}})",
       "field 'watch_history'"},
      {R"({"country":"IE","fields":{"name":5}})", "field 'name'"},
      {R"({"country":"IE","fields":{"name":"a","name":"b"}})",
       "field 'name': given more than once"},
      {R"({"country":"XX","fields":{}})", "country:"},
      {R"({"fields":{}})", "country: missing"},
      {R"({"country":"IE"})", "fields: missing"},
      {R"({"country":"IE","fields":{},"extra":1})", "unknown member 'extra'"},
      {R"({"country":"IE","fields":[]})", "fields: must be a JSON object"},
      {R"([1,2])", "must be a JSON object"},
      {R"({"country":"IE","fields":{})", "invalid JSON at byte"},
      {R"({"country":"IE","fields":{}} trailing)", "invalid JSON at byte"},
  };
  for (const Case& c : cases) {
    auto r = ParseRecordJson(d.schema, c.body);
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(Msg(r.status()).find(c.needle), std::string::npos)
        << Msg(r.status());
  }
  // Values are never echoed in errors.
  auto r = ParseRecordJson(
      d.schema, R"({"country":"IE","fields":{"email":"secret-value"}})");
  EXPECT_EQ(Msg(r.status()).find("secret-value"), std::string::npos);
}

TEST(RecordParserTest, SurvivesHostileInput) {
  Deployment d = TestDeployment();
  std::string deep(100000, '[');
  EXPECT_FALSE(ParseRecordJson(d.schema, deep).ok());
  std::string big(kMaxRecordBodyBytes + 1, ' ');
  EXPECT_FALSE(ParseRecordJson(d.schema, big).ok());
  EXPECT_FALSE(
      ParseRecordJson(d.schema, std::string("{\"country\":\"I\xff\"}")).ok());
  EXPECT_FALSE(ParseRecordJson(d.schema, "").ok());
}

}  // namespace
}  // namespace clover::vault
