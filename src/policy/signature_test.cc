#include "policy/signature.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "core/test_temp_dir.h"
#include "crypto/ed25519.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "log/note.h"
#include "policy/bundle.h"
#include "policy/loader.h"

namespace clover::policy {
namespace {

using ::testing::HasSubstr;

struct KeyPair {
  std::string signer;
  std::string verifier;
};

KeyPair NewKeys(const std::string& name) {
  absl::StatusOr<crypto::Ed25519PrivateKey> key =
      crypto::Ed25519PrivateKey::Generate();
  EXPECT_TRUE(key.ok());
  KeyPair k;
  k.signer = log::FormatSignerKey(name, log::kNoteTypeEd25519, *key);
  k.verifier =
      log::FormatVerifierKey(name, log::kNoteTypeEd25519, key->public_key());
  return k;
}

const std::string kHash(64, 'a');

TEST(SignatureTest, SignsAndVerifies) {
  const KeyPair auditor = NewKeys("auditor.example");
  absl::StatusOr<std::string> note = SignPolicy(kHash, auditor.signer);
  ASSERT_TRUE(note.ok()) << note.status();
  EXPECT_TRUE(absl::StartsWith(*note, PolicyNoteText(kHash)));
  EXPECT_THAT(*note, HasSubstr("\n\n\xe2\x80\x94 auditor.example "));
  const std::vector<std::string> keys = {auditor.verifier};
  EXPECT_TRUE(VerifyPolicySignature(kHash, *note, keys).ok());
}

TEST(SignatureTest, RejectsOtherBundlesKeysAndTampering) {
  const KeyPair auditor = NewKeys("auditor.example");
  const KeyPair mallory = NewKeys("auditor.example");  // same name, other key
  absl::StatusOr<std::string> note = SignPolicy(kHash, auditor.signer);
  ASSERT_TRUE(note.ok());
  const std::vector<std::string> good = {auditor.verifier};
  const std::vector<std::string> bad = {mallory.verifier};
  EXPECT_EQ(VerifyPolicySignature(std::string(64, 'b'), *note, good).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(VerifyPolicySignature(kHash, *note, bad).code(),
            absl::StatusCode::kUnauthenticated);
  std::string tampered = *note;
  tampered[20] = tampered[20] == 'a' ? 'b' : 'a';  // inside the hash line
  EXPECT_EQ(VerifyPolicySignature(kHash, tampered, good).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(VerifyPolicySignature(kHash, *note, {}).code(),
            absl::StatusCode::kInvalidArgument);
  const std::vector<std::string> malformed = {"not a key"};
  EXPECT_EQ(VerifyPolicySignature(kHash, *note, malformed).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SignatureTest, MalformedSignerKeyIsNotEchoed) {
  absl::StatusOr<std::string> note =
      SignPolicy(kHash, "PRIVATE+KEY+x+00000000+c2VjcmV0c2VjcmV0");
  ASSERT_FALSE(note.ok());
  EXPECT_EQ(note.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(note.status().message()),
              ::testing::Not(HasSubstr("c2VjcmV0")));
}

class LoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (dir_ / "policy.yaml").string();
    Write(path_,
          "version: 1\nrules:\n  - {id: a, effect: allow, when: {destination: "
          "eu}}\n"
          "invariants:\n  - {id: i, never: allow, when: {destination: cn}}\n");
  }
  static void Write(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  }
  test::TempDir tmp_{"policy-loader"};
  std::filesystem::path dir_ = tmp_.path();
  std::string path_;
};

TEST_F(LoaderTest, UnsignedBundleLoadsWhenSignaturesAreNotRequired) {
  PolicyConfig config;
  absl::StatusOr<std::shared_ptr<const CompiledPolicy>> p =
      LoadPolicyFile(path_, config, nullptr);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)->rule_count(), 1u);
  EXPECT_EQ((*p)->sha256().size(), 64u);
}

TEST_F(LoaderTest, RequiredSignatureIsEnforced) {
  const KeyPair auditor = NewKeys("auditor");
  PolicyConfig config;
  config.require_signed_policy = true;
  config.auditor_keys = {auditor.verifier};

  absl::StatusOr<std::shared_ptr<const CompiledPolicy>> p =
      LoadPolicyFile(path_, config, nullptr);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("policy.yaml.sig"));

  absl::StatusOr<Bundle> bundle = LoadBundle(path_);
  ASSERT_TRUE(bundle.ok());
  absl::StatusOr<std::string> note = SignPolicy(bundle->sha256, auditor.signer);
  ASSERT_TRUE(note.ok());
  Write(SignaturePath(path_), *note);
  p = LoadPolicyFile(path_, config, nullptr);
  ASSERT_TRUE(p.ok()) << p.status();

  // Editing the bundle after signing invalidates the signature.
  Write(path_, "version: 1\nrules:\n  - {id: a, effect: allow}\n");
  p = LoadPolicyFile(path_, config, nullptr);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("another bundle"));
}

TEST_F(LoaderTest, BundleBreakingAnInvariantIsRefused) {
  Write(path_,
        "version: 1\nrules:\n  - {id: a, effect: allow}\n"
        "invariants:\n  - {id: i, never: allow, when: {destination: cn}}\n");
  absl::StatusOr<std::shared_ptr<const CompiledPolicy>> p =
      LoadPolicyFile(path_, PolicyConfig{}, nullptr);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(p.status().message()),
              HasSubstr("invariant 'i' is violated"));
}

}  // namespace
}  // namespace clover::policy
