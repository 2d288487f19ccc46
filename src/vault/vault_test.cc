#include "vault/vault.h"

#include <atomic>
#include <filesystem>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "vault/erased.h"
#include "vault/kek_ring.h"
#include "vault/key_encryption_key.h"
#include "vault/record_parser.h"
#include "vault/subject_row.h"
#include "vault/test_util.h"

namespace clover::vault {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using testing::TempDir;
using testing::TestDeployment;
using testing::TestKey;

// A KEK in front of the file KEK that an "auditor" can switch to refusing.
class SwitchableKek : public KeyEncryptionKey {
 public:
  explicit SwitchableKek(std::shared_ptr<std::atomic<bool>> refuse)
      : inner_(FileKeyEncryptionKey::FromKey(TestKey(5))),
        refuse_(std::move(refuse)) {}
  absl::string_view id() const override { return inner_->id(); }
  absl::StatusOr<std::string> Wrap(absl::string_view key,
                                   absl::string_view ctx) override {
    return inner_->Wrap(key, ctx);
  }
  absl::StatusOr<crypto::SecretKey> Unwrap(
      absl::string_view wrapped, absl::string_view ctx,
      const UnwrapJustification& why) override {
    unwraps.fetch_add(1);
    last_purpose = why.purpose;
    if (refuse_->load())
      return absl::PermissionDeniedError("key manager refused: " + why.purpose);
    return inner_->Unwrap(wrapped, ctx, why);
  }
  std::atomic<int> unwraps{0};
  std::string last_purpose;

 private:
  std::unique_ptr<FileKeyEncryptionKey> inner_;
  std::shared_ptr<std::atomic<bool>> refuse_;
};

using Snapshot = std::map<std::string, std::map<std::string, std::string>>;

Snapshot Scan(StorageDriver& storage) {
  Snapshot snap;
  for (Table t : kAllTables) {
    auto& m = snap[std::string(TableName(t))];
    EXPECT_TRUE(storage
                    .Scan(t,
                          [&](absl::string_view k, absl::string_view v) {
                            m.emplace(std::string(k), std::string(v));
                            return true;
                          })
                    .ok());
  }
  return snap;
}

class VaultTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open(size_t cache = 1000) {
    vault_.reset();
    auto storage = OpenRocksDbStorage(dir_.path());
    ASSERT_TRUE(storage.ok()) << storage.status();
    auto kek = std::make_unique<SwitchableKek>(refuse_);
    kek_ = kek.get();
    VaultOptions options;
    options.region = "eu";
    options.subject_cache_entries = cache;
    auto v = Vault::Open(deployment_, options, std::move(*storage),
                         std::move(kek), TestKey(9));
    ASSERT_TRUE(v.ok()) << v.status();
    vault_ = std::move(*v);
  }

  Record Parse(const std::string& body) {
    auto r = ParseRecordJson(deployment_.schema, body);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : Record{};
  }

  Record Ann() {
    return Parse(R"({"country":"IE","fields":{"email":"ann@mail.example",
        "phone":"+353861234567","name":"Ann O'Neill","birthdate":"1990-04-12",
        "uploaded_videos":["cat.mp4","dog.mp4"],"watch_history":["v1","v2"]}})");
  }

  const AccessContext ctx_{"eu-support-1", "customer_support"};
  Deployment deployment_ = TestDeployment();
  TempDir dir_;
  std::shared_ptr<std::atomic<bool>> refuse_ =
      std::make_shared<std::atomic<bool>>(false);
  SwitchableKek* kek_ = nullptr;
  std::unique_ptr<Vault> vault_;
};

