// The console's Policy page routes (audit/policy_view.h) through a real
// auditor's router: session and CSRF, versions in force per node, the diff,
// refusing a bundle that breaks an invariant (with its counterexample, nothing
// signed) and signing a good one (its signature verifies), bad input 4xx.
#include "audit/policy_view.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "audit/auditor.h"
#include "audit/auditor_fixture.h"
#include "audit/decision_builder.h"
#include "core/canonical_json.h"
#include "entry/decision_record.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "policy/bundle.h"
#include "policy/signature.h"
#include "rapidjson/document.h"

namespace clover::audit {
namespace {

namespace fs = std::filesystem;
using ::clover::entry::DecisionEntry;
using ::testing::HasSubstr;
using testing::kAdminToken;
using testing::kReadToken;
using ::testing::SizeIs;
using testing::WriteFile;

constexpr char kPolicyV1[] = R"(version: 1
description: policy view test v1
rules:
  - id: support-reads-eu
    effect: allow
    when: {principal.role: support, purpose: customer_support, destination: eu}
  - id: support-pseudonymized-us
    effect: pseudonymize
    when: {principal.role: support, destination: us}
invariants:
  - id: nothing-raw-to-cn
    never: raw
    when: {destination: cn}
)";
// v2: one rule changed (effect and a condition), one removed, one added, the
// invariant unchanged and one added; all hold.
constexpr char kPolicyV2[] = R"(version: 1
description: policy view test v2
rules:
  - id: support-reads-eu
    effect: allow
    when: {principal.role: [support, dpo], purpose: customer_support, destination: eu}
  - id: analysts-aggregate
    effect: aggregate
    when: {principal.role: analyst}
invariants:
  - id: nothing-raw-to-cn
    never: raw
    when: {destination: cn}
  - id: analysts-never-raw
    never: raw
    when: {principal.role: analyst}
)";
// Breaks its invariant: support may read raw in cn.
constexpr char kBreaking[] = R"(version: 1
description: breaks an invariant
rules:
  - id: support-reads-anywhere
    effect: allow
    when: {principal.role: support}
invariants:
  - id: nothing-raw-to-cn
    never: raw
    when: {destination: cn}
)";

std::string JsonBody(const std::string& bundle) {
  std::string out = "{\"bundle\":";
  AppendJsonString(bundle, &out);
  return out + "}";
}

rapidjson::Document Parse(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str());
  return d;
}

class PolicyViewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto files = testing::WriteAuditorFiles(dir_, "policyview.test", kPolicyV1);
    ASSERT_TRUE(files.ok()) << files.status();
    key_ = files->policy.key;
    policy_path_ = files->policy.path;
    v1_ = files->policy.sha256;
    policy_ = files->policy.compiled;
    config_ = files->config;
    WriteFile(dir_.Sub("signing.key"), key_.signer + "\n", true);
    config_.logs.push_back(testing::FollowLog(log_, "mem://eu"));
    config_.policy_signing_key_file = dir_.Sub("signing.key");
    config_.api_credentials = testing::AdminAndReadCredentials();
    StartAuditor();
    AppendDecision("ie-dub-1-a", *policy_);
    AppendDecision("ie-dub-2-a", *policy_);
    ASSERT_TRUE(auditor_->PollOnce().ok());
  }

  void StartAuditor() {
    testing::ReopenAuditor(config_, clock_, log_, &auditor_);
  }

  void AppendDecision(const std::string& node,
                      const policy::CompiledPolicy& p) {
    DecisionEntry e = testing::SupportRead(clock_.Now(), "subject-1");
    e.node = node;
    e.fields[0].restricted = false;
    DecideWith(p, &e);
    log_.Append(entry::DecisionJson(e));
  }

  // One request through the auditor's router; every answer must be one
  // docs/openapi.yaml documents.
  server::HttpResponse Call(const std::string& method, const std::string& path,
                            const std::string& query = "",
                            const std::string& body = "",
                            const std::string& cookie = "",
                            const std::string& csrf = "",
                            const std::string& type = "application/json") {
    server::HttpRequest req;
    req.method = method;
    req.path = path;
    req.query = query;
    req.body = body;
    req.headers["host"] = "127.0.0.1:1";
    if (!body.empty()) req.headers["content-type"] = type;
    if (!cookie.empty()) req.headers["cookie"] = cookie;
    if (!csrf.empty()) req.headers["x-csrf-token"] = csrf;
    return testing::CallRouter(*auditor_, std::move(req));
  }

  // A session of `token`: the cookie pair and its CSRF token.
  void LoginAs(const std::string& token, std::string* cookie,
               std::string* csrf) {
    server::HttpResponse r = Call("POST", "/ui/api/login", "",
                                  absl::StrCat("{\"token\":\"", token, "\"}"));
    ASSERT_EQ(r.status, 200) << r.body;
    const std::string set = testing::HeaderOf(r, "set-cookie");
    if (!set.empty()) *cookie = set.substr(0, set.find(';'));
    *csrf = Parse(r.body)["csrf_token"].GetString();
  }

  size_t StoredFiles() {
    std::error_code ec;
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(SignedPolicyDir(config_), ec)) {
      (void)e;
      ++n;
    }
    return n;
  }

  testing::TempDir dir_;
  FakeClock clock_{absl::Now()};
  testing::FakeLog log_{"log.test/ie-dub-1"};
  testing::TestKey key_;
  std::string policy_path_;
  std::string v1_;
  AuditorConfig config_;
  std::shared_ptr<const policy::CompiledPolicy> policy_;
  std::unique_ptr<Auditor> auditor_;
};

