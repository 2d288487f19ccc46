#include "entry/erasure_attestation.h"

#include "absl/strings/escaping.h"
#include "entry/log_entry.h"
#include "gtest/gtest.h"
#include "log/merkle.h"

namespace clover::entry {
namespace {

TEST(ErasureAttestationTest, RootIsRfc6962OverSortedUniquePseudonyms) {
  const std::string root = ErasedSubjectsRoot({"b", "a", "b"});
  const log::Hash expected =
      log::NodeHash(log::LeafHash("a"), log::LeafHash("b"));
  EXPECT_EQ(root, absl::BytesToHexString(absl::string_view(
                      reinterpret_cast<const char*>(expected.data()), 32)));
  EXPECT_EQ(ErasedSubjectsRoot({"a", "b"}), root);
  EXPECT_NE(ErasedSubjectsRoot({"a"}), root);
  // The empty set is SHA-256 of nothing.
  EXPECT_EQ(ErasedSubjectsRoot({}),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(ErasureAttestationTest, RoundTripsAndIsTypedByTheEntryParser) {
  ErasurePurge a;
  a.time = absl::FromUnixMillis(1'790'000'000'123);
  a.node = "ie-dub-1";
  a.region = "eu";
  a.cut_log_size = 42;
  a.erased = 2;
  a.erased_root = ErasedSubjectsRoot({"p1", "p2"});
  a.rewrapped = 7;
  a.live = 9;
  a.destroyed_epochs = {"epoch:00112233aabbccdd"};
  a.new_epoch = "epoch:0011223344556677";
  const std::string json = ErasurePurgeJson(a);
  auto back = ParseErasurePurge(json);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->time, a.time);
  EXPECT_EQ(back->cut_log_size, 42u);
  EXPECT_EQ(back->erased_root, a.erased_root);
  EXPECT_EQ(back->destroyed_epochs, a.destroyed_epochs);
  EXPECT_EQ(back->new_epoch, a.new_epoch);
  LogEntry e;
  ASSERT_TRUE(ParseLogEntry(json, &e).ok());
  EXPECT_EQ(e.type, EntryType::kErasurePurge);
  EXPECT_EQ(
      ParseErasurePurge(R"({"type":"erasure_purge","v":1})").status().code(),
      absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace clover::entry
