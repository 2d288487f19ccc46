// A purge whose destroy of the old epoch key in the token fails (issue 20,
// custody): the destroy stays pending in the store (the old epoch's row) and
// the next purge retries it — in the same process, and after a restart —
// until the key is gone from the token; a crash after the destroy but before
// the row's deletion does not stop the vault from opening.
#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "vault/kek_ring.h"
#include "vault/pkcs11_kek.h"
#include "vault/pkcs11_token.h"
#include "vault/record_parser.h"
#include "vault/rocksdb_storage.h"
#include "vault/softhsm_test_util.h"
#include "vault/test_util.h"
#include "vault/vault.h"

namespace clover::vault {
namespace {

// The token's epoch keys, through a custodian whose destroys fail while
// `failures` is positive (each failure counts it down).
class FlakyHeldKey : public HeldKey {
 public:
  FlakyHeldKey(std::unique_ptr<HeldKey> inner, std::atomic<int>* failures)
      : inner_(std::move(inner)), failures_(failures) {}
  absl::Status Seal(absl::string_view plaintext, absl::string_view aad,
                    std::string* out) override {
    return inner_->Seal(plaintext, aad, out);
  }
  absl::Status Open(absl::string_view sealed, absl::string_view aad,
                    std::string* out) override {
    return inner_->Open(sealed, aad, out);
  }
  absl::Status Destroy() override {
    if (failures_->fetch_sub(1) > 0) {
      return absl::UnavailableError("C_DestroyObject: CKR_DEVICE_ERROR");
    }
    return inner_->Destroy();
  }

 private:
  std::unique_ptr<HeldKey> inner_;
  std::atomic<int>* failures_;
};

class FlakyCustodian : public EpochKeyCustodian {
 public:
  FlakyCustodian(EpochKeyCustodian* inner, std::atomic<int>* failures)
      : inner_(inner), failures_(failures) {}
  absl::StatusOr<std::unique_ptr<HeldKey>> CreateHeldKey(
      absl::string_view name) override {
    return Wrap(inner_->CreateHeldKey(name));
  }
  absl::StatusOr<std::unique_ptr<HeldKey>> FindHeldKey(
      absl::string_view name) override {
    return Wrap(inner_->FindHeldKey(name));
  }

 private:
  absl::StatusOr<std::unique_ptr<HeldKey>> Wrap(
      absl::StatusOr<std::unique_ptr<HeldKey>> k) {
    if (!k.ok()) return k.status();
    return std::unique_ptr<HeldKey>(
        std::make_unique<FlakyHeldKey>(*std::move(k), failures_));
  }
  EpochKeyCustodian* inner_;
  std::atomic<int>* failures_;
};

class FlakyKek : public KeyEncryptionKey {
 public:
  FlakyKek(std::unique_ptr<KeyEncryptionKey> inner, std::atomic<int>* failures)
      : inner_(std::move(inner)),
        custodian_(inner_->epoch_custodian(), failures) {}
  absl::string_view id() const override { return inner_->id(); }
  absl::StatusOr<std::string> Wrap(absl::string_view key,
                                   absl::string_view context) override {
    return inner_->Wrap(key, context);
  }
  absl::StatusOr<crypto::SecretKey> Unwrap(
      absl::string_view wrapped, absl::string_view context,
      const UnwrapJustification& why) override {
    return inner_->Unwrap(wrapped, context, why);
  }
  EpochKeyCustodian* epoch_custodian() override { return &custodian_; }