TEST_F(PolicyViewTest, NeedsASessionAndItsCsrfTokenAndAdminToSign) {
  const std::string good = JsonBody(kPolicyV2);
  for (const char* path :
       {"/ui/api/policy", "/ui/api/policy/diff", "/ui/api/policy/file"}) {
    EXPECT_EQ(Call("GET", path).status, 401) << path;
  }
  EXPECT_EQ(Call("POST", "/ui/api/policy/check", "", good).status, 401);
  EXPECT_EQ(Call("POST", "/ui/api/policy/sign", "", good).status, 401);
  // A forged cookie.
  EXPECT_EQ(
      Call("GET", "/ui/api/policy", "", "", "clover_session=forged").status,
      401);
  std::string cookie, csrf;
  LoginAs(kAdminToken, &cookie, &csrf);
  EXPECT_EQ(Call("GET", "/ui/api/policy", "", "", cookie).status, 200);
  // Changes without the session's CSRF token, or with another's: 403.
  server::HttpResponse r =
      Call("POST", "/ui/api/policy/sign", "", good, cookie);
  EXPECT_EQ(r.status, 403);
  EXPECT_THAT(r.body, HasSubstr("csrf_failed"));
  std::string other_cookie, other_csrf;
  LoginAs(kAdminToken, &other_cookie, &other_csrf);
  EXPECT_EQ(
      Call("POST", "/ui/api/policy/sign", "", good, cookie, other_csrf).status,
      403);
  EXPECT_EQ(Call("POST", "/ui/api/policy/check", "", good, cookie).status, 403);
  // A read credential checks but does not sign.
  std::string read_cookie, read_csrf;
  LoginAs(kReadToken, &read_cookie, &read_csrf);
  EXPECT_EQ(
      Call("POST", "/ui/api/policy/check", "", good, read_cookie, read_csrf)
          .status,
      200);
  r = Call("POST", "/ui/api/policy/sign", "", good, read_cookie, read_csrf);
  EXPECT_EQ(r.status, 403);
  EXPECT_THAT(r.body, HasSubstr("permission_denied"));
  EXPECT_EQ(StoredFiles(), 0u);
  EXPECT_THAT(auditor_->SignedPolicies(), SizeIs(1));
}

TEST_F(PolicyViewTest, ShowsTheVersionInForceOnEachNodeAndItsProofs) {
  std::string cookie, csrf;
  LoginAs(kReadToken, &cookie, &csrf);
  server::HttpResponse r = Call("GET", "/ui/api/policy", "", "", cookie);
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document d = Parse(r.body);
  ASSERT_EQ(d["versions"].Size(), 1u);
  EXPECT_EQ(std::string(d["versions"][0]["sha256"].GetString()), v1_);
  const auto& a = d["versions"][0]["analysis"];
  EXPECT_TRUE(a["ok"].GetBool());
  ASSERT_EQ(a["invariants"].Size(), 1u);
  EXPECT_EQ(std::string(a["invariants"][0]["id"].GetString()),
            "nothing-raw-to-cn");
  EXPECT_TRUE(a["invariants"][0]["proven"].GetBool());
  ASSERT_EQ(d["nodes"].Size(), 2u);
  EXPECT_EQ(std::string(d["nodes"][0]["node"].GetString()), "ie-dub-1-a");
  EXPECT_EQ(std::string(d["nodes"][1]["node"].GetString()), "ie-dub-2-a");
  const auto& run = d["nodes"][0]["runs"][0];
  EXPECT_EQ(std::string(run["sha256"].GetString()), v1_);
  EXPECT_TRUE(run["signed"].GetBool());
  EXPECT_EQ(run["first_index"].GetUint64(), 0u);
  EXPECT_FALSE(d["can_sign"].IsFalse());
}

