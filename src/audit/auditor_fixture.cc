#include "audit/auditor_fixture.h"

#include <filesystem>
#include <fstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "log/note.h"
#include "policy/bundle.h"
#include "policy/signature.h"
#include "tests/openapi_spec.h"

namespace clover::audit::testing {

void WriteFile(const std::string& path, const std::string& text, bool secret) {
  namespace fs = std::filesystem;
  std::ofstream(path) << text;
  fs::perms mode = fs::perms::owner_read | fs::perms::owner_write;
  if (!secret) mode |= fs::perms::group_read | fs::perms::others_read;
  fs::permissions(path, mode);
}

std::string ConfigYaml(absl::string_view auth, absl::string_view log_verifier,
                       absl::string_view policy_verifier) {
  return absl::StrCat(R"(auditor:
  name: auditor.test
  listen: 127.0.0.1:0
  data_dir: data
  witness_key_file: w.key
  journal_key_file: j.key
)",
                      auth, R"(logs:
  - origin: log.test/a
    url: http://127.0.0.1:1/log
    verifier_keys: [")",
                      log_verifier, R"("]
policies:
  bundles: [policy.yaml]
  auditor_keys: [")",
                      policy_verifier, "\"]\n");
}

absl::StatusOr<SignedPolicy> WriteSignedPolicy(const TempDir& dir,
                                               absl::string_view yaml,
                                               const std::string& key_name) {
  SignedPolicy out;
  out.key = MakeKey(key_name);
  out.path = dir.Sub("policy.yaml");
  WriteFile(out.path, std::string(yaml));
  absl::StatusOr<policy::Bundle> bundle =
      policy::ParseBundle(std::string(yaml), out.path);
  if (!bundle.ok()) return bundle.status();
  out.sha256 = bundle->sha256;
  absl::StatusOr<std::string> sig =
      policy::SignPolicy(bundle->sha256, out.key.signer);
  if (!sig.ok()) return sig.status();
  WriteFile(policy::SignaturePath(out.path), *sig);
  auto compiled = policy::CompiledPolicy::Compile(*bundle);
  if (!compiled.ok()) return compiled.status();
  out.compiled = *std::move(compiled);
  return out;
}

absl::StatusOr<AuditorFiles> WriteAuditorFiles(const TempDir& dir,
                                               const std::string& name,
                                               absl::string_view policy_yaml) {
  AuditorFiles out;
  absl::StatusOr<SignedPolicy> policy =
      WriteSignedPolicy(dir, policy_yaml, name);
  if (!policy.ok()) return policy.status();
  out.policy = *std::move(policy);
  out.witness =
      MakeKey(absl::StrCat(name, "/witness"), log::kNoteTypeCosignature);
  WriteFile(dir.Sub("witness.key"), out.witness.signer, true);
  WriteFile(dir.Sub("journal.key"),
            MakeKey(absl::StrCat(name, "/incidents")).signer, true);
  AuditorConfig& c = out.config;
  c.name = name;
  c.data_dir = dir.Sub("data");
  c.witness_key_file = dir.Sub("witness.key");
  c.journal_key_file = dir.Sub("journal.key");
  c.journal_origin = absl::StrCat(name, "/incidents");
  c.policy_bundles = {out.policy.path};
  c.policy_keys = {out.policy.key.verifier};
  return out;
}

AuditorLogConfig FollowLog(const FakeLog& log, const std::string& url) {
  return {{log.origin(), url, {log.key().verifier}}, ""};
}

std::vector<ApiCredential> AdminAndReadCredentials() {
  return {*CredentialForToken("dpo", ApiRole::kAdmin, kAdminToken),
          *CredentialForToken("grafana", ApiRole::kRead, kReadToken)};
}

absl::StatusOr<std::unique_ptr<Auditor>> OpenAuditor(
    const AuditorConfig& config, const Clock& clock, const FakeLog& log) {
  return Auditor::Create(config, clock,
                         [&log](const std::string&) { return log.Fetcher(); });
}

void ReopenAuditor(const AuditorConfig& config, const Clock& clock,
                   const FakeLog& log, std::unique_ptr<Auditor>* auditor) {
  auditor->reset();
  absl::StatusOr<std::unique_ptr<Auditor>> a = OpenAuditor(config, clock, log);
  ASSERT_TRUE(a.ok()) << a.status();
  *auditor = *std::move(a);
}

entry::DecisionEntry SupportRead(absl::Time time, const std::string& subject) {
  entry::DecisionEntry e;
  e.time = time;
  e.node = "ie-dub-1-a";
  e.region = "eu";
  e.principal_id = "eu-support-1";
  e.principal_kind = "employee";
  e.principal_org = "clover";
  e.principal_roles = {"support"};
  e.principal_country = "IE";
  e.principal_jurisdiction = "eu";
  e.purpose = "customer_support";
  e.action = "read";
  e.destination = "eu";
  e.subject = subject;
  e.subject_jurisdiction = "eu";
  e.fields = {{"email", "contact", true, {}, {}, {}}};
  e.records = 1;
  return e;
}

std::vector<Incident> IncidentsOf(Auditor& auditor,
                                  absl::string_view detector) {
  std::vector<Incident> out;
  for (Incident& i : auditor.incidents().List(std::nullopt)) {
    if (i.detector == detector) out.push_back(std::move(i));
  }
  return out;
}

std::string HeaderOf(const server::HttpResponse& response,
                     absl::string_view name) {
  for (const auto& [k, v] : response.headers) {
    if (absl::EqualsIgnoreCase(k, name)) return v;
  }
  return "";
}

server::HttpResponse CallRouter(Auditor& auditor, server::HttpRequest req) {
  // The router may rewrite the request; the spec is looked up by what was
  // sent.
  const std::string method = req.method;
  const std::string path = req.path;
  const std::string query = req.query;
  server::HttpResponse out;
  auditor.handler()(req, [&](server::HttpResponse r) { out = std::move(r); });
  absl::Status spec = api_spec::CheckApiResponse(
      method, path, out.status, out.content_type, out.body,
      [&out](absl::string_view name) { return HeaderOf(out, name); });
  EXPECT_TRUE(spec.ok()) << method << " " << path << "?" << query << ": "
                         << spec.message();
  return out;
}

}  // namespace clover::audit::testing
