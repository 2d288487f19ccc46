#include "vault/pseudonym_ring.h"

#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "vault/kek_ring.h"
#include "vault/record_parser.h"
#include "vault/test_util.h"
#include "vault/vault.h"

namespace clover::vault {
namespace {

using ::testing::ElementsAre;
using ::testing::StartsWith;
using testing::TempDir;
using testing::TestDeployment;
using testing::TestKey;

class PseudonymRotationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Open(TestKey(5));
    ASSERT_TRUE(vault_->Put("ann", Ann()).ok());
  }

  // The embedded store in dir_, with the KEK `kek` (and `retired`, if set).
  void Open(const crypto::SecretKey& kek,
            const crypto::SecretKey* retired = nullptr) {
    vault_.reset();
    auto storage = OpenRocksDbStorage(dir_.path());
    ASSERT_TRUE(storage.ok()) << storage.status();
    std::unique_ptr<KeyEncryptionKey> k = FileKeyEncryptionKey::FromKey(kek);
    if (retired != nullptr) {
      std::vector<std::unique_ptr<KeyEncryptionKey>> old;
      old.push_back(FileKeyEncryptionKey::FromKey(*retired));
      auto ring = KekRing::Create(std::move(k), std::move(old));
      ASSERT_TRUE(ring.ok()) << ring.status();
      k = *std::move(ring);
    }
    VaultOptions options;
    options.region = "eu";
    options.clock = &clock_;
    auto v = Vault::Open(deployment_, options, std::move(*storage),
                         std::move(k), TestKey(9));
    ASSERT_TRUE(v.ok()) << v.status();
    vault_ = std::move(*v);
  }

  Record Ann() {
    auto r =
        ParseRecordJson(deployment_.schema,
                        R"({"country":"IE","fields":{"email":"ann@mail.example",
        "phone":"+353861234567","name":"Ann O'Neill",
        "account_number":"12345678"}})");
    EXPECT_TRUE(r.ok()) << r.status();
    return *r;
  }

  const FieldSpec& F(const std::string& name) {
    return *FindField(vault_->schema(), name);
  }

  // The token of `value` of `field` for (destination, purpose), made now.
  std::string Token(const std::string& field, const std::string& value,
                    const std::string& destination = "us",
                    const std::string& purpose = "analytics") {
    auto keys = vault_->TokenKeysFor(destination, purpose);
    EXPECT_TRUE(keys.ok()) << keys.status();
    std::shared_ptr<const SubjectTokenKeys> subject;
    if (F(field).method == PseudonymMethod::kSiv) {
      auto sk = vault_->SubjectKeys("ann", destination, purpose, ctx_);
      EXPECT_TRUE(sk.ok()) << sk.status();
      subject = *sk;
    }
    auto t = vault_->pseudonymizer().Transform(
        F(field), value, TransformMode::kPseudonymize, **keys, subject.get());
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *t : "";
  }

  absl::StatusOr<std::string> Reverse(
      const std::string& token, const std::string& destination = "us",
      const std::string& purpose = "analytics") {
    auto d = vault_->Detokenize(token, "name", destination, purpose, ctx_);
    if (!d.ok()) return d.status();
    return d->value;
  }

  uint32_t Rotate(absl::Duration overlap) {
    auto v = vault_->pseudonym_ring().Rotate(overlap);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : 0;
  }

  const AccessContext ctx_{"eu-support-1", "customer_support"};
  Deployment deployment_ = TestDeployment();
  FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  TempDir dir_;
  std::unique_ptr<Vault> vault_;
};

TEST_F(PseudonymRotationTest, OldTokenResolvesInTheWindowAndIsRefusedAfter) {
  const std::string old_siv = Token("name", "Ann O'Neill");
  ASSERT_THAT(old_siv, StartsWith("stk_"));
  EXPECT_EQ(old_siv.find('.'), std::string::npos);  // version 1: untagged
  ASSERT_EQ(*Reverse(old_siv), "Ann O'Neill");

  EXPECT_EQ(Rotate(absl::Hours(1)), 2u);
  const std::string new_siv = Token("name", "Ann O'Neill");
  EXPECT_THAT(new_siv, StartsWith("stk_v2."));
  EXPECT_EQ(*Reverse(new_siv), "Ann O'Neill");
  // Inside the window the old token still resolves.
  clock_.Advance(absl::Minutes(59));
  auto in_window = Reverse(old_siv);
  ASSERT_TRUE(in_window.ok()) << in_window.status();
  EXPECT_EQ(*in_window, "Ann O'Neill");
  // At the deadline it is refused, as expired (not as unknown or forged); the
  // new one still resolves.
  clock_.Advance(absl::Minutes(1));
  auto expired = Reverse(old_siv);
  EXPECT_TRUE(IsTokenExpired(expired.status())) << expired.status();
  EXPECT_THAT(std::string(expired.status().message()),
              ::testing::HasSubstr("version 1"));
  EXPECT_EQ(*Reverse(new_siv), "Ann O'Neill");

  auto versions = vault_->pseudonym_ring().Versions();
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 2u);
  EXPECT_EQ((*versions)[0].state, PseudonymKeyState::kRetired);
  EXPECT_EQ((*versions)[0].retire_at, clock_.Now());
  EXPECT_EQ((*versions)[1].state, PseudonymKeyState::kCurrent);
}