 private:
  std::unique_ptr<KeyEncryptionKey> inner_;
  FlakyCustodian custodian_;
};

class EpochDestroyRetryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = testing::SoftHsmMissing(); !why.empty()) {
      GTEST_SKIP() << why;
    }
    auto hsm = testing::MakeSoftHsm(dir_.path());
    ASSERT_TRUE(hsm.has_value()) << "softhsm2-util --init-token failed";
    hsm_ = *hsm;
    auto token = Pkcs11Token::Open(hsm_.module, hsm_.token, hsm_.pin_file);
    ASSERT_TRUE(token.ok()) << token.status();
    token_ = *token;
    ASSERT_TRUE(token_->GenerateKey("kek-1").ok());
  }
  void TearDown() override {
    vault_.reset();
    token_.reset();
  }

  void OpenVault() {
    vault_.reset();
    KeysConfig keys;
    Pkcs11KekConfig c;
    c.module = hsm_.module;
    c.token = hsm_.token;
    c.label = "kek-1";
    c.pin_file = hsm_.pin_file;
    keys.pkcs11_kek = c;
    auto kek = OpenConfiguredKek(keys);
    ASSERT_TRUE(kek.ok()) << kek.status();
    RocksDbOptions r;
    r.sync = true;
    auto storage = OpenRocksDbStorage(store_.path(), r);
    ASSERT_TRUE(storage.ok()) << storage.status();
    VaultOptions o;
    o.region = "eu";
    auto v =
        Vault::Open(deployment_, o, std::move(*storage),
                    std::make_unique<FlakyKek>(*std::move(kek), &failures_),
                    testing::TestKey(9));
    ASSERT_TRUE(v.ok()) << v.status();
    vault_ = std::move(*v);
  }

  void PutAndErase() {
    for (const char* id : {"d-1", "d-2", "d-3"}) {
      auto r = ParseRecordJson(
          deployment_.schema,
          absl::StrCat(R"({"country":"IE","fields":{"email":")", id,
                       R"(@mail.example","name":"Name"}})"));
      ASSERT_TRUE(r.ok()) << r.status();
      ASSERT_TRUE(vault_->Put(id, *r).ok());
    }
    ASSERT_TRUE(vault_->Erase("d-2").ok());
  }

  std::vector<std::string> EpochsInToken() {
    auto labels = token_->KeyLabels("epoch:");
    EXPECT_TRUE(labels.ok()) << labels.status();
    return labels.ok() ? *labels : std::vector<std::string>{};
  }

  void ExpectLiveReadable() {
    vault_->DropKeyCache();
    EXPECT_TRUE(vault_->Get("d-1", {}, ctx_).ok());
    EXPECT_TRUE(vault_->Get("d-3", {}, ctx_).ok());
    EXPECT_FALSE(vault_->Get("d-2", {}, ctx_).ok());
  }

  testing::TempDir dir_;
  testing::TempDir store_;
  testing::SoftHsm hsm_;
  std::shared_ptr<Pkcs11Token> token_;
  Deployment deployment_ = testing::TestDeployment();
  const AccessContext ctx_{"eu-support-1", "customer_support"};
  std::atomic<int> failures_{0};
  std::unique_ptr<Vault> vault_;
};

TEST_F(EpochDestroyRetryTest, AFailedDestroyIsRetriedByTheNextPurge) {
  OpenVault();
  PutAndErase();
  const std::vector<std::string> first = EpochsInToken();
  ASSERT_EQ(first.size(), 1u);

  failures_ = 1;
  auto failed = vault_->Purge();
  ASSERT_FALSE(failed.ok());
  EXPECT_TRUE(absl::IsUnavailable(failed.status())) << failed.status();
  EXPECT_NE(failed.status().message().find(first[0]), std::string::npos);
  // Still in the token, and pending in the store: two epochs stored.
  EXPECT_EQ(EpochsInToken().size(), 2u);
  auto state = vault_->Epochs();
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->stored, 2u);
  ExpectLiveReadable();

  auto retried = vault_->Purge();
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_TRUE(retried->resumed);
  EXPECT_EQ(retried->destroyed_epochs, first);
  EXPECT_EQ(retried->erased, std::vector<std::string>{"d-2"});
  EXPECT_EQ(EpochsInToken(), std::vector<std::string>{retried->new_epoch});
  state = vault_->Epochs();
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->stored, 1u);
  ExpectLiveReadable();
}

TEST_F(EpochDestroyRetryTest, APendingDestroySurvivesARestart) {
  OpenVault();
  PutAndErase();
  const std::vector<std::string> first = EpochsInToken();
  ASSERT_EQ(first.size(), 1u);
  failures_ = 1;
  ASSERT_FALSE(vault_->Purge().ok());

  OpenVault();  // a restart: the pending destroy is in the store
  auto state = vault_->Epochs();
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->stored, 2u);  // the node purges at once when it sees two
  auto retried = vault_->Purge();
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_TRUE(retried->resumed);
  EXPECT_EQ(retried->destroyed_epochs, first);
  EXPECT_EQ(EpochsInToken(), std::vector<std::string>{retried->new_epoch});
  ExpectLiveReadable();
}

TEST_F(EpochDestroyRetryTest, AKeyDestroyedBeforeItsRowWasDeletedDoesNotBlock) {
  OpenVault();
  PutAndErase();
  const std::vector<std::string> first = EpochsInToken();
  ASSERT_EQ(first.size(), 1u);
  failures_ = 1;
  ASSERT_FALSE(vault_->Purge().ok());
  // The destroy happened in the token after all, but the row stayed (a crash
  // between the two).
  vault_.reset();
  auto handle = token_->FindKey(first[0]);
  ASSERT_TRUE(handle.ok()) << handle.status();
  ASSERT_TRUE(token_->DestroyObject(*handle).ok());

  OpenVault();
  auto state = vault_->Epochs();
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->stored, 1u);
  ExpectLiveReadable();
}

}  // namespace
}  // namespace clover::vault
