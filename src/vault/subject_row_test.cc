#include "vault/subject_row.h"

#include "gtest/gtest.h"

namespace clover::vault {
namespace {

SubjectRow LiveRow() {
  SubjectRow row;
  row.revision = 7;
  row.micros = 1'790'000'000'000'000;
  row.jurisdiction = "eu";
  for (size_t i = 0; i < row.handle.size(); ++i) row.handle[i] = i * 13;
  row.wrapped_key = std::string(60, '\x01');
  row.sealed_record = std::string("nonce-ciphertext-tag\0x", 22);
  return row;
}

void ExpectSame(const SubjectRow& a, const SubjectRow& b) {
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.revision, b.revision);
  EXPECT_EQ(a.micros, b.micros);
  EXPECT_EQ(a.jurisdiction, b.jurisdiction);
  EXPECT_EQ(a.handle, b.handle);
  EXPECT_EQ(a.wrapped_key, b.wrapped_key);
  EXPECT_EQ(a.sealed_record, b.sealed_record);
}

TEST(SubjectRowTest, LiveRowRoundTrips) {
  SubjectRow row = LiveRow();
  auto back = SubjectRow::Decode(row.Encode());
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSame(row, *back);
  row.micros = -1;
  row.revision = ~uint64_t{0};
  row.wrapped_key = std::string(300, 'w');  // length needs both bytes
  back = SubjectRow::Decode(row.Encode());
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSame(row, *back);
}

TEST(SubjectRowTest, TombstoneHoldsNoKeyAndNoRecord) {
  SubjectRow row = LiveRow();
  row.state = SubjectRow::State::kErased;
  std::string bytes = row.Encode();
  EXPECT_EQ(bytes.size(), 19u + row.jurisdiction.size());
  EXPECT_EQ(bytes.find(row.wrapped_key), std::string::npos);
  auto back = SubjectRow::Decode(bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_FALSE(back->live());
  EXPECT_TRUE(back->wrapped_key.empty());
  EXPECT_TRUE(back->sealed_record.empty());
  EXPECT_EQ(back->jurisdiction, "eu");
  EXPECT_EQ(back->revision, 7u);
}

TEST(SubjectRowTest, RefusesEveryTruncationAndBadHeader) {
  const std::string live = LiveRow().Encode();
  // Every strict prefix is refused, except none: a live row must carry a
  // non-empty sealed record after its key.
  for (size_t n = 0; n < live.size() - 22; ++n) {
    EXPECT_FALSE(SubjectRow::Decode(live.substr(0, n)).ok()) << n;
  }
  std::string bad_format = live;
  bad_format[0] = 1;
  EXPECT_EQ(SubjectRow::Decode(bad_format).status().code(),
            absl::StatusCode::kDataLoss);
  std::string bad_state = live;
  bad_state[1] = 3;
  EXPECT_FALSE(SubjectRow::Decode(bad_state).ok());
  SubjectRow erased = LiveRow();
  erased.state = SubjectRow::State::kErased;
  EXPECT_FALSE(SubjectRow::Decode(erased.Encode() + "x").ok());
  SubjectRow no_key = LiveRow();
  no_key.wrapped_key.clear();
  EXPECT_FALSE(SubjectRow::Decode(no_key.Encode()).ok());
  SubjectRow no_record = LiveRow();
  no_record.sealed_record.clear();
  EXPECT_FALSE(SubjectRow::Decode(no_record.Encode()).ok());
}

}  // namespace
}  // namespace clover::vault