TEST_F(PseudonymRotationTest, ZeroOverlapRefusesOldTokensAtOnce) {
  const std::string old_siv = Token("name", "Ann O'Neill");
  Rotate(absl::ZeroDuration());
  EXPECT_TRUE(IsTokenExpired(Reverse(old_siv).status()));
  EXPECT_FALSE(vault_->pseudonym_ring().Rotate(-absl::Seconds(1)).ok());
}

TEST_F(PseudonymRotationTest, NewTokensDifferFromOldOnesInEveryPart) {
  const std::string old_hmac = Token("email", "ann@mail.example");
  const std::string old_siv = Token("name", "Ann O'Neill");
  const std::string old_ff1 = Token("phone", "+353861234567");
  Rotate(absl::Hours(1));
  const std::string new_hmac = Token("email", "ann@mail.example");
  const std::string new_siv = Token("name", "Ann O'Neill");
  const std::string new_ff1 = Token("phone", "+353861234567");
  EXPECT_THAT(old_hmac, StartsWith("tok_"));
  EXPECT_THAT(new_hmac, StartsWith("tok_v2."));
  EXPECT_NE(old_hmac.substr(4), new_hmac.substr(7));
  EXPECT_NE(old_ff1, new_ff1);
  EXPECT_EQ(new_ff1.size(), old_ff1.size());  // still format-preserving
  // Not only the locator changes: the sealed part (same value, same subject,
  // same data key) does too, so old and new tokens cannot be matched on it.
  auto a = ParseSivToken(old_siv);
  auto b = ParseSivToken(new_siv);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->version, 1u);
  EXPECT_EQ(b->version, 2u);
  EXPECT_NE(a->locator, b->locator);
  EXPECT_NE(a->sealed, b->sealed);
  // A new token relabelled as version 1 (a downgrade) does not verify.
  std::string relabelled = "stk_" + new_siv.substr(7);
  EXPECT_FALSE(Reverse(relabelled).ok());
  // Nor does an old token claiming version 2.
  EXPECT_FALSE(Reverse("stk_v2." + old_siv.substr(4)).ok());
}

TEST_F(PseudonymRotationTest, DestinationsAndPurposesStayUnlinkable) {
  Rotate(absl::Hours(1));
  const std::string us = Token("email", "ann@mail.example", "us", "analytics");
  const std::string uk = Token("email", "ann@mail.example", "uk", "analytics");
  const std::string rec =
      Token("email", "ann@mail.example", "us", "recommendation");
  EXPECT_NE(us, uk);
  EXPECT_NE(us, rec);
  EXPECT_NE(uk, rec);
  // A siv token of one pair, old or new, resolves under no other pair.
  const std::string siv = Token("name", "Ann O'Neill", "us", "analytics");
  EXPECT_TRUE(Reverse(siv, "us", "analytics").ok());
  EXPECT_FALSE(Reverse(siv, "uk", "analytics").ok());
  EXPECT_FALSE(Reverse(siv, "us", "recommendation").ok());
  // Unlinkable across versions of other pairs too: the new uk token is not
  // the old us one (no key is shared between pairs in any version).
  EXPECT_NE(Token("name", "Ann O'Neill", "uk", "analytics"), siv);
}

TEST_F(PseudonymRotationTest, MalformedAndUnknownVersionTagsAreRefused) {
  const std::string siv = Token("name", "Ann O'Neill");
  const std::string body = siv.substr(4);
  for (const std::string& bad :
       {"stk_v1." + body, "stk_v01." + body, "stk_vx." + body, "stk_v." + body,
        "stk_2." + body, "stk_v12345678." + body}) {
    auto r = Reverse(bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument)
        << bad << ": " << r.status();
  }
  // A version this region never had: unknown, not expired.
  auto unknown = Reverse("stk_v7." + body);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound)
      << unknown.status();
}

TEST_F(PseudonymRotationTest, RestartKeepsTheRing) {
  const std::string old_siv = Token("name", "Ann O'Neill");
  Rotate(absl::Hours(2));
  const std::string new_hmac = Token("email", "ann@mail.example");
  const std::string new_siv = Token("name", "Ann O'Neill");
  Open(TestKey(5));
  // Same current version, same keys: the same tokens; the old one still
  // resolves, and still retires at the stored deadline.
  EXPECT_EQ(Token("email", "ann@mail.example"), new_hmac);
  EXPECT_EQ(Token("name", "Ann O'Neill"), new_siv);
  EXPECT_EQ(*Reverse(old_siv), "Ann O'Neill");
  clock_.Advance(absl::Hours(2));
  Open(TestKey(5));
  EXPECT_TRUE(IsTokenExpired(Reverse(old_siv).status()));
  EXPECT_EQ(*Reverse(new_siv), "Ann O'Neill");
}

