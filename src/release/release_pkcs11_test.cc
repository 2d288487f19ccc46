// External key release over a KEK held in a PKCS#11 token (keys.release with
// keys.kek.pkcs11, issue 20 items 2 and 3 together): the release layer seals
// the token's output to the partner's key, so a read needs both the token
// and the partner; a cut-off stops reads even with the token at hand; a purge
// destroys the old epoch key in the token and re-wraps through the release
// layer (maintenance releases), after which live subjects still read.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "release/release_protocol.h"
#include "release/release_service.h"
#include "release/released_kek.h"
#include "release/test_util.h"
#include "vault/erased.h"
#include "vault/kek_ring.h"
#include "vault/pkcs11_kek.h"
#include "vault/pkcs11_token.h"
#include "vault/record_parser.h"
#include "vault/rocksdb_storage.h"
#include "vault/softhsm_test_util.h"
#include "vault/test_util.h"
#include "vault/vault.h"

namespace clover::release {
namespace {

class ReleasePkcs11Test : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = vault::testing::SoftHsmMissing(); !why.empty()) {
      GTEST_SKIP() << why;
    }
    ASSERT_TRUE(testing::WriteServiceFiles(dir_.path()).ok());
    auto config = LoadServiceConfig(dir_.Sub("service.yaml"));
    ASSERT_TRUE(config.ok()) << config.status();
    auto s = ReleaseService::Create(*config);
    ASSERT_TRUE(s.ok()) << s.status();
    service_ = *std::move(s);
    ASSERT_TRUE(service_->Start().ok());
    auto hsm = vault::testing::MakeSoftHsm(hsm_dir_.path());
    ASSERT_TRUE(hsm.has_value()) << "softhsm2-util --init-token failed";
    hsm_ = *hsm;
    auto token =
        vault::Pkcs11Token::Open(hsm_.module, hsm_.token, hsm_.pin_file);
    ASSERT_TRUE(token.ok()) << token.status();
    ASSERT_TRUE((*token)->GenerateKey("kek-1").ok());
  }
  void TearDown() override {
    vault_.reset();
    if (service_) service_->Stop();
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
    auto kek = vault::OpenConfiguredKek(keys);
    ASSERT_TRUE(kek.ok()) << kek.status();
    ReleaseClientOptions r;
    r.url = absl::StrCat("https://127.0.0.1:", service_->port());
    r.region = "eu";
    r.ca_file = dir_.Sub("ca.crt");
    r.cert_file = dir_.Sub("node.crt");
    r.key_file = dir_.Sub("node.key");
    r.subject_label = [](absl::string_view s) {
      return absl::StrCat("pseudonym-of-", s);
    };
    vault::VaultOptions o;
    o.region = "eu";
    o.kek_layer = [r](std::unique_ptr<vault::KeyEncryptionKey> inner) {
      return NewReleasedKek(std::move(inner), r);
    };
    auto storage = vault::OpenRocksDbStorage(store_.path(), {});
    ASSERT_TRUE(storage.ok()) << storage.status();
    auto v = vault::Vault::Open(deployment_, o, *std::move(storage),
                                *std::move(kek), vault::testing::TestKey(9));
    ASSERT_TRUE(v.ok()) << v.status();
    vault_ = *std::move(v);
  }

  vault::Record RecordOf(const std::string& id) {
    auto r = vault::ParseRecordJson(
        deployment_.schema,
        absl::StrCat(R"({"country":"IE","fields":{"email":")", id,
                     R"(@mail.example","name":"Name )", id, R"("}})"));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : vault::Record{};
  }

  absl::Status Read(const std::string& id) {
    vault_->DropKeyCache();  // every read goes to the token and the partner
    auto r = vault_->Get(id, {"email"}, ctx_);
    if (!r.ok()) return r.status();
    if (r->Find("email") == nullptr ||
        r->Find("email")->value != id + "@mail.example") {
      return absl::InternalError("wrong value");
    }
    return absl::OkStatus();
  }

  vault::testing::TempDir dir_;
  vault::testing::TempDir hsm_dir_;
  vault::testing::TempDir store_;
  vault::testing::SoftHsm hsm_;
  std::unique_ptr<ReleaseService> service_;
  Deployment deployment_ = vault::testing::TestDeployment();
  const vault::AccessContext ctx_{"eu-support-1", "customer_support", "read",
                                  3};
  std::unique_ptr<vault::Vault> vault_;
};

TEST_F(ReleasePkcs11Test, ReadsNeedTheTokenAndThePartnerAndSurviveAPurge) {
  OpenVault();
  for (const char* id : {"h-1", "h-2", "h-3"})
    ASSERT_TRUE(vault_->Put(id, RecordOf(id)).ok());
  uint64_t before = service_->log().Size();
  ASSERT_TRUE(Read("h-1").ok());
  EXPECT_EQ(service_->log().Size(), before + 1);  // released, logged

  // Cut off: the token alone does not read.
  ASSERT_TRUE(service_->SetCutOff("eu", true, "test").ok());
  absl::Status refused = Read("h-2");
  EXPECT_EQ(KeyReleaseCode(refused), std::string(kKeyReleaseRefused))
      << refused;
  ASSERT_TRUE(service_->SetCutOff("eu", false, "test").ok());
  ASSERT_TRUE(Read("h-2").ok());

  // Erase and purge: the old epoch key is destroyed in the token, the live
  // keys are re-wrapped through the release layer and still read.
  ASSERT_TRUE(vault_->Erase("h-3").ok());
  auto token = vault::Pkcs11Token::Open(hsm_.module, hsm_.token, hsm_.pin_file);
  ASSERT_TRUE(token.ok());
  auto epochs = (*token)->KeyLabels("epoch:");
  ASSERT_TRUE(epochs.ok());
  ASSERT_EQ(epochs->size(), 1u);
  auto report = vault_->Purge();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->destroyed_epochs, *epochs);
  EXPECT_TRUE(absl::IsNotFound((*token)->FindKey((*epochs)[0]).status()));
  before = service_->log().Size();
  ASSERT_TRUE(Read("h-1").ok());
  ASSERT_TRUE(Read("h-2").ok());
  EXPECT_EQ(service_->log().Size(), before + 2);
  EXPECT_TRUE(vault::IsErased(vault_->Get("h-3", {}, ctx_).status()));
  // After a restart on the same token and service too.
  OpenVault();
  ASSERT_TRUE(Read("h-1").ok());
}

}  // namespace
}  // namespace clover::release
