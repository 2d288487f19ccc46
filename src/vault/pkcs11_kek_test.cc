// The KEK and the erasure epoch keys in a PKCS#11 token (SoftHSM2, in a
// token directory of each test's own): wrap/unwrap in the token, custody of
// the keys (not extractable), the PIN kept out of errors, a vault on the token
// KEK, erasure made final by destroying the epoch key in the token (attacked
// with the disk and the token both), and KEK rotation inside the token.
#include "vault/pkcs11_kek.h"

#include <sys/stat.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "vault/disk_attack_test_util.h"
#include "vault/epoch_keys.h"
#include "vault/kek_ring.h"
#include "vault/pkcs11_token.h"
#include "vault/record_parser.h"
#include "vault/softhsm_test_util.h"
#include "vault/test_util.h"
#include "vault/vault.h"

namespace clover::vault {
namespace {

using testing::ReadAllFiles;
using testing::TempDir;
using testing::TestDeployment;
using testing::TestKey;

std::string View(const crypto::SecretKey& k) {
  return std::string(reinterpret_cast<const char*>(k.data()), k.size());
}

class Pkcs11KekTest : public ::testing::Test {
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
  }
  void TearDown() override {
    vault_.reset();
    token_.reset();
  }

  std::unique_ptr<Pkcs11KeyEncryptionKey> NewKek(const std::string& label) {
    auto key = token_->GenerateKey(label);
    EXPECT_TRUE(key.ok()) << key.status();
    auto kek = Pkcs11KeyEncryptionKey::Open(token_, label);
    EXPECT_TRUE(kek.ok()) << kek.status();
    return kek.ok() ? *std::move(kek) : nullptr;
  }

  KeysConfig Keys(const std::string& label,
                  std::vector<std::string> retired = {}) {
    KeysConfig k;
    Pkcs11KekConfig c;
    c.module = hsm_.module;
    c.token = hsm_.token;
    c.label = label;
    c.pin_file = hsm_.pin_file;
    c.retired_labels = std::move(retired);
    k.pkcs11_kek = c;
    return k;
  }

  void OpenVault(std::unique_ptr<KeyEncryptionKey> kek) {
    vault_.reset();
    RocksDbOptions r;
    r.sync = true;
    auto storage = OpenRocksDbStorage(store_.path(), r);
    ASSERT_TRUE(storage.ok()) << storage.status();
    VaultOptions o;
    o.region = "eu";
    auto v = Vault::Open(deployment_, o, std::move(*storage), std::move(kek),
                         TestKey(9));
    ASSERT_TRUE(v.ok()) << v.status();
    vault_ = std::move(*v);
  }

  Record RecordOf(const std::string& id) {
    auto r =
        ParseRecordJson(deployment_.schema,
                        absl::StrCat(R"({"country":"IE","fields":{"email":")",
                                     id, R"(@mail.example","name":"Name )", id,
                                     R"(","ip_address":"10.1.2.3"}})"));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : Record{};
  }

  TempDir dir_;
  TempDir store_;
  testing::SoftHsm hsm_;
  std::shared_ptr<Pkcs11Token> token_;
  Deployment deployment_ = TestDeployment();
  const AccessContext ctx_{"eu-support-1", "customer_support"};
  std::unique_ptr<Vault> vault_;
};

TEST_F(Pkcs11KekTest, WrapsAndUnwrapsInTheToken) {
  auto kek = NewKek("kek-1");
  ASSERT_NE(kek, nullptr);
  EXPECT_TRUE(absl::StartsWith(kek->id(), "pkcs11:kek-1:")) << kek->id();
  const crypto::SecretKey dek = TestKey(0x33);
  auto wrapped = kek->Wrap(View(dek), "subject-a");
  ASSERT_TRUE(wrapped.ok()) << wrapped.status();
  EXPECT_EQ(WrappedKeyKekId(*wrapped), kek->id());
  EXPECT_FALSE(absl::StrContains(*wrapped, View(dek)));
  const UnwrapJustification why{"eu-support-1", "customer_support",
                                "subject-a"};
  auto key = kek->Unwrap(*wrapped, "subject-a", why);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(*key, dek);
  // Bound to its subject, authenticated, and named by its KEK.
  auto wrong_subject = kek->Unwrap(*wrapped, "subject-b", why);
  EXPECT_TRUE(absl::IsDataLoss(wrong_subject.status()))
      << wrong_subject.status();
  std::string tampered = *wrapped;
  tampered.back() ^= 1;
  EXPECT_TRUE(
      absl::IsDataLoss(kek->Unwrap(tampered, "subject-a", why).status()));
  auto file_kek = FileKeyEncryptionKey::FromKey(TestKey(1));
  auto other = file_kek->Wrap(View(dek), "subject-a");
  ASSERT_TRUE(other.ok());
  auto refused = kek->Unwrap(*other, "subject-a", why);
  EXPECT_TRUE(absl::IsDataLoss(refused.status()));
  EXPECT_TRUE(absl::StrContains(refused.status().message(), file_kek->id()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      kek->Unwrap(*wrapped, "subject-a", {"", "x", "subject-a"}).status()));
  // Another key under the same label is a different KEK id.
  auto again = Pkcs11KeyEncryptionKey::Open(token_, "kek-1");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->id(), kek->id());
  auto kek2 = NewKek("kek-2");
  EXPECT_NE(kek2->id().substr(kek2->id().rfind(':')),
            kek->id().substr(kek->id().rfind(':')));
}