TEST_F(PseudonymRotationTest,
       PurgeDestroysRetiredKeysAndTheirTokensStayExpired) {
  Rotate(absl::Hours(1));
  const std::string v2_siv = Token("name", "Ann O'Neill");
  EXPECT_EQ(Rotate(absl::Hours(1)), 3u);
  EXPECT_EQ(*Reverse(v2_siv), "Ann O'Neill");
  clock_.Advance(absl::Hours(1));
  auto report = vault_->Purge();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(report->destroyed_pseudonym_versions, ElementsAre(1u, 2u));
  // The row stays, without key material.
  std::string value;
  auto found =
      vault_->storage().Get(Table::kTokens, "pseudonym-root/00000002", &value);
  ASSERT_TRUE(found.ok() && *found);
  auto row = PseudonymRootRow::Decode("pseudonym-root/00000002", value);
  ASSERT_TRUE(row.ok()) << row.status();
  EXPECT_TRUE(row->destroyed);
  EXPECT_TRUE(row->wrapped_key.empty());
  Open(TestKey(5));
  EXPECT_TRUE(IsTokenExpired(Reverse(v2_siv).status()));
  EXPECT_THAT(Token("name", "Ann O'Neill"), StartsWith("stk_v3."));
}

TEST_F(PseudonymRotationTest, KekRotationRewrapsTheRing) {
  Rotate(absl::Hours(1));
  const std::string v2_siv = Token("name", "Ann O'Neill");
  // New KEK 6, old KEK 5 retired: re-wrap everything, then drop KEK 5.
  const crypto::SecretKey old_kek = TestKey(5);
  Open(TestKey(6), &old_kek);
  auto rewrap = vault_->RewrapKeys();
  ASSERT_TRUE(rewrap.ok()) << rewrap.status();
  Open(TestKey(6));
  EXPECT_EQ(*Reverse(v2_siv), "Ann O'Neill");
  EXPECT_EQ(Token("name", "Ann O'Neill"), v2_siv);
}

TEST_F(PseudonymRotationTest, Ff1TokensTryEveryLiveVersionNewestFirst) {
  const std::string old_ff1 = Token("account_number", "12345678");
  Rotate(absl::Hours(1));
  const std::string new_ff1 = Token("account_number", "12345678");
  auto old_reading =
      ReverseFf1UnderRing(vault_->pseudonymizer(), vault_->pseudonym_ring(),
                          F("account_number"), old_ff1, "us", "analytics");
  ASSERT_TRUE(old_reading.ok()) << old_reading.status();
  ASSERT_EQ(old_reading->size(), 2u);
  EXPECT_EQ((*old_reading)[0].version, 2u);
  EXPECT_EQ((*old_reading)[1].version, 1u);
  EXPECT_EQ((*old_reading)[1].value, "12345678");
  auto new_reading =
      ReverseFf1UnderRing(vault_->pseudonymizer(), vault_->pseudonym_ring(),
                          F("account_number"), new_ff1, "us", "analytics");
  ASSERT_TRUE(new_reading.ok());
  EXPECT_EQ((*new_reading)[0].value, "12345678");
  // After the window only the current version is tried.
  clock_.Advance(absl::Hours(1));
  auto after =
      ReverseFf1UnderRing(vault_->pseudonymizer(), vault_->pseudonym_ring(),
                          F("account_number"), old_ff1, "us", "analytics");
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ((*after)[0].version, 2u);
  EXPECT_NE((*after)[0].value, "12345678");
}

TEST(PseudonymRootRowTest, RoundTripsAndRefusesMalformedRows) {
  PseudonymRootRow row;
  row.version = 3;
  row.created_micros = 12345;
  row.retire_at_micros = 67890;
  row.wrapped_key = "wrapped";
  auto back = PseudonymRootRow::Decode(row.Key(), row.Encode());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->version, 3u);
  EXPECT_EQ(back->created_micros, 12345);
  EXPECT_EQ(back->retire_at_micros, 67890);
  EXPECT_EQ(back->wrapped_key, "wrapped");
  EXPECT_FALSE(back->destroyed);
  const std::string enc = row.Encode();
  EXPECT_FALSE(PseudonymRootRow::Decode("pseudonym-root/00000004", enc).ok());
  EXPECT_FALSE(PseudonymRootRow::Decode(row.Key(), enc.substr(1)).ok());
  EXPECT_FALSE(PseudonymRootRow::Decode(row.Key(), enc + "x").ok());
}

}  // namespace
}  // namespace clover::vault
