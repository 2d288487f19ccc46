#include "log/note.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "log/checkpoint.h"

namespace clover::log {
namespace {

crypto::Ed25519PrivateKey TestKey(uint8_t fill) {
  std::string seed(32, static_cast<char>(fill));
  return *crypto::Ed25519PrivateKey::FromSeed(seed);
}

TEST(Ed25519Test, Rfc8032Vector1) {
  std::string seed;
  ASSERT_TRUE(absl::Base64Unescape(
      "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=", &seed));
  auto key = crypto::Ed25519PrivateKey::FromSeed(seed);
  ASSERT_TRUE(key.ok());
  const auto& pub = key->public_key().bytes();
  EXPECT_EQ(absl::BytesToHexString(absl::string_view(
                reinterpret_cast<const char*>(pub.data()), 32)),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  auto sig = key->Sign("");
  EXPECT_EQ(absl::BytesToHexString(absl::string_view(
                reinterpret_cast<const char*>(sig.data()), 64)),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
            "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
  absl::string_view sv(reinterpret_cast<const char*>(sig.data()), sig.size());
  EXPECT_TRUE(key->public_key().Verify("", sv));
  EXPECT_FALSE(key->public_key().Verify("x", sv));
  EXPECT_FALSE(key->public_key().Verify("", sv.substr(1)));
}

TEST(NoteTest, KnownGoNoteVector) {
  // From golang.org/x/mod/sumdb/note's documentation example.
  const std::string skey =
      "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+"
      "Y7hfZx09iUvxdXHKDFz";
  const std::string vkey =
      "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
  auto vk = VerifierKeyFromSignerKey(skey);
  ASSERT_TRUE(vk.ok()) << vk.status();
  EXPECT_EQ(*vk, vkey);
  auto signer = ParseSignerKey(skey);
  ASSERT_TRUE(signer.ok()) << signer.status();
  const std::string text =
      "If you think cryptography is the answer to your problem,\n"
      "then you don't know what your problem is.\n";
  const NoteSigner* signers[] = {signer->get()};
  auto note = SignNote(text, signers);
  ASSERT_TRUE(note.ok());
  EXPECT_EQ(*note,
            text +
                "\n— PeterNeumann "
                "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZ"
                "SNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n");
  auto verifier = ParseVerifierKey(vkey);
  ASSERT_TRUE(verifier.ok());
  const NoteVerifier* verifiers[] = {verifier->get()};
  auto opened = OpenNote(*note, verifiers);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->text, text);
  ASSERT_EQ(opened->verified.size(), 1u);
  EXPECT_EQ(opened->verified[0].name, "PeterNeumann");
}

TEST(NoteTest, SignOpenAndTamper) {
  auto key = TestKey(7);
  auto signer = *NewNoteSigner("example.com/log", kNoteTypeEd25519, key);
  auto verifier =
      *NewNoteVerifier("example.com/log", kNoteTypeEd25519, key.public_key());
  EXPECT_EQ(signer->key_id(), verifier->key_id());
  EXPECT_EQ(signer->key_id(),
            NoteKeyId("example.com/log", 1, key.public_key().bytes()));
  const NoteSigner* signers[] = {signer.get()};
  const NoteVerifier* verifiers[] = {verifier.get()};
  auto note = *SignNote("hello\n\nworld\n", signers);
  auto opened = OpenNote(note, verifiers);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened->text, "hello\n\nworld\n");

  // Tampered text.
  std::string bad = note;
  bad[0] = 'j';
  EXPECT_EQ(OpenNote(bad, verifiers).status().code(),
            absl::StatusCode::kUnauthenticated);
  // Wrong key with the same name: unknown, so no verified signature.
  auto other = *NewNoteVerifier("example.com/log", kNoteTypeEd25519,
                                TestKey(8).public_key());
  const NoteVerifier* others[] = {other.get()};
  EXPECT_EQ(OpenNote(note, others).status().code(),
            absl::StatusCode::kUnauthenticated);
  // Truncations are syntax errors or missing signatures, never crashes.
  for (size_t n = 0; n < note.size(); ++n) {
    EXPECT_FALSE(OpenNote(note.substr(0, n), verifiers).ok()) << n;
  }
  // Control characters and invalid UTF-8 are refused.
  EXPECT_FALSE(ParseNote("a\tb\n\n— k AAAAAAA=\n").ok());
  EXPECT_FALSE(ParseNote("a\xff\n\n— k AAAAAAA=\n").ok());
  EXPECT_FALSE(SignNote("no newline", signers).ok());
  EXPECT_FALSE(SignNote("ctrl\x01\n", signers).ok());
}

TEST(NoteTest, UnknownSignaturesIgnoredKnownBadRejected) {
  auto a = TestKey(1), b = TestKey(2);
  auto sa = *NewNoteSigner("a", kNoteTypeEd25519, a);
  auto sb = *NewNoteSigner("b", kNoteTypeEd25519, b);
  const NoteSigner* both[] = {sa.get(), sb.get()};
  auto note = *SignNote("text\n", both);
  auto va = *NewNoteVerifier("a", kNoteTypeEd25519, a.public_key());
  const NoteVerifier* only_a[] = {va.get()};
  auto opened = OpenNote(note, only_a);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened->verified.size(), 1u);
  EXPECT_EQ(opened->unknown.size(), 1u);
  // Replace a's signature with b's bytes under a's name and id: must reject the
  // note.
  auto parsed = *ParseNote(note);
  parsed.signatures[0].signature = parsed.signatures[1].signature;
  std::string forged = parsed.text + "\n" + parsed.signatures[0].Line();
  EXPECT_EQ(OpenNote(forged, only_a).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(NoteTest, KeyStrings) {
  auto key = TestKey(3);
  std::string skey = FormatSignerKey("log.example/x", kNoteTypeEd25519, key);
  std::string vkey =
      FormatVerifierKey("log.example/x", kNoteTypeEd25519, key.public_key());
  EXPECT_TRUE(absl::StartsWith(skey, "PRIVATE+KEY+log.example/x+"));
  EXPECT_EQ(*VerifierKeyFromSignerKey(skey), vkey);
  EXPECT_TRUE(ParseSignerKey(skey + "\n").ok());
  EXPECT_TRUE(ParseVerifierKey(vkey).ok());
  // Wrong key id, bad base64, bad type, bad name, missing parts.
  std::string wrong_id = vkey;
  wrong_id[wrong_id.find('+') + 1] ^= 1;
  EXPECT_FALSE(ParseVerifierKey(wrong_id).ok());
  EXPECT_FALSE(ParseVerifierKey("name+00000000+!!!").ok());
  EXPECT_FALSE(ParseVerifierKey("name+00000000").ok());
  EXPECT_FALSE(ParseVerifierKey("na me+00000000+AQ==").ok());
  EXPECT_FALSE(ParseSignerKey(vkey).ok());
  auto st = ParseSignerKey("PRIVATE+KEY+n+00000000+AAAA");
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.status().message().find("AAAA"),
            std::string::npos);  // no key material
  EXPECT_FALSE(IsValidNoteKeyName(""));
  EXPECT_FALSE(IsValidNoteKeyName("a+b"));
  EXPECT_FALSE(
      IsValidNoteKeyName("a\xc2\xa0"
                         "b"));  // no-break space
  EXPECT_TRUE(IsValidNoteKeyName("witness.example/w1"));
}

TEST(NoteTest, Cosignature) {
  FakeClock clock(absl::FromUnixSeconds(1679315147));
  auto key = TestKey(9);
  auto cosigner = *NewNoteSigner("witness.example.com/w1", kNoteTypeCosignature,
                                 key, clock);
  auto verifier = *NewNoteVerifier("witness.example.com/w1",
                                   kNoteTypeCosignature, key.public_key());
  EXPECT_EQ(cosigner->key_id(),
            NoteKeyId("witness.example.com/w1", 4, key.public_key().bytes()));
  const std::string text =
      "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/"
      "Xajj7h2fB2MPA3j2jxq2I=\n";
  auto sig = cosigner->Sign(text);
  ASSERT_TRUE(sig.ok());
  ASSERT_EQ(sig->size(), 72u);
  EXPECT_EQ(*CosignatureTimestamp(*sig), 1679315147u);
  // The signed message is the documented one.
  const std::string msg = "cosignature/v1\ntime 1679315147\n" + text;
  EXPECT_TRUE(key.public_key().Verify(msg, absl::string_view(*sig).substr(8)));
  EXPECT_TRUE(verifier->Verify(text, *sig));
  std::string bad = *sig;
  bad[7] ^= 1;  // a different timestamp breaks the signature
  EXPECT_FALSE(verifier->Verify(text, bad));
  // Adding the cosignature to a log-signed checkpoint.
  auto log_key = TestKey(10);
  auto log_signer =
      *NewNoteSigner("example.com/behind-the-sofa", kNoteTypeEd25519, log_key);
  const NoteSigner* ls[] = {log_signer.get()};
  auto note = *SignNote(text, ls);
  NoteSignature cosig{cosigner->name(), cosigner->key_id(), *sig};
  auto cosigned = AddNoteSignatures(note, {&cosig, 1});
  ASSERT_TRUE(cosigned.ok());
  const NoteVerifier* vs[] = {verifier.get()};
  auto opened = OpenNote(*cosigned, vs);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->unknown.size(), 1u);
}

TEST(CheckpointTest, FormatParse) {
  Checkpoint c{"example.com/log", 20852163, {}, {}};
  c.root[0] = 0x0a;
  std::string text = FormatCheckpoint(c);
  EXPECT_EQ(text,
            "example.com/"
            "log\n20852163\nCgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n");
  auto parsed = ParseCheckpoint(text);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, c);
  c.extensions = {"ext one"};
  EXPECT_EQ(*ParseCheckpoint(FormatCheckpoint(c)), c);
  EXPECT_EQ(
      ParseCheckpoint("o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n")
          ->size,
      0u);
  for (const char* bad :
       {"", "o\n1\n", "o\n01\nCgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "o\n-1\nCgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "o\n18446744073709551616\nCgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
        "\n",
        "o\n1\nCgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n",
        "o\n1\nCgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
        "\n1\nCgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "o\n1\nCgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n",
        "o\n1\nCgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}) {
    EXPECT_FALSE(ParseCheckpoint(bad).ok()) << bad;
  }
}

TEST(CheckpointTest, OpenChecksOrigin) {
  auto key = TestKey(11);
  auto signer = *NewNoteSigner("o", kNoteTypeEd25519, key);
  auto verifier = *NewNoteVerifier("o", kNoteTypeEd25519, key.public_key());
  const NoteSigner* s[] = {signer.get()};
  const NoteVerifier* v[] = {verifier.get()};
  auto note = *SignNote(FormatCheckpoint({"o", 5, {}, {}}), s);
  EXPECT_TRUE(OpenCheckpoint(note, "o", v).ok());
  EXPECT_EQ(OpenCheckpoint(note, "other", v).status().code(),
            absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace clover::log