TEST_F(Pkcs11KekTest, KeysInTheTokenAreNotExtractable) {
  auto kek = NewKek("kek-1");
  ASSERT_NE(kek, nullptr);
  auto custody = token_->Custody(kek->handle());
  ASSERT_TRUE(custody.ok()) << custody.status();
  EXPECT_TRUE(custody->token);
  EXPECT_TRUE(custody->sensitive);
  EXPECT_FALSE(custody->extractable);
  EXPECT_FALSE(custody->value_readable);
  // The epoch keys a vault makes there too.
  OpenVault(std::move(kek));
  auto labels = token_->KeyLabels("epoch:");
  ASSERT_TRUE(labels.ok()) << labels.status();
  ASSERT_EQ(labels->size(), 1u);
  auto epoch = token_->FindKey((*labels)[0]);
  ASSERT_TRUE(epoch.ok());
  custody = token_->Custody(*epoch);
  ASSERT_TRUE(custody.ok());
  EXPECT_TRUE(custody->sensitive);
  EXPECT_FALSE(custody->extractable);
  EXPECT_FALSE(custody->value_readable);
}

TEST_F(Pkcs11KekTest, AWrongPinFailsClearlyAndNeverShowsThePin) {
  const std::string wrong_pin = "7731-not-the-pin";
  const std::string pin_file = (std::filesystem::path(dir_.path()) / "bad.pin");
  {
    std::ofstream(pin_file) << wrong_pin << "\n";
    // A PIN file others can read is refused before it is read.
    chmod(pin_file.c_str(), 0644);
    auto open = Pkcs11Token::Open(hsm_.module, hsm_.token, pin_file);
    EXPECT_TRUE(absl::IsFailedPrecondition(open.status())) << open.status();
    EXPECT_TRUE(absl::StrContains(open.status().message(), "chmod 600"));
    chmod(pin_file.c_str(), 0600);
  }
  token_.reset();  // a fresh login, not the one this process already holds
  auto t = Pkcs11Token::Open(hsm_.module, hsm_.token, pin_file);
  ASSERT_FALSE(t.ok());
  EXPECT_TRUE(absl::IsPermissionDenied(t.status())) << t.status();
  EXPECT_TRUE(absl::StrContains(t.status().message(), "PIN")) << t.status();
  EXPECT_TRUE(absl::StrContains(t.status().message(), pin_file));
  EXPECT_FALSE(absl::StrContains(t.status().message(), wrong_pin));
  // Through the configuration too, which names the config key.
  KeysConfig keys = Keys("kek-1");
  keys.pkcs11_kek->pin_file = pin_file;
  auto kek = OpenConfiguredKek(keys);
  ASSERT_FALSE(kek.ok());
  EXPECT_TRUE(absl::StartsWith(kek.status().message(), "keys.kek.pkcs11: "))
      << kek.status();
  EXPECT_FALSE(absl::StrContains(kek.status().message(), wrong_pin));
  // No token of that label, a missing key, an unloadable module.
  keys = Keys("kek-1");
  keys.pkcs11_kek->token = "no-such-token";
  EXPECT_TRUE(absl::IsNotFound(OpenConfiguredKek(keys).status()));
  keys = Keys("no-such-key");
  auto missing = OpenConfiguredKek(keys);
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  EXPECT_TRUE(
      absl::StrContains(missing.status().message(), "keys.kek.pkcs11.label"));
  keys.pkcs11_kek->module = "/nonexistent/libpkcs11.so";
  EXPECT_TRUE(absl::IsInvalidArgument(OpenConfiguredKek(keys).status()));
}