TEST_F(VaultTest, PutGetRoundTripAndPersistence) {
  auto put = vault_->Put("ann", Ann());
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_TRUE(put->created);
  EXPECT_EQ(put->revision, 1u);
  EXPECT_EQ(put->jurisdiction, "eu");
  auto all = vault_->Get("ann", {}, ctx_);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(*all, Ann());
  auto some = vault_->Get("ann", {"phone", "email", "age"}, ctx_);
  ASSERT_TRUE(some.ok());
  ASSERT_EQ(some->fields.size(), 2u);  // no age stored
  EXPECT_EQ(some->fields[0].name, "phone");
  EXPECT_EQ(some->fields[0].value, "+353861234567");
  EXPECT_EQ(vault_->Get("ann", {"shoe_size"}, ctx_).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(vault_->Get("nobody", {}, ctx_).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(IsErased(vault_->Get("nobody", {}, ctx_).status()));
  EXPECT_EQ(*vault_->HomeJurisdiction("ann"), "eu");

  // A second PUT replaces the record and keeps the data key.
  Record updated =
      Parse(R"({"country":"DE","fields":{"email":"ann@new.example"}})");
  auto put2 = vault_->Put("ann", updated);
  ASSERT_TRUE(put2.ok());
  EXPECT_FALSE(put2->created);
  EXPECT_EQ(put2->revision, 2u);

  // Nothing in storage is readable personal data.
  Snapshot snap = Scan(vault_->storage());
  for (const auto& [table, entries] : snap) {
    for (const auto& [k, v] : entries) {
      EXPECT_EQ(v.find("ann@"), std::string::npos) << table;
      EXPECT_EQ(v.find("+353"), std::string::npos) << table;
    }
  }

  // Reopen with a cold cache: the record is read back through the KEK.
  Open();
  int before = kek_->unwraps.load();
  auto again = vault_->Get("ann", {}, ctx_);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, updated);
  EXPECT_EQ(kek_->unwraps.load(), before + 1);
  EXPECT_EQ(kek_->last_purpose, "customer_support");
  ASSERT_TRUE(vault_->Get("ann", {}, ctx_).ok());
  EXPECT_EQ(kek_->unwraps.load(), before + 1);  // cached
}

TEST_F(VaultTest, ReadsFillTheKeyCacheAndWritesKeepItCurrent) {
  // A write caches nothing: the first read unwraps, with the reader's purpose.
  ASSERT_TRUE(vault_->Put("ann", Ann()).ok());
  ASSERT_TRUE(vault_->Put("bob", Ann()).ok());
  int before = kek_->unwraps.load();
  ASSERT_TRUE(vault_->Get("ann", {}, ctx_).ok());
  EXPECT_EQ(kek_->unwraps.load(), before + 1);
  EXPECT_EQ(kek_->last_purpose, "customer_support");
  ASSERT_TRUE(vault_->Get("ann", {}, ctx_).ok());
  EXPECT_EQ(kek_->unwraps.load(), before + 1);

  // Updating a cached subject uses its cached key and replaces its entry: the
  // next read returns the new record without asking the KEK.
  Record updated =
      Parse(R"({"country":"IE","fields":{"email":"ann@new.example"}})");
  ASSERT_TRUE(vault_->Put("ann", updated).ok());
  EXPECT_EQ(kek_->unwraps.load(), before + 1);
  auto read = vault_->Get("ann", {}, ctx_);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, updated);
  EXPECT_EQ(kek_->unwraps.load(), before + 1);

  // Updating an uncached subject unwraps for the write and still caches
  // nothing.
  ASSERT_TRUE(vault_->Put("bob", updated).ok());
  EXPECT_EQ(kek_->unwraps.load(), before + 2);
  EXPECT_EQ(kek_->last_purpose, "write");
  ASSERT_TRUE(vault_->Get("bob", {}, ctx_).ok());
  EXPECT_EQ(kek_->unwraps.load(), before + 3);
}

