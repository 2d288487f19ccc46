// The setup the auditor's tests share: a signed policy, the witness and
// journal keys and the AuditorConfig that names them, written into a test's
// temporary directory; an Auditor that reads its logs from FakeLogs in
// memory; the decision entry most tests start from; a request through the
// auditor's router checked against docs/openapi.yaml.
//
// Ownership: the caller owns everything returned (the TempDir the files are
// written into, the FakeLog an auditor fetches from; both must outlive the
// auditor). Nothing here keeps state between calls, so the functions may be
// called from any thread; what they return is as thread-safe as the types
// themselves (an Auditor is, a FakeLog is not while it is appended to).
//
// Errors are returned as absl::Status for the caller to ASSERT on, so a
// failure is reported at the test's line; ReopenAuditor and CallRouter, which
// tests call in many places, record their gtest failure themselves.
#ifndef CLOVER_AUDIT_AUDITOR_FIXTURE_H_
#define CLOVER_AUDIT_AUDITOR_FIXTURE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "audit/audit_config.h"
#include "audit/auditor.h"
#include "audit/incident.h"
#include "audit/test_util.h"
#include "core/clock.h"
#include "entry/decision_record.h"
#include "policy/compiled_policy.h"
#include "server/http.h"

namespace clover::audit::testing {

// The bearer tokens of AdminAndReadCredentials().
inline constexpr char kAdminToken[] = "admin-token-0123456789abcdef";
inline constexpr char kReadToken[] = "read-token-0123456789abcdef";

// Writes `text` to `path` and sets its mode whatever the umask or the mode it
// had: 0600 when `secret`, else 0644 (world-readable: what the auditor
// refuses for a key or DSN file).
void WriteFile(const std::string& path, const std::string& text,
               bool secret = false);

// The start of an auditor config file: the `auditor:` section (name
// auditor.test, listen 127.0.0.1:0, data_dir data, witness_key_file w.key,
// journal_key_file j.key, then `auth`: the section's further lines, each
// indented by two spaces and ending in a newline), one log (log.test/a at
// http://127.0.0.1:1/log, `log_verifier`) and `policies:` (policy.yaml,
// `policy_verifier`). The caller appends the sections it tests.
std::string ConfigYaml(absl::string_view auth, absl::string_view log_verifier,
                       absl::string_view policy_verifier);
// The `principals:` section most of ConfigYaml's callers add
// (principals.yaml and jurisdictions.yaml beside the config file).
inline constexpr char kPrincipalsYaml[] =
    "principals:\n  file: principals.yaml\n"
    "  jurisdictions: jurisdictions.yaml\n";

// A policy bundle on disk, signed by the auditor's key, and compiled.
struct SignedPolicy {
  TestKey key;         // the key that signed it (its verifier goes in config)
  std::string path;    // <dir>/policy.yaml; the signature beside it
  std::string sha256;  // the bundle's digest
  std::shared_ptr<const policy::CompiledPolicy> compiled;
};

// Writes `yaml` as dir/policy.yaml with its signature by a new key named
// `key_name`. Errors: those of parsing, signing or compiling the bundle.
[[nodiscard]] absl::StatusOr<SignedPolicy> WriteSignedPolicy(
    const TempDir& dir, absl::string_view yaml, const std::string& key_name);

// What an auditor named `name` needs on disk, and the config naming it.
struct AuditorFiles {
  SignedPolicy policy;  // key named `name`
  TestKey witness;      // cosignature key "<name>/witness", in witness.key
  // name, data_dir (<dir>/data), witness_key_file, journal_key_file (key
  // "<name>/incidents"), journal_origin "<name>/incidents", policy_bundles
  // and policy_keys. No logs, no credentials, authentication on.
  AuditorConfig config;
};

// Writes the signed policy `policy_yaml` and the witness and journal keys into
// `dir`. Errors: those of WriteSignedPolicy.
[[nodiscard]] absl::StatusOr<AuditorFiles> WriteAuditorFiles(
    const TempDir& dir, const std::string& name, absl::string_view policy_yaml);

// The config entry that follows `log` at `url` (a name OpenAuditor's fetchers
// are looked up by; never dialled).
AuditorLogConfig FollowLog(const FakeLog& log, const std::string& url);

// "dpo" (admin, kAdminToken) and "grafana" (read, kReadToken).
std::vector<ApiCredential> AdminAndReadCredentials();

// Auditor::Create with every log URL served by `log`, which must outlive the
// auditor.
[[nodiscard]] absl::StatusOr<std::unique_ptr<Auditor>> OpenAuditor(
    const AuditorConfig& config, const Clock& clock, const FakeLog& log);

// Replaces `*auditor` with OpenAuditor(config, clock, log), closing the old
// one first (they share the data directory); a fatal test failure when it
// cannot be opened (then `*auditor` is null).
void ReopenAuditor(const AuditorConfig& config, const Clock& clock,
                   const FakeLog& log, std::unique_ptr<Auditor>* auditor);

// An allowed-shaped read at `time`: eu-support-1 (employee of clover, role
// support, IE, eu) reads `subject`'s email (contact, restricted) on node
// ie-dub-1-a for customer_support, destination eu, one record. Not decided:
// tests change what they need, then call DecideWith.
entry::DecisionEntry SupportRead(absl::Time time, const std::string& subject);

// The incidents `detector` raised, in the store's List order.
std::vector<Incident> IncidentsOf(Auditor& auditor, absl::string_view detector);

// `req` answered by the auditor's router (no socket); a non-fatal test
// failure when the answer is not one docs/openapi.yaml documents.
server::HttpResponse CallRouter(Auditor& auditor, server::HttpRequest req);

// The first header `name` (any case) of `response`; "" when absent.
std::string HeaderOf(const server::HttpResponse& response,
                     absl::string_view name);

}  // namespace clover::audit::testing

#endif  // CLOVER_AUDIT_AUDITOR_FIXTURE_H_
