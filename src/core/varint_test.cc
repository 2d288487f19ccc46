#include "core/varint.h"

#include <string>

#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace clover {
namespace {

TEST(VarintTest, RoundTripsBoundaries) {
  const uint64_t values[] = {0,
                             1,
                             127,
                             128,
                             16383,
                             16384,
                             1u << 31,
                             (1ull << 35) + 3,
                             UINT64_MAX - 1,
                             UINT64_MAX};
  std::string bytes;
  for (uint64_t v : values) AppendVarint64(v, &bytes);
  EXPECT_EQ(bytes.size(), 1u + 1 + 1 + 2 + 2 + 3 + 5 + 6 + 10 + 10);
  absl::string_view in = bytes;
  for (uint64_t want : values) {
    uint64_t got = 0;
    ASSERT_TRUE(ReadVarint64(&in, &got)) << want;
    EXPECT_EQ(got, want);
  }
  EXPECT_TRUE(in.empty());
}

TEST(VarintTest, RefusesTruncatedAndOversized) {
  uint64_t v = 0;
  absl::string_view truncated("\x80\x80", 2);
  EXPECT_FALSE(ReadVarint64(&truncated, &v));
  absl::string_view empty;
  EXPECT_FALSE(ReadVarint64(&empty, &v));
  // Ten bytes whose last carries more than the 64th bit.
  absl::string_view oversized("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 10);
  EXPECT_FALSE(ReadVarint64(&oversized, &v));
  // Eleven bytes.
  absl::string_view long_one("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00",
                             11);
  EXPECT_FALSE(ReadVarint64(&long_one, &v));
}

}  // namespace
}  // namespace clover