TEST_F(VaultTest, ResidencyRefusalLeavesTheStoreUnchanged) {
  ASSERT_TRUE(vault_->Put("ann", Ann()).ok());
  ASSERT_TRUE(
      vault_->Put("gus", Parse(R"({"country":"CH","fields":{"name":"Gus"}})"))
          .ok());
  Snapshot before = Scan(vault_->storage());

  auto us = vault_->Put(
      "bob",
      Parse(R"({"country":"US","fields":{"email":"bob@mail.example"}})"));
  ASSERT_EQ(us.status().code(), absl::StatusCode::kFailedPrecondition);
  auto redirect = GetResidencyRedirect(us.status());
  ASSERT_TRUE(redirect.has_value());
  EXPECT_EQ(redirect->region, "us");
  EXPECT_EQ(redirect->jurisdiction, "us");
  EXPECT_EQ(redirect->endpoint, "http://127.0.0.1:8451");
  EXPECT_THAT(std::string(us.status().message()),
              HasSubstr("http://127.0.0.1:8451"));

  auto cn =
      vault_->Put("li", Parse(R"({"country":"CN","fields":{"name":"Li"}})"));
  ASSERT_EQ(cn.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(GetResidencyRedirect(cn.status()).has_value());
  EXPECT_THAT(std::string(cn.status().message()), HasSubstr("no home region"));

  // An existing EU subject re-sent with a US country is also refused, before
  // storage.
  auto move = vault_->Put("ann", Parse(R"({"country":"US","fields":{}})"));
  EXPECT_TRUE(GetResidencyRedirect(move.status()).has_value());
  // Same region, different jurisdiction: the home jurisdiction never changes
  // silently.
  auto ch = vault_->Put("ann", Parse(R"({"country":"CH","fields":{}})"));
  EXPECT_EQ(ch.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(ch.status().message()),
              HasSubstr("home jurisdiction eu"));
  // Country outside every jurisdiction.
  EXPECT_EQ(vault_->Put("x", Parse(R"({"country":"JP","fields":{}})"))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);

  EXPECT_EQ(Scan(vault_->storage()), before);
  EXPECT_EQ(vault_->Get("bob", {}, ctx_).status().code(),
            absl::StatusCode::kNotFound);

  // The US node accepts the same write.
  TempDir us_dir("vault-us");
  auto storage = OpenRocksDbStorage(us_dir.path());
  ASSERT_TRUE(storage.ok());
  VaultOptions us_options;
  us_options.region = "us";
  auto us_vault =
      Vault::Open(deployment_, us_options, std::move(*storage),
                  FileKeyEncryptionKey::FromKey(TestKey(6)), TestKey(9));
  ASSERT_TRUE(us_vault.ok());
  EXPECT_TRUE(
      (*us_vault)
          ->Put(
              "bob",
              Parse(R"({"country":"US","fields":{"email":"b@mail.example"}})"))
          .ok());
  us_vault->reset();
}

// PutBatch: one storage write for the items allowed; an item refused (as Put
// would refuse it) gets Put's error and adds nothing; a subject named twice
// is written on top of its first write.
TEST_F(VaultTest, PutBatchWritesTheAllowedItemsAndRefusesEachOtherAlone) {
  ASSERT_TRUE(vault_->Put("gone", Ann()).ok());
  ASSERT_TRUE(vault_->Erase("gone").ok());
  ASSERT_TRUE(vault_->Put("ann", Ann()).ok());
  Record dee =
      Parse(R"({"country":"DE","fields":{"email":"dee@mail.example"}})");
  Record dee2 = Parse(R"({"country":"DE","fields":{"name":"Dee"}})");
  Record us = Parse(R"({"country":"US","fields":{"email":"b@mail.example"}})");
  Record ch = Parse(R"({"country":"CH","fields":{}})");
  std::vector<Vault::BatchItem> items = {{"dee", &dee},     {"gone", &dee},
                                         {"bob", &us},      {"ann", &ch},
                                         {"bad id!", &dee}, {"dee", &dee2}};
  absl::Status write_status = absl::UnknownError("unset");
  auto results = vault_->PutBatch(items, &write_status);
  ASSERT_TRUE(write_status.ok()) << write_status;
  ASSERT_EQ(results.size(), items.size());
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  EXPECT_TRUE(results[0]->created);
  EXPECT_EQ(results[0]->revision, 1u);
  EXPECT_EQ(results[1].status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(results[1].status().message()),
              HasSubstr("was erased"));
  EXPECT_TRUE(GetResidencyRedirect(results[2].status()).has_value());
  EXPECT_THAT(std::string(results[3].status().message()),
              HasSubstr("home jurisdiction eu"));
  EXPECT_EQ(results[4].status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(results[5].ok()) << results[5].status();
  EXPECT_FALSE(results[5]->created);
  EXPECT_EQ(results[5]->revision, 2u);

  // Durable and as acknowledged after a reopen (cold cache).
  Open();
  auto got = vault_->Get("dee", {}, ctx_);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, dee2);
  auto ann = vault_->Get("ann", {}, ctx_);
  ASSERT_TRUE(ann.ok());
  EXPECT_EQ(*ann, Ann());
  EXPECT_TRUE(IsErased(vault_->Get("gone", {}, ctx_).status()));
  EXPECT_EQ(vault_->Get("bob", {}, ctx_).status().code(),
            absl::StatusCode::kNotFound);

  // A batch of refused items only leaves the store byte for byte as it was.
  Snapshot before = Scan(vault_->storage());
  std::vector<Vault::BatchItem> refused = {{"gone", &dee}, {"ann", &ch}};
  results = vault_->PutBatch(refused, &write_status);
  ASSERT_TRUE(write_status.ok());
  EXPECT_FALSE(results[0].ok());
  EXPECT_FALSE(results[1].ok());
  EXPECT_EQ(Scan(vault_->storage()), before);
}

TEST_F(VaultTest, SivTokensRoundTripOnlyThroughTheVault) {
  ASSERT_TRUE(vault_->Put("ann", Ann()).ok());
  ASSERT_TRUE(
      vault_
          ->Put("bea",
                Parse(R"({"country":"FR","fields":{"name":"Ann O'Neill"}})"))
          .ok());
  auto keys = vault_->TokenKeysFor("us", "analytics");
  auto ann_keys = vault_->SubjectKeys("ann", "us", "analytics", ctx_);
  auto bea_keys = vault_->SubjectKeys("bea", "us", "analytics", ctx_);
  ASSERT_TRUE(keys.ok() && ann_keys.ok() && bea_keys.ok());
  const FieldSpec* name = FindField(vault_->schema(), "name");
  auto token = vault_->pseudonymizer().Transform(*name, "Ann O'Neill",
                                                 TransformMode::kPseudonymize,
                                                 **keys, ann_keys->get());
  ASSERT_TRUE(token.ok());
  EXPECT_THAT(*token, StartsWith("stk_"));
  // The token is random-looking base64url: a short substring like "Ann" turns
  // up by chance about once in 7,000 runs, so the check is on a longer one.
  EXPECT_EQ(token->find("Neill"), std::string::npos);
  // Deterministic for the same subject, destination and purpose; different for
  // another subject with the same value.
  EXPECT_EQ(*token, *vault_->pseudonymizer().Transform(
                        *name, "Ann O'Neill", TransformMode::kPseudonymize,
                        **keys, ann_keys->get()));
  EXPECT_NE(*token, *vault_->pseudonymizer().Transform(
                        *name, "Ann O'Neill", TransformMode::kPseudonymize,
                        **keys, bea_keys->get()));

  auto back = vault_->Detokenize(*token, "name", "us", "analytics", ctx_);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->subject, "ann");
  EXPECT_EQ(back->value, "Ann O'Neill");
  // Not under another destination or purpose, not when altered.
  EXPECT_FALSE(
      vault_->Detokenize(*token, "name", "cn", "analytics", ctx_).ok());
  EXPECT_FALSE(
      vault_->Detokenize(*token, "name", "us", "recommendation", ctx_).ok());
  // Change a character inside the synthetic IV (the last character of unpadded
  // base64 may only carry ignored bits).
  std::string altered = *token;
  char& c = altered[4 + 25];
  c = c == 'A' ? 'B' : 'A';
  EXPECT_FALSE(
      vault_->Detokenize(altered, "name", "us", "analytics", ctx_).ok());
  EXPECT_EQ(vault_->Detokenize("stk_garbage", "name", "us", "analytics", ctx_)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  // A vault with the same storage but another pseudonym root cannot reverse it.
  TempDir b_dir("vault-b");
  auto root2 =
      Vault::Open(deployment_, {"eu"}, *OpenRocksDbStorage(b_dir.path()),
                  FileKeyEncryptionKey::FromKey(TestKey(5)), TestKey(10));
  ASSERT_TRUE(root2.ok());
  EXPECT_FALSE(
      (*root2)->Detokenize(*token, "name", "us", "analytics", ctx_).ok());
  root2->reset();
}

// A siv token opens only as the field it was issued for: a name token
// presented as uploaded_videos (also siv) is a field mismatch that reveals
// nothing, and a token sealed without a field (the format before fields were
// bound) no longer opens at all.
TEST_F(VaultTest, SivTokensAreBoundToTheirField) {
  ASSERT_TRUE(vault_->Put("ann", Ann()).ok());
  auto ann_keys = vault_->SubjectKeys("ann", "us", "analytics", ctx_);
  ASSERT_TRUE(ann_keys.ok());
  auto token = (*ann_keys)->SivToken("name", "Ann O'Neill");
  ASSERT_TRUE(token.ok());
  auto as_name = vault_->Detokenize(*token, "name", "us", "analytics", ctx_);
  ASSERT_TRUE(as_name.ok()) << as_name.status();
  EXPECT_EQ(as_name->value, "Ann O'Neill");
  auto as_videos =
      vault_->Detokenize(*token, "uploaded_videos", "us", "analytics", ctx_);
  ASSERT_FALSE(as_videos.ok());
  EXPECT_TRUE(IsFieldMismatch(as_videos.status())) << as_videos.status();
  EXPECT_THAT(std::string(as_videos.status().message()), Not(HasSubstr("Ann")));
  auto as_notes = vault_->Detokenize(*token, "notes", "us", "analytics", ctx_);
  EXPECT_TRUE(IsFieldMismatch(as_notes.status())) << as_notes.status();
  // Another subject's key does not make a mismatch out of a bad token.
  std::string altered = *token;
  char& c = altered[4 + 25];
  c = c == 'A' ? 'B' : 'A';
  auto bad = vault_->Detokenize(altered, "name", "us", "analytics", ctx_);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(IsFieldMismatch(bad.status()));
  // The field is authenticated, not merely labelled: OpenSiv under another
  // field fails.
  auto parts = ParseSivToken(*token);
  ASSERT_TRUE(parts.ok());
  EXPECT_FALSE((*ann_keys)->OpenSiv("uploaded_videos", parts->sealed).ok());
  EXPECT_EQ(*(*ann_keys)->OpenSiv("name", parts->sealed), "Ann O'Neill");
}

// The key ring keeps at most its capacity of (destination, purpose) pairs,
// however many distinct pairs are asked for, and an evicted pair derives the
// same keys again.
TEST(TokenKeyRingTest, CacheIsBounded) {
  TokenKeyRing ring(TestKey(7), /*capacity=*/64);
  auto first = ring.Get("us", "purpose-0");
  ASSERT_TRUE(first.ok());
  auto before = (*first)->HmacToken("value");
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(ring.Get("us", absl::StrCat("purpose-", i)).ok());
    EXPECT_LE(ring.CachedCount(), 64u);
  }
  auto again = ring.Get("us", "purpose-0");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*(*again)->HmacToken("value"), *before);
  TokenKeyRing default_ring(TestKey(7));
  for (int i = 0; i < 3000; ++i)
    ASSERT_TRUE(default_ring.Get("eu", absl::StrCat("p", i)).ok());
  EXPECT_LE(default_ring.CachedCount(), TokenKeyRing::kDefaultCapacity);
}

TEST_F(VaultTest, ErasureShredsKeysAndBreaksTokens) {
  ASSERT_TRUE(vault_->Put("ann", Ann()).ok());
  ASSERT_TRUE(
      vault_->Put("bea", Parse(R"({"country":"FR","fields":{"name":"Bea"}})"))
          .ok());
  auto keys = vault_->TokenKeysFor("us", "analytics");
  auto ann_keys = vault_->SubjectKeys("ann", "us", "analytics", ctx_);
  ASSERT_TRUE(keys.ok() && ann_keys.ok());
  auto token = (*ann_keys)->SivToken("name", "Ann O'Neill");
  ASSERT_TRUE(token.ok());
  ASSERT_TRUE(vault_->Detokenize(*token, "name", "us", "analytics", ctx_).ok());

  ASSERT_TRUE(vault_->Erase("ann").ok());
  EXPECT_TRUE(vault_->Erase("ann").ok());  // idempotent
  EXPECT_EQ(vault_->Erase("nobody").code(), absl::StatusCode::kNotFound);
  auto gone = vault_->Get("ann", {}, ctx_);
  EXPECT_TRUE(IsErased(gone.status())) << gone.status();
  EXPECT_TRUE(IsErased(vault_->HomeJurisdiction("ann").status()));
  EXPECT_TRUE(
      IsErased(vault_->SubjectKeys("ann", "us", "analytics", ctx_).status()));
  EXPECT_EQ(vault_->Detokenize(*token, "name", "us", "analytics", ctx_)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(vault_->Put("ann", Ann()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // Other subjects are untouched.
  EXPECT_TRUE(vault_->Get("bea", {}, ctx_).ok());

  // Nothing of ann but the tombstone is left, even after a restart and a purge.
  Open();
  ASSERT_TRUE(vault_->PurgeErased().ok());
  Snapshot snap = Scan(vault_->storage());
  ASSERT_EQ(snap["subjects"].count("ann"), 1u);
  auto tombstone = SubjectRow::Decode(snap["subjects"]["ann"]);
  ASSERT_TRUE(tombstone.ok()) << tombstone.status();
  EXPECT_FALSE(tombstone->live());
  EXPECT_TRUE(tombstone->wrapped_key.empty());
  EXPECT_TRUE(tombstone->sealed_record.empty());
  EXPECT_EQ(tombstone->jurisdiction, "eu");
  EXPECT_EQ(snap["token_index"].size(), 1u);  // bea's handle only
  EXPECT_TRUE(IsErased(vault_->Get("ann", {}, ctx_).status()));
  EXPECT_EQ(vault_->Detokenize(*token, "name", "us", "analytics", ctx_)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

TEST_F(VaultTest, KekRefusalMakesDataUnreadable) {
  ASSERT_TRUE(vault_->Put("ann", Ann()).ok());
  Open(/*cache=*/0);  // every read goes to the KEK
  refuse_->store(true);
  auto r = vault_->Get("ann", {}, ctx_);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("customer_support"));
  refuse_->store(false);
  EXPECT_TRUE(vault_->Get("ann", {}, ctx_).ok());
  EXPECT_EQ(vault_->Get("ann", {}, {"", ""}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(VaultTest, TamperedStorageIsDetected) {
  ASSERT_TRUE(vault_->Put("ann", Ann()).ok());
  ASSERT_TRUE(
      vault_->Put("bea", Parse(R"({"country":"FR","fields":{"name":"Bea"}})"))
          .ok());
  auto row_of = [&](const char* subject) {
    std::string bytes;
    EXPECT_TRUE(*vault_->storage().Get(Table::kSubjects, subject, &bytes));
    auto row = SubjectRow::Decode(bytes);
    EXPECT_TRUE(row.ok()) << row.status();
    return row.ok() ? *row : SubjectRow{};
  };
  auto store = [&](const char* subject, const SubjectRow& row) {
    WriteBatch b;
    b.Put(Table::kSubjects, subject, row.Encode());
    ASSERT_TRUE(vault_->storage().Write(b).ok());
    vault_->DropKeyCache();
  };
  const SubjectRow ann = row_of("ann");
  const SubjectRow bea = row_of("bea");
  // Swapping ciphertexts between subjects fails: the subject id is bound as
  // AAD.
  SubjectRow swapped = ann;
  swapped.sealed_record = bea.sealed_record;
  store("ann", swapped);
  EXPECT_EQ(vault_->Get("ann", {}, ctx_).status().code(),
            absl::StatusCode::kDataLoss);
  // So is the revision: an old ciphertext replayed under a newer row fails.
  SubjectRow replayed = ann;
  replayed.revision += 1;
  store("ann", replayed);
  EXPECT_EQ(vault_->Get("ann", {}, ctx_).status().code(),
            absl::StatusCode::kDataLoss);
  // A flipped bit fails too.
  SubjectRow flipped = ann;
  flipped.sealed_record[flipped.sealed_record.size() / 2] ^= 1;
  store("ann", flipped);
  EXPECT_EQ(vault_->Get("ann", {}, ctx_).status().code(),
            absl::StatusCode::kDataLoss);
  // A wrapped key moved to another subject does not unwrap.
  SubjectRow moved = ann;
  moved.wrapped_key = bea.wrapped_key;
  store("ann", moved);
  EXPECT_EQ(vault_->Get("ann", {}, ctx_).status().code(),
            absl::StatusCode::kDataLoss);
  // The untouched row still reads.
  store("ann", ann);
  EXPECT_TRUE(vault_->Get("ann", {}, ctx_).ok());
}

TEST_F(VaultTest, ConcurrentWritersAndReaders) {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        std::string id = "s" + std::to_string(i % 50);
        Record r = Parse(R"({"country":"IE","fields":{"device_id":"d)" +
                         std::to_string(t) + R"("}})");
        if (!vault_->Put(id, r).ok()) failures.fetch_add(1);
        if (!vault_->Get(id, {}, ctx_).ok()) failures.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto meta = vault_->Get("s1", {}, ctx_);
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(meta->fields.size(), 1u);
}

TEST_F(VaultTest, SubjectCacheStaysCoherent) {
  ASSERT_TRUE(vault_->Put("ann", Ann()).ok());
  ASSERT_TRUE(vault_->Get("ann", {}, ctx_).ok());
  Record updated = Parse(R"({"country":"IE","fields":{"name":"Ann B"}})");
  ASSERT_TRUE(vault_->Put("ann", updated).ok());
  EXPECT_EQ(*vault_->Get("ann", {}, ctx_), updated);
  ASSERT_TRUE(vault_->Erase("ann").ok());
  EXPECT_TRUE(IsErased(vault_->Get("ann", {}, ctx_).status()));
  // Concurrent updates: the last acknowledged write is what every later read
  // sees.
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        Record r = Parse(R"({"country":"IE","fields":{"device_id":"d)" +
                         std::to_string(t * 1000 + i) + R"("}})");
        ASSERT_TRUE(vault_->Put("s", r).ok());
        ASSERT_TRUE(vault_->Get("s", {}, ctx_).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  auto cached = vault_->Get("s", {}, ctx_);
  ASSERT_TRUE(cached.ok());
  Open(/*cache=*/0);  // straight from storage
  EXPECT_EQ(*vault_->Get("s", {}, ctx_), *cached);
}

TEST_F(VaultTest, RefusesBadInputBeforeStorage) {
  Snapshot before = Scan(vault_->storage());
  EXPECT_EQ(vault_->Put("bad id", Ann()).status().code(),
            absl::StatusCode::kInvalidArgument);
  Record bad = Ann();
  bad.fields.push_back({"shoe_size", false, "42", {}});
  auto r = vault_->Put("ann", bad);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("shoe_size"));
  EXPECT_EQ(Scan(vault_->storage()), before);
  TempDir m_dir("vault-m");
  EXPECT_FALSE(
      Vault::Open(deployment_, {"mars"}, *OpenRocksDbStorage(m_dir.path()),
                  FileKeyEncryptionKey::FromKey(TestKey(5)), TestKey(9))
          .ok());
}

// A vault over the RocksDB store in `dir` with `kek`, region "eu".
std::unique_ptr<Vault> OpenVaultAt(const std::string& dir,
                                   std::unique_ptr<KeyEncryptionKey> kek) {
  auto storage = OpenRocksDbStorage(dir);
  EXPECT_TRUE(storage.ok()) << storage.status();
  if (!storage.ok()) return nullptr;
  VaultOptions options;
  options.region = "eu";
  auto v = Vault::Open(TestDeployment(), options, std::move(*storage),
                       std::move(kek), TestKey(9));
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? *std::move(v) : nullptr;
}

// The KEK of key TestKey(current) with that of TestKey(retired) retired.
std::unique_ptr<KeyEncryptionKey> RotatedKek(uint8_t current, uint8_t retired) {
  std::vector<std::unique_ptr<KeyEncryptionKey>> old;
  old.push_back(FileKeyEncryptionKey::FromKey(TestKey(retired)));
  auto ring = KekRing::Create(FileKeyEncryptionKey::FromKey(TestKey(current)),
                              std::move(old));
  EXPECT_TRUE(ring.ok()) << ring.status();
  return ring.ok() ? *std::move(ring) : nullptr;
}

// Stores `subjects` (name field only) under the file KEK of TestKey(kek).
void PutUnder(const std::string& dir, uint8_t kek,
              const std::vector<std::string>& subjects) {
  auto v = OpenVaultAt(dir, FileKeyEncryptionKey::FromKey(TestKey(kek)));
  ASSERT_NE(v, nullptr);
  for (const std::string& s : subjects) {
    auto r = ParseRecordJson(
        v->schema(),
        absl::StrCat(R"({"country":"IE","fields":{"name":")", s, "\"}}"));
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_TRUE(v->Put(s, *r).ok());
  }
}

// KEK rotation: data written under K1; the ring (K2 current, K1 retired)
// reads it, writes move a subject's key to K2, RewrapKeys moves the rest, and
// then K2 alone reads everything, old siv tokens included.
TEST(VaultKekRotationTest, WritesAndRewrapMoveKeysToTheCurrentKek) {
  TempDir dir;
  const Deployment deployment = TestDeployment();
  const AccessContext ctx{"eu-support-1", "customer_support"};
  auto open = [&](std::unique_ptr<KeyEncryptionKey> kek) {
    return OpenVaultAt(dir.path(), std::move(kek));
  };
  auto record = [&](const std::string& name) {
    auto r = ParseRecordJson(
        deployment.schema,
        absl::StrCat(R"({"country":"IE","fields":{"name":")", name, "\"}}"));
    EXPECT_TRUE(r.ok()) << r.status();
    return *r;
  };
  auto row_of = [](Vault& v, const std::string& subject) {
    std::string bytes;
    EXPECT_TRUE(*v.storage().Get(Table::kSubjects, subject, &bytes));
    auto row = SubjectRow::Decode(bytes);
    EXPECT_TRUE(row.ok());
    return *row;
  };
  const std::string k1 =
      std::string(FileKeyEncryptionKey::FromKey(TestKey(1))->id());
  const std::string k2 =
      std::string(FileKeyEncryptionKey::FromKey(TestKey(2))->id());

  std::string token;
  {
    auto v = open(FileKeyEncryptionKey::FromKey(TestKey(1)));
    ASSERT_NE(v, nullptr);
    for (const char* s : {"ann", "bob", "cat"})
      ASSERT_TRUE(v->Put(s, record(s)).ok());
    ASSERT_TRUE(v->Erase("cat").ok());
    auto keys = v->SubjectKeys("ann", "us", "analytics", ctx);
    ASSERT_TRUE(keys.ok());
    auto t = (*keys)->SivToken("name", "ann");
    ASSERT_TRUE(t.ok());
    token = *t;
  }
  {
    // K2 alone cannot read the epoch key K1 wrapped (so no data key), and
    // says which KEK is missing.
    auto storage = OpenRocksDbStorage(dir.path());
    ASSERT_TRUE(storage.ok());
    VaultOptions options;
    options.region = "eu";
    auto r = Vault::Open(deployment, options, std::move(*storage),
                         FileKeyEncryptionKey::FromKey(TestKey(2)), TestKey(9));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(k1));
  }
  {
    auto v = open(RotatedKek(2, 1));
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(v->kek_id(), k2);
    auto ann = v->Get("ann", {}, ctx);
    ASSERT_TRUE(ann.ok()) << ann.status();
    ASSERT_NE(ann->Find("name"), nullptr);
    EXPECT_EQ(ann->Find("name")->value, "ann");
    EXPECT_EQ(*v->WrappingKekId("ann"), k1);
    // A write re-wraps: bob's key is under K2 from now on.
    ASSERT_TRUE(v->Put("bob", record("bobby")).ok());
    EXPECT_EQ(*v->WrappingKekId("bob"), k2);
    // A new subject is wrapped by K2 directly.
    ASSERT_TRUE(v->Put("dan", record("dan")).ok());
    EXPECT_EQ(*v->WrappingKekId("dan"), k2);

    const SubjectRow before = row_of(*v, "ann");
    auto report = v->RewrapKeys();
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(report->rewrapped, 1u);  // ann
    EXPECT_EQ(report->current, 2u);    // bob, dan
    EXPECT_EQ(report->erased, 1u);     // cat
    const SubjectRow after = row_of(*v, "ann");
    EXPECT_EQ(*v->WrappingKekId("ann"), k2);
    // Only the wrapping changed: same revision, same sealed record, so the
    // record is not re-encrypted and stays bound to its revision.
    EXPECT_EQ(after.revision, before.revision);
    EXPECT_EQ(after.sealed_record, before.sealed_record);
    EXPECT_EQ(after.handle, before.handle);
    auto again = v->RewrapKeys();
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->rewrapped, 0u);
    EXPECT_EQ(again->current, 3u);
  }
  {
    // K1 can now be destroyed: K2 alone reads every live subject and
    // resolves the token issued before the rotation.
    auto v = open(FileKeyEncryptionKey::FromKey(TestKey(2)));
    ASSERT_NE(v, nullptr);
    for (const char* s : {"ann", "bob", "dan"})
      EXPECT_TRUE(v->Get(s, {}, ctx).ok()) << s;
    EXPECT_TRUE(IsErased(v->Get("cat", {}, ctx).status()));
    auto back = v->Detokenize(token, "name", "us", "analytics", ctx);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->subject, "ann");
    EXPECT_EQ(back->value, "ann");
  }
}

