#include "approvals/attestation.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "crypto/ed25519.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "log/note.h"

namespace clover::approvals {
namespace {

using ::testing::HasSubstr;

struct Keys {
  std::string signer, verifier;
};

Keys NewKeys(const std::string& name) {
  auto key = crypto::Ed25519PrivateKey::Generate();
  EXPECT_TRUE(key.ok());
  Keys k;
  k.signer = log::FormatSignerKey(name, log::kNoteTypeEd25519, *key);
  k.verifier = *log::VerifierKeyFromSignerKey(k.signer);
  return k;
}

class AttestationTest : public ::testing::Test {
 protected:
  Attestation Sample() {
    Attestation a;
    a.id = "apr-0123456789abcdef01234567";
    a.request_sha256 = RequestSha256("{\"state\":\"pending\"}");
    a.principal = "us-legal-1";
    a.by = "auditor";
    a.approved = absl::FromUnixMillis(1800000000123);
    a.expires = a.approved + absl::Hours(2);
    return a;
  }
  AttestationVerifier Verifier(const std::vector<std::string>& keys) {
    auto v = AttestationVerifier::Create(keys);
    EXPECT_TRUE(v.ok()) << v.status();
    return *std::move(v);
  }

  const Keys auditor_ = NewKeys("auditor.test");
  const Keys operator_ = NewKeys("operator.test");
};

TEST_F(AttestationTest, TextIsTheDocumentedFormat) {
  auto text = AttestationText(Sample());
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, absl::StrCat("clover-approval/v1\n"
                                "id apr-0123456789abcdef01234567\n"
                                "request ",
                                Sample().request_sha256,
                                "\n"
                                "principal us-legal-1\n"
                                "by auditor\n"
                                "approved 2027-01-15T08:00:00.123Z\n"
                                "expires 2027-01-15T10:00:00.123Z\n"));
  // The request hash is the SHA-256 of the exact bytes.
  EXPECT_EQ(RequestSha256("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_F(AttestationTest, SignedRoundTrip) {
  auto note = SignAttestation(Sample(), auditor_.signer);
  ASSERT_TRUE(note.ok()) << note.status();
  auto a = Verifier({operator_.verifier, auditor_.verifier}).Open(*note);
  ASSERT_TRUE(a.ok()) << a.status();
  const Attestation want = Sample();
  EXPECT_EQ(a->id, want.id);
  EXPECT_EQ(a->request_sha256, want.request_sha256);
  EXPECT_EQ(a->principal, want.principal);
  EXPECT_EQ(a->by, want.by);
  EXPECT_EQ(a->approved, want.approved);
  EXPECT_EQ(a->expires, want.expires);
}

TEST_F(AttestationTest, WrongKeyOrTamperedTextIsUnauthenticated) {
  auto note = SignAttestation(Sample(), operator_.signer);
  ASSERT_TRUE(note.ok());
  // Signed by a key not listed.
  auto a = Verifier({auditor_.verifier}).Open(*note);
  EXPECT_EQ(a.status().code(), absl::StatusCode::kUnauthenticated);
  // No keys at all verify nothing.
  EXPECT_EQ(Verifier({}).Open(*note).status().code(),
            absl::StatusCode::kUnauthenticated);
  // Signed by the right key, then edited: a longer grant, another grantee.
  note = SignAttestation(Sample(), auditor_.signer);
  ASSERT_TRUE(note.ok());
  for (const auto& [from, to] :
       std::vector<std::pair<std::string, std::string>>{
           {"expires 2027-01-15T10", "expires 2027-01-15T18"},
           {"principal us-legal-1", "principal us-legal-2"},
           {"by auditor", "by operator"}}) {
    std::string tampered = absl::StrReplaceAll(*note, {{from, to}});
    ASSERT_NE(tampered, *note);
    auto t = Verifier({auditor_.verifier}).Open(tampered);
    EXPECT_EQ(t.status().code(), absl::StatusCode::kUnauthenticated) << to;
  }
  // Another type of key (a witness cosignature key) is refused as a key.
  auto key = crypto::Ed25519PrivateKey::Generate();
  ASSERT_TRUE(key.ok());
  std::string cosigner = *log::VerifierKeyFromSignerKey(
      log::FormatSignerKey("witness.test", log::kNoteTypeCosignature, *key));
  auto v = AttestationVerifier::Create(std::vector<std::string>{cosigner});
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(v.status().message(), HasSubstr("type 0x01"));
  v = AttestationVerifier::Create(std::vector<std::string>{"nonsense"});
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(AttestationTest, EveryMalformedLineIsNamed) {
  const std::string good = *AttestationText(Sample());
  ASSERT_TRUE(ParseAttestationText(good).ok());
  const std::string hash = Sample().request_sha256;
  struct Case {
    std::string from, to, want;
  };
  const std::vector<Case> cases = {
      {"clover-approval/v1\n", "clover-approval/v2\n", "line 1:"},
      {"clover-approval/v1\n", "clover-policy/v1\n", "line 1:"},
      {"id apr-", "ID apr-", "line 2: expected 'id <value>'"},
      {"id apr-0123456789abcdef01234567", "id ", "line 2: 'id': empty value"},
      {"id apr-0123456789abcdef01234567", "id apr 1",
       "line 2: 'id': value with a space"},
      {"request " + hash, "request " + hash.substr(1),
       "line 3: 'request': not 64"},
      {"request " + hash, "request " + absl::AsciiStrToUpper(hash),
       "line 3: 'request': not 64"},
      {"request ", "requests ", "line 3: expected 'request <value>'"},
      {"principal us-legal-1\n", "", "line 4: expected 'principal <value>'"},
      {"principal us-legal-1", "principal " + std::string(300, 'p'),
       "line 4: 'principal': value longer than 256"},
      {"by auditor", "by\tauditor", "line 5: expected 'by <value>'"},
      {"approved 2027-01-15T08:00:00.123Z", "approved 2027-01-15 08:00",
       "line 6: 'approved': value with a space"},
      {"approved 2027-01-15T08:00:00.123Z",
       "approved 2027-01-15T08:00:00+01:00",
       "line 6: 'approved': not an RFC 3339 UTC time"},
      {"approved 2027-01-15T08:00:00.123Z", "approved yesterday",
       "line 6: 'approved': not an RFC 3339 UTC time"},
      {"expires 2027-01-15T10:00:00.123Z\n", "", "line 7: missing"},
      {"expires 2027-01-15T10:00:00.123Z", "expires 2027-01-15T07:00:00Z",
       "line 7: 'expires' is not after 'approved'"},
      {"expires 2027-01-15T10:00:00.123Z\n",
       "expires 2027-01-15T10:00:00.123Z\nextra 1\n",
       "line 8: unexpected line"},
      {"expires 2027-01-15T10:00:00.123Z\n",
       "expires 2027-01-15T10:00:00.123Z\n\n", "line 8: unexpected line"},
      {"expires 2027-01-15T10:00:00.123Z\n", "expires 2027-01-15T10:00:00.123Z",
       "does not end with a newline"},
  };
  for (const Case& c : cases) {
    std::string text = absl::StrReplaceAll(good, {{c.from, c.to}});
    ASSERT_NE(text, good) << c.want;
    auto a = ParseAttestationText(text);
    ASSERT_FALSE(a.ok()) << c.want;
    EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(a.status().message(), HasSubstr(c.want)) << text;
  }
  EXPECT_FALSE(ParseAttestationText("").ok());
  EXPECT_THAT(ParseAttestationText(std::string(kMaxAttestationBytes + 1, 'x'))
                  .status()
                  .message(),
              HasSubstr("longer than"));
  // The writer refuses what the parser would.
  Attestation bad = Sample();
  bad.principal = "two words";
  EXPECT_THAT(AttestationText(bad).status().message(),
              HasSubstr("'principal'"));
  bad = Sample();
  bad.expires = bad.approved;
  EXPECT_FALSE(AttestationText(bad).ok());
}

TEST_F(AttestationTest, CheckNamesTheFirstMismatch) {
  const Attestation a = Sample();
  const absl::Time now = a.approved + absl::Minutes(1);
  EXPECT_TRUE(
      CheckAttestationFor(a, a.id, a.request_sha256, a.principal, a.by, now)
          .ok());
  auto check = [&](absl::string_view id, absl::string_view hash,
                   absl::string_view principal, absl::string_view by,
                   absl::Time t) {
    return CheckAttestationFor(a, id, hash, principal, by, t);
  };
  EXPECT_THAT(
      check("apr-other", a.request_sha256, a.principal, a.by, now).message(),
      HasSubstr("'id'"));
  EXPECT_THAT(
      check(a.id, RequestSha256("other"), a.principal, a.by, now).message(),
      HasSubstr("'request'"));
  EXPECT_THAT(check(a.id, "", a.principal, a.by, now).message(),
              HasSubstr("'request'"));
  EXPECT_THAT(check(a.id, a.request_sha256, "us-legal-2", a.by, now).message(),
              HasSubstr("'principal'"));
  EXPECT_THAT(
      check(a.id, a.request_sha256, a.principal, "admin-1", now).message(),
      HasSubstr("'by'"));
  absl::Status late = check(a.id, a.request_sha256, a.principal, a.by,
                            a.approved + absl::Minutes(6));
  EXPECT_EQ(late.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(late.message(), HasSubstr("from this node's clock"));
  EXPECT_FALSE(check(a.id, a.request_sha256, a.principal, a.by,
                     a.approved - absl::Minutes(6))
                   .ok());
  // A reader of an old log skips the clock.
  EXPECT_TRUE(
      check(a.id, a.request_sha256, a.principal, a.by, absl::InfinitePast())
          .ok());
}

TEST_F(AttestationTest, AttestApprovalSignsWhatGetReturns) {
  const std::string get =
      absl::StrCat(R"({"id":"apr-0123456789abcdef01234567","state":"pending",)",
                   R"("principal":"us-legal-1","request_sha256":")",
                   Sample().request_sha256, R"("})");
  const absl::Time now = absl::FromUnixMillis(1800000000123);
  auto note = AttestApproval(get, "auditor", absl::Hours(2), auditor_.signer,
                             now + absl::Microseconds(400));
  ASSERT_TRUE(note.ok()) << note.status();
  auto a = Verifier({auditor_.verifier}).Open(*note);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->approved, now);
  EXPECT_EQ(a->expires, now + absl::Hours(2));
  EXPECT_EQ(a->by, "auditor");
  // The POST answer's wrapper is accepted too.
  EXPECT_TRUE(AttestApproval(absl::StrCat("{\"approval\":", get, "}"),
                             "auditor", absl::Hours(1), auditor_.signer, now)
                  .ok());
  EXPECT_FALSE(AttestApproval(absl::StrReplaceAll(get, {{"pending", "denied"}}),
                              "auditor", absl::Hours(1), auditor_.signer, now)
                   .ok());
  EXPECT_FALSE(AttestApproval(R"({"id":"apr-1","principal":"p"})", "auditor",
                              absl::Hours(1), auditor_.signer, now)
                   .ok());
  EXPECT_FALSE(
      AttestApproval(get, "auditor", absl::ZeroDuration(), auditor_.signer, now)
          .ok());
  auto bad_key =
      AttestApproval(get, "auditor", absl::Hours(1), "PRIVATE+KEY+x", now);
  EXPECT_EQ(bad_key.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace clover::approvals
