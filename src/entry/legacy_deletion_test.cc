#include "entry/legacy_deletion.h"

#include "entry/erasure_attestation.h"
#include "entry/log_entry.h"
#include "gtest/gtest.h"

namespace clover::entry {
namespace {

LegacyDeletion Sample() {
  LegacyDeletion a;
  a.time = absl::FromUnixMillis(1'790'000'000'123);
  a.node = "ie-dub-1";
  a.region = "eu";
  a.migration = "crm-2026";
  a.source = "postgres:127.0.0.1:5432/legacy/users";
  a.batch = 3;
  a.records = 2;
  a.subjects_root = MigratedSubjectsRoot({"p2", "p1"});
  a.key_hashes = {LegacyKeyHash(a.source, "u-2"),
                  LegacyKeyHash(a.source, "u-1")};
  a.write_indexes = {17, 12};
  return a;
}

TEST(LegacyDeletionTest, KeyHashSeparatesSourceAndKey) {
  EXPECT_EQ(LegacyKeyHash("s", "k").size(), 64u);
  EXPECT_EQ(LegacyKeyHash("s", "k"), LegacyKeyHash("s", "k"));
  EXPECT_NE(LegacyKeyHash("s", "k"), LegacyKeyHash("s", "k2"));
  EXPECT_NE(LegacyKeyHash("ab", "c"), LegacyKeyHash("a", "bc"));
  // Known answer: SHA-256("clover-legacy-key/v1\0s\0k").
  EXPECT_EQ(LegacyKeyHash("s", "k"),
            "680f3f658c46d05d72516cdaeed9401368aea7b7d72ac46102b49a814488e1ca");
}

TEST(LegacyDeletionTest, SubjectsRootIsTheErasureSetRule) {
  EXPECT_EQ(MigratedSubjectsRoot({"b", "a", "a"}),
            ErasedSubjectsRoot({"a", "b"}));
}

TEST(LegacyDeletionTest, RoundTripsCanonicallyAndIsTypedByTheEntryParser) {
  const LegacyDeletion a = Sample();
  const std::string json = LegacyDeletionJson(a);
  absl::StatusOr<LegacyDeletion> back = ParseLegacyDeletion(json);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->time, a.time);
  EXPECT_EQ(back->migration, "crm-2026");
  EXPECT_EQ(back->source, a.source);
  EXPECT_EQ(back->batch, 3u);
  EXPECT_EQ(back->records, 2u);
  EXPECT_EQ(back->subjects_root, a.subjects_root);
  EXPECT_EQ(back->write_indexes, (std::vector<uint64_t>{12, 17}));
  ASSERT_EQ(back->key_hashes.size(), 2u);
  EXPECT_LT(back->key_hashes[0], back->key_hashes[1]);
  EXPECT_EQ(LegacyDeletionJson(*back), json);
  LogEntry e;
  ASSERT_TRUE(ParseLogEntry(json, &e).ok());
  EXPECT_EQ(e.type, EntryType::kLegacyDeletion);
  EXPECT_EQ(e.time, a.time);
}

TEST(LegacyDeletionTest, RefusesInconsistentOrMalformedEntries) {
  const std::string good = LegacyDeletionJson(Sample());
  auto refused = [](std::string json, absl::string_view member) {
    absl::StatusOr<LegacyDeletion> r = ParseLegacyDeletion(json);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << json;
    EXPECT_NE(r.status().message().find(member), absl::string_view::npos)
        << r.status();
  };
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    s.replace(at, from.size(), to);
    return s;
  };
  refused(replace("\"records\":2", "\"records\":3"), "records");
  refused(replace("[12,17]", "[17,12]"), "write_indexes");
  refused(replace("[12,17]", "[12,12]"), "write_indexes");
  refused(replace("[12,17]", "[12,-1]"), "write_indexes");
  refused(replace("\"batch\":3", "\"batch\":\"3\""), "batch");
  refused(replace("\"v\":1", "\"v\":2"), "'v'");
  refused(replace("\"type\":\"legacy_deletion\"", "\"type\":\"write\""),
          "type");
  std::string swapped = good;
  const size_t open = swapped.find("[\"") + 1;
  const size_t comma = swapped.find("\",\"", open);
  const std::string first = swapped.substr(open, comma + 1 - open);
  const size_t end = swapped.find("\"]", comma) + 1;
  const std::string second = swapped.substr(comma + 2, end - comma - 2);
  swapped.replace(open, end - open, second + "," + first);
  refused(swapped, "key_hashes");
  EXPECT_FALSE(ParseLegacyDeletion("[]").ok());
  EXPECT_FALSE(ParseLegacyDeletion("{").ok());
}

}  // namespace
}  // namespace clover::entry