TEST(VaultKekRotationTest, AStoreWhoseEpochKeyNoKekOfTheRingHoldsDoesNotOpen) {
  TempDir dir;
  PutUnder(dir.path(), 1, {"ann"});
  // The epoch key is KEK 1's: the vault does not even open, and says why.
  auto storage = OpenRocksDbStorage(dir.path());
  ASSERT_TRUE(storage.ok());
  VaultOptions options;
  options.region = "eu";
  auto v = Vault::Open(TestDeployment(), options, std::move(*storage),
                       RotatedKek(2, 3), TestKey(9));
  EXPECT_EQ(v.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(v.status().message()), HasSubstr("epoch key"));
}

TEST(RocksDbVaultStorageTest, CompareAndPutReplacesOnlyTheExpectedValue) {
  TempDir dir;
  auto storage = OpenRocksDbStorage(dir.path());
  ASSERT_TRUE(storage.ok());
  StorageDriver& s = **storage;
  EXPECT_FALSE(*s.CompareAndPut(Table::kSubjects, "ann", "", "x"));  // absent
  WriteBatch batch;
  batch.Put(Table::kSubjects, "ann", "v1");
  ASSERT_TRUE(s.Write(batch).ok());
  EXPECT_FALSE(*s.CompareAndPut(Table::kSubjects, "ann", "v0", "v2"));
  std::string v;
  ASSERT_TRUE(*s.Get(Table::kSubjects, "ann", &v));
  EXPECT_EQ(v, "v1");
  EXPECT_TRUE(*s.CompareAndPut(Table::kSubjects, "ann", "v1", "v2"));
  ASSERT_TRUE(*s.Get(Table::kSubjects, "ann", &v));
  EXPECT_EQ(v, "v2");
  EXPECT_FALSE(*s.Get(Table::kTokens, "ann", &v));  // other tables untouched
}

