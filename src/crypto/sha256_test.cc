#include "crypto/sha256.h"

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace clover::crypto {
namespace {

std::string Hex(const Sha256Digest& d) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

TEST(Sha256Test, FipsVectors) {
  EXPECT_EQ(Hex(Sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Hex(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(
      Hex(Sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256Test, IncrementalMatchesOneShotAndResets) {
  Sha256Hasher h;
  std::string msg(1000, 'a');
  for (size_t split = 0; split <= msg.size(); split += 97) {
    h.Update(absl::string_view(msg).substr(0, split));
    h.Update(absl::string_view(msg).substr(split));
    EXPECT_EQ(h.Finish(), Sha256(msg)) << split;
  }
  h.Update("garbage");
  h.Reset();
  h.Update("abc");
  EXPECT_EQ(h.Finish(), Sha256("abc"));
  // One million 'a' (FIPS 180-2 long vector) via many small updates.
  for (int i = 0; i < 1000; ++i) h.Update(msg);
  EXPECT_EQ(Hex(h.Finish()),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

}  // namespace
}  // namespace clover::crypto