TEST_F(PolicyViewTest,
       ABundleBreakingAnInvariantIsRefusedWithItsCounterexample) {
  std::string cookie, csrf;
  LoginAs(kAdminToken, &cookie, &csrf);
  server::HttpResponse r = Call("POST", "/ui/api/policy/sign", "",
                                JsonBody(kBreaking), cookie, csrf);
  ASSERT_EQ(r.status, 422) << r.body;
  rapidjson::Document d = Parse(r.body);
  EXPECT_EQ(std::string(d["error"]["code"].GetString()), "failed_precondition");
  const auto& inv = d["analysis"]["invariants"][0];
  EXPECT_FALSE(inv["proven"].GetBool());
  ASSERT_TRUE(inv.HasMember("counterexample"));
  EXPECT_EQ(std::string(inv["counterexample"]["destination"].GetString()),
            "cn");
  EXPECT_EQ(std::string(inv["counterexample"]["effect"].GetString()), "allow");
  EXPECT_EQ(std::string(inv["counterexample"]["deciding_rule"].GetString()),
            "support-reads-anywhere");
  EXPECT_FALSE(d.HasMember("signature"));
  // Nothing signed, stored or accepted for replay.
  EXPECT_EQ(StoredFiles(), 0u);
  EXPECT_THAT(auditor_->SignedPolicies(), SizeIs(1));
  // Checking it says the same, and signs nothing either.
  r = Call("POST", "/ui/api/policy/check", "", JsonBody(kBreaking), cookie,
           csrf);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(Parse(r.body)["analysis"]["ok"].GetBool());
  EXPECT_EQ(StoredFiles(), 0u);
}

TEST_F(PolicyViewTest, AGoodBundleIsSignedVerifiesAndIsAcceptedForReplay) {
  std::string cookie, csrf;
  LoginAs(kAdminToken, &cookie, &csrf);
  server::HttpResponse r = Call("POST", "/ui/api/policy/sign", "",
                                JsonBody(kPolicyV2), cookie, csrf);
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document d = Parse(r.body);
  const std::string v2 = d["bundle"]["sha256"].GetString();
  EXPECT_EQ(v2, policy::Sha256Hex(kPolicyV2));
  const std::string sig = d["signature"].GetString();
  // The existing verifier accepts it, for exactly these bytes.
  const std::vector<std::string> keys = {key_.verifier};
  EXPECT_TRUE(policy::VerifyPolicySignature(v2, sig, keys).ok());
  EXPECT_FALSE(policy::VerifyPolicySignature(v1_, sig, keys).ok());
  // Downloads: the exact bytes and the signature, as a node installs them.
  r = Call("GET", "/ui/api/policy/file", "sha256=" + v2 + "&part=bundle", "",
           cookie);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, kPolicyV2);
  r = Call("GET", "/ui/api/policy/file", "sha256=" + v2 + "&part=signature", "",
           cookie);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, sig);
  // Signing the same version again is refused, and the stored version and
  // its signature stay (the failed request removes nothing it did not make).
  r = Call("POST", "/ui/api/policy/sign", "", JsonBody(kPolicyV2), cookie,
           csrf);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(std::string(Parse(r.body)["error"]["code"].GetString()),
            "already_exists");
  r = Call("GET", "/ui/api/policy/file", "sha256=" + v2 + "&part=signature", "",
           cookie);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, sig);
  const std::string node_file = dir_.Sub("node-policy.yaml");
  WriteFile(node_file, kPolicyV2);
  WriteFile(policy::SignaturePath(node_file), sig);
  EXPECT_TRUE(Replayer::LoadOne(node_file, {key_.verifier}).ok());

  // A node switching to v2: replayed as a match, shown in force since then.
  auto compiled = *policy::CompiledPolicy::Compile(
      *policy::ParseBundle(kPolicyV2, "v2.yaml"));
  clock_.Advance(absl::Minutes(5));
  AppendDecision("ie-dub-1-a", *compiled);
  ASSERT_TRUE(auditor_->PollOnce().ok());
  for (const Incident& i : auditor_->incidents().List(std::nullopt))
    EXPECT_NE(i.detector, "unsigned_policy") << i.summary;
  r = Call("GET", "/ui/api/policy", "", "", cookie);
  d = Parse(r.body);
  ASSERT_EQ(d["versions"].Size(), 2u);
  const auto& runs = d["nodes"][0]["runs"];
  ASSERT_EQ(runs.Size(), 2u);
  EXPECT_EQ(std::string(runs[1]["sha256"].GetString()), v2);
  EXPECT_EQ(runs[1]["first_index"].GetUint64(), 2u);
  EXPECT_EQ(std::string(d["nodes"][1]["runs"][0]["sha256"].GetString()), v1_);

  // The diff: v1 -> v2, by id.
  r = Call("GET", "/ui/api/policy/diff", "from=" + v1_ + "&to=" + v2, "",
           cookie);
  ASSERT_EQ(r.status, 200) << r.body;
  d = Parse(r.body);
  EXPECT_EQ(std::string(d["rules"]["added"][0]["id"].GetString()),
            "analysts-aggregate");
  EXPECT_EQ(std::string(d["rules"]["removed"][0]["id"].GetString()),
            "support-pseudonymized-us");
  ASSERT_EQ(d["rules"]["changed"].Size(), 1u);
  EXPECT_THAT(r.body, HasSubstr("\"what\":\"when principal.role\""));
  EXPECT_THAT(r.body, HasSubstr("principal.role in [support, dpo]"));
  EXPECT_EQ(std::string(d["invariants"]["added"][0]["id"].GetString()),
            "analysts-never-raw");
  EXPECT_EQ(d["invariants"]["unchanged"].GetInt(), 1);

  // After a restart the auditor still accepts v2 and knows who runs it.
  StartAuditor();
  EXPECT_THAT(auditor_->SignedPolicies(), SizeIs(2));
  auto nodes = auditor_->PolicyNodes();
  ASSERT_THAT(nodes, SizeIs(2));
  EXPECT_EQ(nodes[0].runs.back().sha256, v2);
}

