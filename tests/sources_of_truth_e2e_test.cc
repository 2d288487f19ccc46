// The auditor's sources of truth end to end: a node that requires a signed
// principal directory refuses an unsigned or wrongly signed one at startup;
// entries forged with the node's own key through `clover log append` (as a
// malicious operator holding it could) are each caught by an auditor following
// the node's log over HTTP, while the node's own traffic raises nothing. The
// forgeries include whole approvals (a `created` and an `approved` transition
// and a read using them): without the auditor's attestation of exactly that
// request, even a genuine attestation of another one, they are forged.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "approvals/approvals.h"
#include "approvals/attestation.h"
#include "audit/auditor.h"
#include "audit/decision_builder.h"
#include "audit/fetcher.h"
#include "core/canonical_json.h"
#include "core/test_temp_dir.h"
#include "crypto/ed25519.h"
#include "entry/decision_record.h"
#include "gateway/http_client.h"
#include "gateway/local_deployment.h"
#include "gateway/node.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "log/note.h"
#include "policy/bundle.h"
#include "policy/signature.h"

namespace clover::gateway {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

void Write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

class SourcesOfTruthE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = LoadDeployment(
        absl::StrCat(CLOVER_SOURCE_DIR, "/examples/deployment.yaml"));
    ASSERT_TRUE(d.ok()) << d.status();
    auto nodes = PrepareLocalDeployment(*d, dir_.path(), 0, FreeLoopbackPort);
    ASSERT_TRUE(nodes.ok()) << nodes.status();
    for (LocalNode& n : *nodes)
      if (n.dc == "ie-dub-1") node_ = n;
    auto key = crypto::Ed25519PrivateKey::Generate();
    ASSERT_TRUE(key.ok());
    signer_ = log::FormatSignerKey("auditor.e2e", 0x01, *key);
    verifier_ = *log::VerifierKeyFromSignerKey(signer_);
    // The auditor's signed copies of the policy and of the directory.
    policy_file_ = dir_.Sub("policy.yaml");
    fs::copy_file(d->policy.file, policy_file_);
    auto text = policy::ReadFileToString(policy_file_);
    ASSERT_TRUE(text.ok());
    Write(policy::SignaturePath(policy_file_),
          *policy::SignPolicy(policy::Sha256Hex(*text), signer_));
    principals_file_ = dir_.Sub("principals.yaml");
    fs::copy_file(d->principals_file, principals_file_);
    jurisdictions_file_ =
        absl::StrCat(CLOVER_SOURCE_DIR, "/examples/jurisdictions.yaml");
    Deployment& nd = node_.deployment;
    nd.policy.file = policy_file_;
    nd.policy.require_signed_policy = true;
    nd.policy.auditor_keys = {verifier_};
    nd.principals_file = principals_file_;
    nd.policy.require_signed_principals = true;
    // Approvals need the auditor's attestation.
    nd.approvals.attestation_keys = {verifier_};
  }

  void SignDirectory(const std::string& signer) {
    auto text = policy::ReadFileToString(principals_file_);
    ASSERT_TRUE(text.ok());
    Write(policy::SignaturePath(principals_file_),
          *policy::SignPrincipals(policy::Sha256Hex(*text), signer));
  }

  absl::StatusOr<std::unique_ptr<Node>> StartNode() {
    NodeOptions o;
    o.threads = 1;
    return Node::Start(node_.deployment, o);
  }

  // Appends `entries` to the (stopped) node's log with its own key, through
  // the CLI.
  void AppendWithNodeKey(const std::vector<std::string>& entries) {
    const std::string cmd = absl::StrCat(
        CLOVER_BINARY, " log append --dir ", node_.deployment.node->data_dir,
        "/log --key ", node_.deployment.log.key_file, " --origin '",
        node_.deployment.log.origin, "' >/dev/null");
    FILE* p = popen(cmd.c_str(), "w");
    ASSERT_NE(p, nullptr);
    for (const std::string& e : entries) {
      ASSERT_EQ(e.find('\n'), std::string::npos);
      fputs((e + "\n").c_str(), p);
    }
    ASSERT_EQ(pclose(p), 0) << cmd;
  }

  // A read of the example policy as a forger states it, decided from its own
  // claims.
  entry::DecisionEntry Read(const policy::CompiledPolicy& p,
                            const std::string& id, const std::string& role,
                            const std::string& country,
                            const std::string& jurisdiction,
                            const std::string& org,
                            const std::string& purpose) {
    entry::DecisionEntry e;
    e.time = absl::Now();
    e.node = node_.deployment.node->id;
    e.region = "eu";
    e.principal_id = id;
    e.principal_kind = "employee";
    e.principal_org = org;
    e.principal_roles = {role};
    e.principal_country = country;
    e.principal_jurisdiction = jurisdiction;
    e.purpose = purpose;
    e.action = "read";
    e.destination = jurisdiction;
    e.subject = "forged-pseudonym";
    e.subject_jurisdiction = jurisdiction;
    e.fields = {{"email", "contact", true, {}, {}, {}},
                {"name", "identity", false, {}, {}, {}}};
    e.records = 1;
    audit::DecideWith(p, &e);
    return e;
  }

  test::TempDir dir_{"sources-of-truth-e2e"};
  LocalNode node_;
  std::string signer_, verifier_;
  std::string policy_file_, principals_file_, jurisdictions_file_;
};