// Storage shared with "another node" that writes the subject's row between
// RewrapKeys' read and its conditional write, as a node of another DC may.
class RacingStorage : public StorageDriver {
 public:
  explicit RacingStorage(std::unique_ptr<StorageDriver> inner)
      : inner_(std::move(inner)) {}
  absl::StatusOr<bool> Get(Table t, absl::string_view k,
                           std::string* v) override {
    return inner_->Get(t, k, v);
  }
  absl::Status Write(const WriteBatch& b) override { return inner_->Write(b); }
  absl::StatusOr<bool> CompareAndPut(Table t, absl::string_view k,
                                     absl::string_view expected,
                                     absl::string_view desired) override {
    if (races_left > 0) {
      --races_left;
      // The other node's write: a new revision, its key still under the old
      // KEK (that node has not been given the new one yet).
      auto row = SubjectRow::Decode(expected);
      EXPECT_TRUE(row.ok());
      row->revision += 1;
      row->sealed_record = "other node's record";
      WriteBatch b;
      b.Put(t, k, row->Encode());
      EXPECT_TRUE(inner_->Write(b).ok());
    }
    return inner_->CompareAndPut(t, k, expected, desired);
  }
  absl::Status Scan(Table t,
                    const std::function<bool(absl::string_view,
                                             absl::string_view)>& fn) override {
    return inner_->Scan(t, fn);
  }
  absl::Status Purge(Table t) override { return inner_->Purge(t); }
  int races_left = 0;