TEST_F(PolicyViewTest, BadInputIsAClientError) {
  std::string cookie, csrf;
  LoginAs(kAdminToken, &cookie, &csrf);
  auto sign = [&](const std::string& body,
                  const std::string& type = "application/json") {
    return Call("POST", "/ui/api/policy/sign", "", body, cookie, csrf, type);
  };
  // YAML that does not parse: 400 naming the line.
  server::HttpResponse r =
      sign(JsonBody("version: 1\nrules:\n  - id: x\n    effect: [allow\n"));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_THAT(r.body, HasSubstr("uploaded.yaml:"));
  EXPECT_TRUE(Parse(r.body)["error"].HasMember("line")) << r.body;
  // Valid YAML, not a bundle: an unknown key on line 3.
  r = sign(JsonBody("version: 1\nrules: []\nbogus: 1\n"));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(Parse(r.body)["error"]["line"].GetInt(), 3) << r.body;
  EXPECT_EQ(sign("not json").status, 400);
  EXPECT_EQ(sign("{\"bundle\":7}").status, 400);
  EXPECT_EQ(sign("[]").status, 400);
  EXPECT_EQ(sign(JsonBody("")).status, 400);
  EXPECT_EQ(sign(JsonBody(std::string("version: 1\0", 11))).status, 400);
  EXPECT_EQ(sign(JsonBody(kPolicyV2), "text/plain").status, 415);
  std::string big = "version: 1\nrules: []\n#";
  big.append(kMaxUploadedBundleBytes, 'x');
  EXPECT_EQ(sign(JsonBody(big)).status, 413);
  // More invariants than one upload may ask the prover for.
  std::string many = "version: 1\nrules: []\ninvariants:\n";
  for (int i = 0; i < 101; ++i) {
    absl::StrAppend(&many, "  - {id: i", i, ", never: raw, when: {purpose: p",
                    i, "}}\n");
  }
  r = sign(JsonBody(many));
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("at most"));
  EXPECT_EQ(StoredFiles(), 0u);
  // Queries.
  EXPECT_EQ(Call("GET", "/ui/api/policy/diff", "from=abc&to=" + v1_, "", cookie)
                .status,
            400);
  EXPECT_EQ(Call("GET", "/ui/api/policy/diff",
                 "from=" + v1_ + "&to=" + std::string(64, 'a'), "", cookie)
                .status,
            404);
  EXPECT_EQ(Call("GET", "/ui/api/policy/file",
                 "sha256=" + v1_ + "&part=../../etc/passwd", "", cookie)
                .status,
            400);
  EXPECT_EQ(Call("GET", "/ui/api/policy/file",
                 "sha256=../" + v1_ + "&part=bundle", "", cookie)
                .status,
            400);
}