TEST_F(SourcesOfTruthE2eTest, NodeRefusesAnUnsignedOrWronglySignedDirectory) {
  auto node = StartNode();
  ASSERT_FALSE(node.ok());
  EXPECT_EQ(node.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(node.status().message(), HasSubstr("principals.yaml.sig"));
  EXPECT_THAT(node.status().message(),
              HasSubstr("clover policy sign --principals"));
  // Signed by a key the deployment does not name.
  auto other = crypto::Ed25519PrivateKey::Generate();
  ASSERT_TRUE(other.ok());
  SignDirectory(log::FormatSignerKey("operator.e2e", 0x01, *other));
  node = StartNode();
  ASSERT_FALSE(node.ok());
  EXPECT_EQ(node.status().code(), absl::StatusCode::kFailedPrecondition);
  // Signed, then edited.
  SignDirectory(signer_);
  std::ofstream(principals_file_, std::ios::app) << "# edited\n";
  node = StartNode();
  ASSERT_FALSE(node.ok());
  EXPECT_THAT(node.status().message(), HasSubstr("for another directory"));
}

TEST_F(SourcesOfTruthE2eTest, ForgedEntriesAppendedWithTheNodesKeyAreCaught) {
  SignDirectory(signer_);
  auto node = StartNode();
  ASSERT_TRUE(node.ok()) << node.status();
  const std::string endpoint =
      absl::StrCat("http://127.0.0.1:", (*node)->port());
  // Honest traffic: a support read through the API.
  HttpClient client;
  auto put = client.Send(
      "PUT", endpoint + "/v1/subjects/eu-1",
      {"Authorization: Bearer " + ExampleApiKey("accounts-eu"),
       "X-Clover-Purpose: account_management"},
      R"({"country":"IE","fields":{"email":"a@mail.example","name":"A B"}})");
  ASSERT_TRUE(put.ok() && put->status == 201) << (put.ok() ? put->body : "");
  auto get =
      client.Send("GET", endpoint + "/v1/subjects/eu-1?fields=email,name",
                  {"Authorization: Bearer " + ExampleApiKey("eu-support-1"),
                   "X-Clover-Purpose: customer_support"},
                  "");
  ASSERT_TRUE(get.ok() && get->status == 200) << (get.ok() ? get->body : "");
  // A legal read under a grant the auditor approved: the gateway's own
  // approval records and granted read must pass the ledger.
  const std::vector<std::string> as_legal = {
      "Authorization: Bearer " + ExampleApiKey("us-legal-1"),
      "X-Clover-Purpose: legal_request", "Content-Type: application/json"};
  auto created = client.Send(
      "POST", endpoint + "/v1/approvals", as_legal,
      R"({"justification":"LEGAL_REQUEST","detail":"Court order 7",)"
      R"("subjects":["eu-1"],"fields":["name"],"duration":"1h"})");
  ASSERT_TRUE(created.ok() && created->status == 201)
      << (created.ok() ? created->body : "");
  const size_t at = created->body.find("\"id\":\"apr-");
  ASSERT_NE(at, std::string::npos) << created->body;
  const std::string id = created->body.substr(at + 6, 28);
  // The auditor's desk looks the request up (a logged lookup) and attests it.
  const std::vector<std::string> as_auditor = {
      "Authorization: Bearer " + ExampleApiKey("auditor"),
      "Content-Type: application/json"};
  auto looked_up =
      client.Send("GET", endpoint + "/v1/approvals/" + id, as_auditor, "");
  ASSERT_TRUE(looked_up.ok() && looked_up->status == 200);
  auto note = approvals::AttestApproval(looked_up->body, "auditor",
                                        absl::Hours(1), signer_, absl::Now());
  ASSERT_TRUE(note.ok()) << note.status();
  std::string approve_body = R"({"reason":"checked","attestation":)";
  AppendJsonString(*note, &approve_body);
  approve_body += "}";
  auto approved =
      client.Send("POST", endpoint + "/v1/approvals/" + id + "/approve",
                  as_auditor, approve_body);
  ASSERT_TRUE(approved.ok() && approved->status == 200)
      << (approved.ok() ? approved->body : "");
  auto granted = client.Send("GET", endpoint + "/v1/subjects/eu-1?fields=name",
                             as_legal, "");
  ASSERT_TRUE(granted.ok() && granted->status == 200)
      << (granted.ok() ? granted->body : "");
  ASSERT_THAT(granted->body, HasSubstr("A B"));  // revealed under the grant
  (*node)->Shutdown();
  node->reset();

  // The operator appends with the node's key.
  auto compiled =
      policy::CompiledPolicy::Compile(*policy::LoadBundle(policy_file_));
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  const policy::CompiledPolicy& p = **compiled;
  entry::DecisionEntry legal = Read(p, "us-legal-1", "legal", "US", "us",
                                    "clover-legal", "legal_request");
  legal.approval = "apr-000000000000000000000000";
  entry::DecisionEntry fake =
      Read(p, "cn-engineer-1", "support", "IE", "eu",
           "clover-platform-engineering", "customer_support");
  entry::DecisionEntry nobody = Read(p, "nobody-42", "support", "IE", "eu",
                                     "clover-eu-support", "customer_support");
  // Whole approvals forged with the node's key: a request and its approval
  // by the auditor's desk, consistent in every member the log carries, then
  // a legal read using it. One approval carries no attestation; the other a
  // genuine attestation by the auditor, replayed from the honest approval.
  auto forged_pair = [&](const std::string& fid, const std::string& note) {
    approvals::TransitionRecord r;
    r.id = fid;
    r.state = "pending";
    r.principal = "us-legal-1";
    r.justification = "LEGAL_REQUEST";
    r.fields = {"email", "name"};
    r.subject_count = 1;
    r.requester_country = "US";
    r.by = "us-legal-1";
    r.time = absl::Now() - absl::Minutes(2);
    r.expires = r.time + absl::Hours(96);
    std::vector<std::string> out = {*approvals::TransitionRecordToJson(r)};
    r.state = "approved";
    r.by = "auditor";
    r.time += absl::Minutes(1);
    r.expires = r.time + absl::Hours(1);
    r.attestation = note;
    out.push_back(*approvals::TransitionRecordToJson(r));
    entry::DecisionEntry use = Read(p, "us-legal-1", "legal", "US", "us",
                                    "clover-legal", "legal_request");
    use.approval = fid;
    out.push_back(entry::DecisionJson(use));
    return out;
  };
  std::vector<std::string> forged = {entry::DecisionJson(legal),
                                     entry::DecisionJson(fake),
                                     entry::DecisionJson(nobody)};
  for (const std::string& e : forged_pair("apr-aaaaaaaaaaaaaaaaaaaaaaaa", ""))
    forged.push_back(e);
  for (const std::string& e :
       forged_pair("apr-bbbbbbbbbbbbbbbbbbbbbbbb", *note))
    forged.push_back(e);
  AppendWithNodeKey(forged);
  node = StartNode();
  ASSERT_TRUE(node.ok()) << node.status();

  audit::AuditorConfig c;
  c.source_file = "e2e";
  c.data_dir = dir_.Sub("auditor");
  c.insecure_no_auth = true;
  auto wkey = crypto::Ed25519PrivateKey::Generate();
  auto jkey = crypto::Ed25519PrivateKey::Generate();
  ASSERT_TRUE(wkey.ok() && jkey.ok());
  c.witness_key_file = dir_.Sub("witness.key");
  c.journal_key_file = dir_.Sub("journal.key");
  Write(c.witness_key_file,
        log::FormatSignerKey("auditor.e2e", 0x04, *wkey) + "\n");
  Write(c.journal_key_file,
        log::FormatSignerKey("auditor.e2e/incidents", 0x01, *jkey) + "\n");
  fs::permissions(c.witness_key_file, fs::perms::owner_read);
  fs::permissions(c.journal_key_file, fs::perms::owner_read);
  audit::AuditorLogConfig l;
  l.log.origin = node_.deployment.log.origin;
  l.log.url = absl::StrCat("http://127.0.0.1:", (*node)->port(), "/log");
  l.log.verifier_keys = {node_.verifier_key};
  c.logs.push_back(l);
  c.policy_bundles = {policy_file_};
  c.policy_keys = {verifier_};
  c.principals_file = principals_file_;
  c.jurisdictions_file = jurisdictions_file_;
  c.attestation_keys = {verifier_};
  auto auditor = audit::Auditor::Create(c);
  ASSERT_TRUE(auditor.ok()) << auditor.status();
  auto polled = (*auditor)->PollOnce();
  ASSERT_TRUE(polled.ok()) << polled.status();
  // write, read, created, lookup, approved, read; nine forged
  ASSERT_EQ(*polled, 15u);

  std::map<std::string, std::string> by_detector;
  std::map<std::string, std::set<uint64_t>> indices;
  for (const audit::Incident& i : (*auditor)->incidents().List(std::nullopt)) {
    by_detector[i.detector] = i.summary;
    for (const audit::Evidence& e : i.evidence)
      if (e.index) indices[i.detector].insert(*e.index);
  }
  // Entries 0-5 are the node's (5: the granted read); 6-14 the forged ones:
  // 6-8 three reads, 9-11 and 12-14 a forged approval and a read using it.
  EXPECT_EQ(indices["forged_approval"], (std::set<uint64_t>{6, 11, 14}));
  EXPECT_EQ(indices["attribute_mismatch"], std::set<uint64_t>{7});
  EXPECT_EQ(indices["unknown_principal"], std::set<uint64_t>{8});
  // The last use named is the replayed attestation's: it is for another id.
  EXPECT_THAT(by_detector["forged_approval"],
              HasSubstr("apr-bbbbbbbbbbbbbbbbbbbbbbbb' is not attested"));
  EXPECT_THAT(by_detector["forged_approval"], HasSubstr("'id'"));
  EXPECT_THAT(by_detector["attribute_mismatch"],
              HasSubstr("country 'IE' (directory: 'CN')"));
  EXPECT_THAT(by_detector["unknown_principal"], HasSubstr("'nobody-42'"));
  // Replayed from the directory, the fake CN engineer's raw read is a
  // mismatch against the policy.
  EXPECT_THAT(by_detector["decision_mismatch"], HasSubstr("logged allow"));
  // Nothing else: the node's own entries, the granted read among them,
  // raise nothing.
  EXPECT_EQ(by_detector.size(), 4u);
  for (const auto& [d, s] : by_detector) EXPECT_THAT(s, HasSubstr("entry "));
  (*node)->Shutdown();
}

}  // namespace
}  // namespace clover::gateway