TEST_F(Pkcs11KekTest, ConcurrentUnwrapsShareTheSessionPool) {
  auto kek = NewKek("kek-1");
  ASSERT_NE(kek, nullptr);
  std::vector<std::string> wrapped;
  for (int i = 0; i < 32; ++i) {
    auto w =
        kek->Wrap(View(TestKey(static_cast<uint8_t>(i))), absl::StrCat("s", i));
    ASSERT_TRUE(w.ok());
    wrapped.push_back(*w);
  }
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int round = 0; round < 20; ++round) {
        for (int i = 0; i < 32; ++i) {
          auto k = kek->Unwrap(wrapped[i], absl::StrCat("s", i),
                               {"vault", "test", absl::StrCat("s", i)});
          if (k.ok() && *k == TestKey(static_cast<uint8_t>(i))) ++good;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), 4 * 20 * 32);
}

// An attacker with every file of the store AND the token (the operator, PIN
// in hand) looks for epoch-sealed data keys in the raw bytes and opens each
// with whatever key of that epoch still exists in the token, then unwraps the
// result with the KEK in the token. Returns the subjects whose data key came
// out.
std::set<std::string> AttackDiskAndToken(const std::vector<std::string>& blobs,
                                         KeyEncryptionKey& kek,
                                         const std::vector<std::string>& ids,
                                         size_t* sealed_seen) {
  std::set<std::string> recovered;
  *sealed_seen = 0;
  const std::string marker = std::string(1, '\x16') + "epoch:";
  for (const std::string& blob : blobs) {
    for (size_t at = blob.find(marker); at != std::string::npos;
         at = blob.find(marker, at + 1)) {
      const std::string epoch_id = blob.substr(at + 1, 22);
      ++*sealed_seen;
      EpochRow row;
      row.id = epoch_id;
      row.wrapped_key = std::string(kHeldEpochMarker);
      auto epoch = EpochKey::Load(kek, row);
      if (!epoch.ok()) continue;  // destroyed in the token
      // The inner KEK output's length is fixed by the KEK id's.
      const size_t inner = 1 + kek.id().size() + 12 + 32 + 16;
      const std::string exact = blob.substr(at, 23 + 12 + inner + 16);
      for (const std::string& id : ids) {
        auto opened = (*epoch)->Open(exact, id);
        if (!opened.ok()) continue;
        auto key = kek.Unwrap(*opened, id, {"attacker", "forensics", id});
        if (key.ok()) recovered.insert(id);
      }
    }
  }
  return recovered;
}

TEST_F(Pkcs11KekTest, APurgeDestroysTheEpochKeyInTheTokenAndErasureIsFinal) {
  ASSERT_TRUE(token_->GenerateKey("kek-1").ok());
  auto kek = OpenConfiguredKek(Keys("kek-1"));
  ASSERT_TRUE(kek.ok()) << kek.status();
  OpenVault(*std::move(kek));
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(absl::StrCat("subject-", i));
  for (const std::string& id : ids)
    ASSERT_TRUE(vault_->Put(id, RecordOf(id)).ok());
  for (const std::string& id : ids) {
    auto got = vault_->Get(id, {}, ctx_);
    ASSERT_TRUE(got.ok()) << got.status();
  }
  const std::set<std::string> erased = {ids[1], ids[5], ids[8]};
  for (const std::string& id : erased) ASSERT_TRUE(vault_->Erase(id).ok());
  auto epochs = token_->KeyLabels("epoch:");
  ASSERT_TRUE(epochs.ok());
  ASSERT_EQ(epochs->size(), 1u);
  const std::string old_epoch = (*epochs)[0];

  // A second process's view of the token: the attacker's.
  auto attacker_kek = OpenConfiguredKek(Keys("kek-1"));
  ASSERT_TRUE(attacker_kek.ok()) << attacker_kek.status();
  size_t seen = 0;
  // A backup of the store taken before the purge: it keeps every sealed key.
  const std::vector<std::string> backup = ReadAllFiles(store_.path());
  // Before the purge the erased subjects' keys come out (so this can fail).
  auto before = AttackDiskAndToken(backup, **attacker_kek, ids, &seen);
  EXPECT_GT(seen, 0u);
  for (const std::string& id : erased) {
    EXPECT_TRUE(before.contains(id)) << id << " not recovered before purge";
  }

  auto report = vault_->Purge();
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->destroyed_epochs, std::vector<std::string>{old_epoch});
  EXPECT_EQ(report->erased,
            std::vector<std::string>(erased.begin(), erased.end()));
  // The old epoch key object is gone from the token; the new one is there.
  epochs = token_->KeyLabels("epoch:");
  ASSERT_TRUE(epochs.ok());
  EXPECT_EQ(*epochs, std::vector<std::string>{report->new_epoch});
  EXPECT_TRUE(absl::IsNotFound(token_->FindKey(old_epoch).status()));

  auto after = AttackDiskAndToken(ReadAllFiles(store_.path()), **attacker_kek,
                                  ids, &seen);
  EXPECT_GT(seen, 0u);
  for (const std::string& id : ids) {
    EXPECT_EQ(after.contains(id), !erased.contains(id)) << id;
  }
  // The old backup opens nothing any more: every key in it is sealed under
  // the destroyed epoch key, and the token no longer has it.
  auto from_backup = AttackDiskAndToken(backup, **attacker_kek, ids, &seen);
  EXPECT_GT(seen, 0u);
  EXPECT_TRUE(from_backup.empty()) << *from_backup.begin();
  // Live subjects read, also after a restart on the token.
  auto reopened = OpenConfiguredKek(Keys("kek-1"));
  ASSERT_TRUE(reopened.ok());
  OpenVault(*std::move(reopened));
  for (const std::string& id : ids) {
    auto got = vault_->Get(id, {}, ctx_);
    EXPECT_EQ(got.ok(), !erased.contains(id)) << id << got.status();
  }
}