TEST_F(PolicyViewTest, WithoutASigningKeyNothingIsSigned) {
  config_.policy_signing_key_file.clear();
  StartAuditor();
  std::string cookie, csrf;
  LoginAs(kAdminToken, &cookie, &csrf);
  server::HttpResponse r = Call("POST", "/ui/api/policy/sign", "",
                                JsonBody(kPolicyV2), cookie, csrf);
  EXPECT_EQ(r.status, 501) << r.body;
  EXPECT_EQ(StoredFiles(), 0u);
  r = Call("GET", "/ui/api/policy", "", "", cookie);
  EXPECT_TRUE(Parse(r.body)["can_sign"].IsFalse());
}

TEST(PolicyTimelineTest, RunsFollowTheHashEachNodeDecidesWith) {
  PolicyTimeline t;
  const absl::Time t0 = absl::FromUnixSeconds(1'700'000'000);
  t.Observe("log/a", "n1", "h1", t0, 0);
  t.Observe("log/a", "n1", "h1", t0 + absl::Seconds(1), 1);
  t.Observe("log/a", "n1", "h2", t0 + absl::Seconds(2), 2);
  t.Observe("log/a", "n1", "h1", t0 + absl::Seconds(3), 3);
  for (int i = 0; i < 40; ++i) {
    t.Observe("log/b", "n2", i % 2 ? "x" : "y", t0, 10 + i);
  }
  auto nodes = t.Nodes();
  ASSERT_THAT(nodes, SizeIs(2));
  ASSERT_THAT(nodes[0].runs, SizeIs(3));
  EXPECT_EQ(nodes[0].runs[0].decisions, 2u);
  EXPECT_EQ(nodes[0].runs[1].sha256, "h2");
  EXPECT_EQ(nodes[0].runs[2].first_ms, absl::ToUnixMillis(t0) + 3000);
  EXPECT_THAT(nodes[1].runs, SizeIs(PolicyTimeline::kMaxRuns));
  EXPECT_EQ(nodes[1].runs.back().first_index, 49u);
}

TEST(PolicyDiffTest, AnInsertionIsNoChangeOfTheRulesBelowButAMoveIs) {
  const std::string a = R"(version: 1
rules:
  - {id: r1, effect: allow, when: {purpose: p1}}
  - {id: r2, effect: allow, when: {purpose: p2}}
  - {id: r3, effect: deny, when: {purpose: p3}}
)";
  const std::string inserted = R"(version: 1
rules:
  - {id: r0, effect: deny, when: {purpose: p0}}
  - {id: r1, effect: allow, when: {purpose: p1}}
  - {id: r2, effect: allow, when: {purpose: p2}}
  - {id: r3, effect: deny, when: {purpose: p3}}
)";
  const std::string moved = R"(version: 1
rules:
  - {id: r2, effect: allow, when: {purpose: p2}}
  - {id: r1, effect: allow, when: {purpose: p1}}
  - {id: r3, effect: deny, when: {purpose: [p3, p4]}}
)";
  auto parse = [](const std::string& t) {
    auto b = policy::ParseBundle(t, "t.yaml");
    EXPECT_TRUE(b.ok()) << b.status();
    return *b;
  };
  rapidjson::Document d = Parse(PolicyDiffJson(parse(a), parse(inserted)));
  EXPECT_EQ(d["rules"]["added"].Size(), 1u);
  EXPECT_EQ(d["rules"]["changed"].Size(), 0u);
  EXPECT_EQ(d["rules"]["unchanged"].GetInt(), 3);
  const std::string json = PolicyDiffJson(parse(a), parse(moved));
  d = Parse(json);
  ASSERT_EQ(d["rules"]["changed"].Size(), 3u) << json;
  EXPECT_THAT(json, HasSubstr("\"what\":\"order among common rules\""));
  EXPECT_THAT(json, HasSubstr("\"what\":\"when purpose\",\"from\":"
                              "\"purpose in [p3]\",\"to\":\"purpose in "
                              "[p3, p4]\""));
}

}  // namespace
}  // namespace clover::audit
