#include "vault/pseudonymizer.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "vault/generalize.h"
#include "vault/test_util.h"
#include "vault/token_keys.h"

namespace clover::vault {
namespace {

using ::testing::MatchesRegex;
using ::testing::StartsWith;
using testing::TestDeployment;
using testing::TestKey;

class PseudonymizerTest : public ::testing::Test {
 protected:
  PseudonymizerTest()
      : deployment_(TestDeployment()),
        pseudo_(deployment_),
        ring_(TestKey(7)) {}

  std::shared_ptr<const TokenKeys> Keys(const char* dest, const char* purpose) {
    auto k = ring_.Get(dest, purpose);
    EXPECT_TRUE(k.ok());
    return *k;
  }
  const FieldSpec& F(const char* name) {
    for (const FieldSpec& f : deployment_.schema.fields) {
      if (f.name == name) return f;
    }
    std::abort();
  }
  std::string T(const char* field, absl::string_view raw, TransformMode mode,
                const TokenKeys& keys,
                const SubjectTokenKeys* subject = nullptr) {
    auto out = pseudo_.Transform(F(field), raw, mode, keys, subject);
    EXPECT_TRUE(out.ok()) << field << ": " << out.status();
    return out.ok() ? *out : "";
  }

  Deployment deployment_;
  Pseudonymizer pseudo_;
  TokenKeyRing ring_;
};

TEST_F(PseudonymizerTest, HmacTokensAreDeterministicPerDestinationAndPurpose) {
  auto us_rec = Keys("us", "recommendation");
  auto us_rec2 = Keys("us", "recommendation");
  auto us_ana = Keys("us", "analytics");
  auto cn_rec = Keys("cn", "recommendation");
  std::string a =
      T("email", "ann@mail.example", TransformMode::kPseudonymize, *us_rec);
  EXPECT_THAT(a, MatchesRegex("tok_[A-Za-z0-9_-]{22}"));
  EXPECT_EQ(a, T("email", "ann@mail.example", TransformMode::kPseudonymize,
                 *us_rec2));
  EXPECT_NE(
      a, T("email", "ann@mail.example", TransformMode::kPseudonymize, *us_ana));
  EXPECT_NE(
      a, T("email", "ann@mail.example", TransformMode::kPseudonymize, *cn_rec));
  EXPECT_NE(
      a, T("email", "bob@mail.example", TransformMode::kPseudonymize, *us_rec));
  // A different root key (another deployment) gives unrelated tokens.
  TokenKeyRing other(TestKey(8));
  auto o = other.Get("us", "recommendation");
  ASSERT_TRUE(o.ok());
  EXPECT_NE(a,
            T("email", "ann@mail.example", TransformMode::kPseudonymize, **o));
  // Separators cannot be shifted between destination and purpose.
  EXPECT_NE(T("email", "x@y.example", TransformMode::kPseudonymize,
              *Keys("a|b", "c")),
            T("email", "x@y.example", TransformMode::kPseudonymize,
              *Keys("a", "b|c")));
}

TEST_F(PseudonymizerTest, Ff1PreservesFormat) {
  auto keys = Keys("us", "analytics");
  std::string phone =
      T("phone", "+353861234567", TransformMode::kPseudonymize, *keys);
  EXPECT_THAT(phone, MatchesRegex("\\+[1-9][0-9]{11}"));
  EXPECT_NE(phone, "+353861234567");
  EXPECT_EQ(phone,
            T("phone", "+353861234567", TransformMode::kPseudonymize, *keys));
  EXPECT_NE(phone, T("phone", "+353861234567", TransformMode::kPseudonymize,
                     *Keys("us", "trust_safety")));
  auto back = pseudo_.ReverseFf1(F("phone"), phone, *keys);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, "+353861234567");
  // Many phone numbers: always valid-looking, and distinct inputs stay
  // distinct.
  std::set<std::string> seen;
  for (int i = 0; i < 500; ++i) {
    std::string in = "+1415555" + std::to_string(1000 + i);
    std::string out = T("phone", in, TransformMode::kPseudonymize, *keys);
    EXPECT_THAT(out, MatchesRegex("\\+[1-9][0-9]{10}"));
    EXPECT_TRUE(seen.insert(out).second);
    EXPECT_EQ(*pseudo_.ReverseFf1(F("phone"), out, *keys), in);
  }
  std::string acct =
      T("account_number", "0012345678", TransformMode::kPseudonymize, *keys);
  EXPECT_THAT(acct, MatchesRegex("[0-9]{10}"));
  // Short digit strings get keyed digits of the same length (not reversible).
  std::string shorty =
      T("account_number", "042", TransformMode::kPseudonymize, *keys);
  EXPECT_THAT(shorty, MatchesRegex("[0-9]{3}"));
  EXPECT_EQ(
      pseudo_.ReverseFf1(F("account_number"), shorty, *keys).status().code(),
      absl::StatusCode::kFailedPrecondition);
  // ff1 on a text field is a configuration error.
  FieldSpec bad = F("name");
  bad.method = PseudonymMethod::kFf1;
  EXPECT_EQ(
      pseudo_
          .Transform(bad, "Ann", TransformMode::kPseudonymize, *keys, nullptr)
          .status()
          .code(),
      absl::StatusCode::kFailedPrecondition);
}

TEST_F(PseudonymizerTest, Generalizes) {
  auto keys = Keys("us", "analytics");
  EXPECT_EQ(T("ip_address", "192.0.2.17", TransformMode::kGeneralize, *keys),
            "192.0.2.0/24");
  EXPECT_EQ(
      T("ip_address", "2001:db8:1:2:3::4", TransformMode::kGeneralize, *keys),
      "2001:db8:1::/48");
  EXPECT_EQ(T("birthdate", "1990-04-12", TransformMode::kGeneralize, *keys),
            "1990");
  EXPECT_EQ(T("age", "34", TransformMode::kGeneralize, *keys), "30-39");
  EXPECT_EQ(T("age", "7", TransformMode::kGeneralize, *keys), "0-9");
  EXPECT_EQ(T("age", "104", TransformMode::kGeneralize, *keys), "100+");
  EXPECT_EQ(T("payment_country", "DE", TransformMode::kGeneralize, *keys),
            "eu");
  EXPECT_EQ(T("payment_country", "JP", TransformMode::kGeneralize, *keys),
            "other");
  EXPECT_EQ(T("email", "Ann@Mail.Example", TransformMode::kGeneralize, *keys),
            "*@mail.example");
  // Methods "generalize" apply under pseudonymisation too.
  EXPECT_EQ(T("ip_address", "192.0.2.17", TransformMode::kPseudonymize, *keys),
            "192.0.2.0/24");
  // Free text cannot be generalised: the field's token (or redaction) is used
  // instead.
  EXPECT_THAT(T("device_id", "dev-1", TransformMode::kGeneralize, *keys),
              StartsWith("tok_"));
  EXPECT_EQ(T("notes", "hello", TransformMode::kGeneralize, *keys), kRedacted);
}

TEST_F(PseudonymizerTest, RawRedactAndLists) {
  auto keys = Keys("eu", "customer_support");
  EXPECT_EQ(T("email", "ann@mail.example", TransformMode::kRaw, *keys),
            "ann@mail.example");
  EXPECT_EQ(T("email", "ann@mail.example", TransformMode::kRedact, *keys),
            kRedacted);
  FieldValue list{"watch_history", true, "", {"v1", "v2", "v1"}};
  auto out = pseudo_.TransformField(
      F("watch_history"), list, TransformMode::kPseudonymize, *keys, nullptr);
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->items.size(), 3u);
  EXPECT_EQ(out->items[0], out->items[2]);
  EXPECT_NE(out->items[0], out->items[1]);
  EXPECT_EQ(out->items[0],
            T("watch_history", "v1", TransformMode::kPseudonymize, *keys));
  auto red = pseudo_.TransformField(F("watch_history"), list,
                                    TransformMode::kRedact, *keys, nullptr);
  ASSERT_TRUE(red.ok());
  EXPECT_FALSE(red->is_list);
  EXPECT_EQ(red->value, kRedacted);
  // siv needs the subject's keys.
  EXPECT_EQ(pseudo_
                .Transform(F("name"), "Ann", TransformMode::kPseudonymize,
                           *keys, nullptr)
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(PseudonymizerTest, SivTokensNeedTheSubjectKeys) {
  auto keys = Keys("us", "analytics");
  TokenHandle handle{};
  handle.fill(3);
  auto s1 = keys->ForSubject(TestKey(1), handle);
  auto s2 = keys->ForSubject(TestKey(2), handle);
  ASSERT_TRUE(s1.ok() && s2.ok());
  std::string t1 =
      T("name", "Ann", TransformMode::kPseudonymize, *keys, s1->get());
  EXPECT_THAT(t1, StartsWith("stk_"));
  EXPECT_EQ(t1,
            T("name", "Ann", TransformMode::kPseudonymize, *keys, s1->get()));
  std::string t2 =
      T("name", "Ann", TransformMode::kPseudonymize, *keys, s2->get());
  EXPECT_NE(t1, t2);
  auto parts = ParseSivToken(t1);
  ASSERT_TRUE(parts.ok());
  EXPECT_EQ(*(*s1)->OpenSiv("name", parts->sealed), "Ann");
  // Another data key (e.g. after crypto-shredding and re-creation) cannot open
  // it.
  EXPECT_EQ((*s2)->OpenSiv("name", parts->sealed).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(*keys->HandleOfLocator(parts->locator), handle);
  EXPECT_FALSE(ParseSivToken("tok_abc").ok());
  EXPECT_FALSE(ParseSivToken("stk_!!").ok());
  EXPECT_FALSE(ParseSivToken("stk_AAAA").ok());
}

TEST(GeneralizeTest, RefusesMalformed) {
  EXPECT_FALSE(GeneralizeIp("nope").ok());
  EXPECT_FALSE(GeneralizeDate("1990").ok());
  EXPECT_FALSE(GeneralizeInteger("x").ok());
  EXPECT_FALSE(GeneralizeEmail("x").ok());
  EXPECT_EQ(*GeneralizeInteger("-3"), "<0");
}

}  // namespace
}  // namespace clover::vault