TEST_F(Pkcs11KekTest, RotationInsideTheTokenKeepsEveryRecordReadable) {
  ASSERT_TRUE(token_->GenerateKey("kek-1").ok());
  auto kek = OpenConfiguredKek(Keys("kek-1"));
  ASSERT_TRUE(kek.ok()) << kek.status();
  const std::string old_id(kek->get()->id());
  OpenVault(*std::move(kek));
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i) ids.push_back(absl::StrCat("subject-", i));
  for (const std::string& id : ids)
    ASSERT_TRUE(vault_->Put(id, RecordOf(id)).ok());
  ASSERT_TRUE(vault_->Erase(ids[3]).ok());

  // Rotate: a new key in the token is current, the old label retired.
  ASSERT_TRUE(token_->GenerateKey("kek-2").ok());
  auto ring = OpenConfiguredKek(Keys("kek-2", {"kek-1"}));
  ASSERT_TRUE(ring.ok()) << ring.status();
  const std::string new_id(ring->get()->id());
  ASSERT_NE(new_id, old_id);
  OpenVault(*std::move(ring));
  for (const std::string& id : ids) {
    EXPECT_EQ(vault_->Get(id, {}, ctx_).ok(), id != ids[3]) << id;
  }
  auto report = vault_->RewrapKeys();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->rewrapped, ids.size() - 1);
  EXPECT_EQ(report->erased, 1u);
  for (const std::string& id : ids) {
    if (id == ids[3]) continue;
    auto w = vault_->WrappingKekId(id);
    ASSERT_TRUE(w.ok());
    EXPECT_EQ(*w, new_id);
  }
  // The retired key is no longer needed: every record reads with kek-2
  // alone, and the epoch keys (held in the token) are unaffected.
  auto only_new = OpenConfiguredKek(Keys("kek-2"));
  ASSERT_TRUE(only_new.ok());
  OpenVault(*std::move(only_new));
  for (const std::string& id : ids) {
    auto got = vault_->Get(id, {}, ctx_);
    EXPECT_EQ(got.ok(), id != ids[3]) << id << got.status();
  }
}

TEST_F(Pkcs11KekTest, AFileKekStoreMovesIntoTheToken) {
  // A store made under the file KEK: its epoch key is KEK-wrapped on disk.
  OpenVault(FileKeyEncryptionKey::FromKey(TestKey(5)));
  std::vector<std::string> ids = {"subject-a", "subject-b"};
  for (const std::string& id : ids)
    ASSERT_TRUE(vault_->Put(id, RecordOf(id)).ok());
  // Migration: the token KEK is current, the file KEK retired.
  ASSERT_TRUE(token_->GenerateKey("kek-1").ok());
  auto hsm = Pkcs11KeyEncryptionKey::Open(token_, "kek-1");
  ASSERT_TRUE(hsm.ok());
  std::vector<std::unique_ptr<KeyEncryptionKey>> retired;
  retired.push_back(FileKeyEncryptionKey::FromKey(TestKey(5)));
  auto ring = KekRing::Create(*std::move(hsm), std::move(retired));
  ASSERT_TRUE(ring.ok());
  OpenVault(*std::move(ring));
  ASSERT_TRUE(vault_->RewrapKeys().ok());
  // The purge moves every key under an epoch held in the token.
  auto report = vault_->Purge();
  ASSERT_TRUE(report.ok()) << report.status();
  auto labels = token_->KeyLabels("epoch:");
  ASSERT_TRUE(labels.ok());
  EXPECT_EQ(*labels, std::vector<std::string>{report->new_epoch});
  auto only_hsm = OpenConfiguredKek(Keys("kek-1"));
  ASSERT_TRUE(only_hsm.ok());
  OpenVault(*std::move(only_hsm));
  for (const std::string& id : ids) {
    EXPECT_TRUE(vault_->Get(id, {}, ctx_).ok()) << id;
  }
}

}  // namespace
}  // namespace clover::vault