 private:
  std::unique_ptr<StorageDriver> inner_;
};

TEST(VaultKekRotationTest, RewrapNeverOverwritesAConcurrentWrite) {
  TempDir dir;
  const Deployment deployment = TestDeployment();
  auto rocks = OpenRocksDbStorage(dir.path());
  ASSERT_TRUE(rocks.ok());
  auto racing = std::make_unique<RacingStorage>(*std::move(rocks));
  RacingStorage* storage = racing.get();
  // Rows written under KEK 1, as a node without the new KEK writes them.
  {
    auto k1 = FileKeyEncryptionKey::FromKey(TestKey(1));
    SubjectRow row;
    row.state = SubjectRow::State::kLive;
    row.revision = 1;
    row.jurisdiction = "eu";
    row.handle.fill(7);
    auto wrapped = k1->Wrap(std::string(32, 'd'), "ann");
    ASSERT_TRUE(wrapped.ok());
    row.wrapped_key = *wrapped;
    row.sealed_record = "first record";
    WriteBatch b;
    b.Put(Table::kSubjects, "ann", row.Encode());
    ASSERT_TRUE(storage->Write(b).ok());
  }
  auto v = Vault::Open(deployment, {"eu"}, std::move(racing), RotatedKek(2, 1),
                       TestKey(9));
  ASSERT_TRUE(v.ok()) << v.status();
  storage->races_left = 2;
  auto report = (*v)->RewrapKeys();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->rewrapped, 1u);
  EXPECT_EQ(storage->races_left, 0);
  std::string bytes;
  ASSERT_TRUE(*(*v)->storage().Get(Table::kSubjects, "ann", &bytes));
  auto row = SubjectRow::Decode(bytes);
  ASSERT_TRUE(row.ok());
  // Both concurrent writes survive; the key moved to KEK 2 on top of them.
  EXPECT_EQ(row->revision, 3u);
  EXPECT_EQ(row->sealed_record, "other node's record");
  EXPECT_EQ(*(*v)->WrappingKekId("ann"), (*v)->kek_id());
}

TEST(VaultKekRotationTest, RewrapStopsWhenAskedTo) {
  TempDir dir;
  PutUnder(dir.path(), 1, {"ann", "bob"});
  auto v = OpenVaultAt(dir.path(), RotatedKek(2, 1));
  ASSERT_NE(v, nullptr);
  int asked = 0;
  auto report = v->RewrapKeys([&] { return ++asked < 2; });
  EXPECT_TRUE(absl::IsCancelled(report.status())) << report.status();
  EXPECT_THAT(std::string(report.status().message()), HasSubstr("after 1"));
  auto rest = v->RewrapKeys();
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->rewrapped, 1u);
  EXPECT_EQ(rest->current, 1u);
}

TEST(KeyEncryptionKeyTest, WrapUnwrapBindsContextAndKek) {
  auto kek = FileKeyEncryptionKey::FromKey(TestKey(1));
  auto other = FileKeyEncryptionKey::FromKey(TestKey(2));
  EXPECT_NE(kek->id(), other->id());
  std::string dk(32, 'k');
  auto wrapped = kek->Wrap(dk, "ann");
  ASSERT_TRUE(wrapped.ok());
  EXPECT_EQ(wrapped->find(dk), std::string::npos);
  EXPECT_EQ(WrappedKeyKekId(*wrapped), kek->id());
  UnwrapJustification why{"vault", "test", "ann"};
  auto key = kek->Unwrap(*wrapped, "ann", why);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(std::string(key->begin(), key->end()), dk);
  EXPECT_EQ(kek->Unwrap(*wrapped, "bob", why).status().code(),
            absl::StatusCode::kDataLoss);
  auto foreign = other->Unwrap(*wrapped, "ann", why);
  EXPECT_EQ(foreign.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(foreign.status().message()),
              HasSubstr(std::string(kek->id())));
  EXPECT_EQ(kek->Unwrap(*wrapped, "ann", {"", "x", "ann"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(kek->Wrap("short", "ann").ok());
  EXPECT_FALSE(kek->Unwrap("", "ann", why).ok());
}

}  // namespace
}  // namespace clover::vault
