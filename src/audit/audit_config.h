// The auditor's configuration (`clover audit --config FILE`, see
// examples/audit.yaml). It holds only verification material: the logs' verifier
// keys, the policy bundles the auditor signed (with their .sig files) and the
// keys that verify those signatures, its own witness and journal signing keys,
// the canary subjects and the log-pseudonym keys needed to recognise them,
// detector thresholds, where incidents go, and the SHA-256 hashes of the bearer
// tokens its HTTP API accepts.
#ifndef CLOVER_AUDIT_AUDIT_CONFIG_H_
#define CLOVER_AUDIT_AUDIT_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "audit/detectors.h"
#include "audit/erasure_check.h"
#include "audit/flows.h"
#include "audit/follower.h"
#include "audit/legacy_check.h"
#include "audit/release_check.h"
#include "audit/topology_watch.h"
#include "crypto/secret_key_file.h"

namespace clover::audit {

struct CanarySet {
  std::string
      pseudonym_key_file;  // the region's log-pseudonym key (CLOVER-SECRET-V1)
  std::vector<std::string> subjects;
  std::vector<std::string>
      pseudonyms;  // given directly, or computed from the above
  std::vector<std::string> planted_by;  // principals whose writes plant them
};

struct AuditorLogConfig {
  FollowedLog log;
  std::string traffic_metrics_url;  // optional: a gateway /metrics for the
                                    // stall detector
  // The region of the node whose log this is (`logs[].region`): the origin
  // region of its flows. Empty: the region its signed entries state.
  std::string region = {};  // "= {}": brace inits may omit it
};

// Who may use the auditor's HTTP API. `kRead` reads incidents, flows and
// metrics; `kAdmin` also acknowledges and resolves incidents.
enum class ApiRole { kRead, kAdmin };

// One bearer credential of the API. Only the token's SHA-256 is kept: the
// config (or the process) never needs the token itself.
struct ApiCredential {
  std::string name;  // the acting identity recorded by ack/resolve
  ApiRole role = ApiRole::kAdmin;
  std::string sha256;  // 32 raw bytes: SHA-256 of the bearer token
};

// The ApiCredential for `token` (hashes it). Errors: InvalidArgument for a
// token shorter than kMinApiTokenLength.
inline constexpr size_t kMinApiTokenLength = 16;
[[nodiscard]] absl::StatusOr<ApiCredential> CredentialForToken(
    std::string name, ApiRole role, absl::string_view token);

// The auditor's client identity at the nodes' approval endpoints
// (`approvals.desk`): the console's approvals desk and subject access report
// (audit/approvals_desk.h) call each node as `principal` with its API key, and
// attest each approval with `attestation_signer_key`. Secrets: never logged.
struct ApprovalDeskNode {
  std::string name;     // the region or node it stands for ("eu", "ie-dub-1")
  std::string url;      // the node's base URL (http(s)://host:port)
  std::string api_key;  // the principal's bearer API key at that node
  std::string ca_file;  // PEM CAs for an https url; empty: the system's
};
struct ApprovalDeskConfig {
  std::string principal;                // the approver's principal id
  std::string attestation_signer_key;   // PRIVATE+KEY+... (note, type 0x01)
  std::vector<ApprovalDeskNode> nodes;  // empty: no desk
  // How much of a node's list or report one look-up reads (`limit` per page,
  // pages); what is left is named in the answer's "more" (not YAML keys:
  // tests lower them to reach the limit).
  int page_size = 100;
  int max_pages = 20;
};

struct AuditorConfig {
  std::string source_file;
  std::string name = "clover-auditor";
  std::string listen_host = "127.0.0.1";
  int listen_port = 0;
  std::string data_dir;          // absolute
  std::string witness_key_file;  // note signer key, type 0x04 (cosignatures)
  std::string
      journal_key_file;        // note signer key, type 0x01 (incident journal)
  std::string journal_origin;  // defaults to "<name>/incidents"
  // Bearer credentials of the HTTP API (auditor.admin_token_sha256,
  // auditor.admin_token_file, auditor.api_tokens). With none, the auditor
  // refuses to start unless `insecure_no_auth` is set.
  std::vector<ApiCredential> api_credentials;
  bool insecure_no_auth = false;
  absl::Duration poll_interval = absl::Seconds(1);
  // History re-verification (auditor.history_check.bundles_per_poll): entry
  // bundles of each log, with their hash tiles, re-fetched and compared with
  // what was verified on every poll (see LogFollower::CheckHistory). 0: off.
  int history_bundles_per_poll = 1;
  std::vector<AuditorLogConfig> logs;
  // `releases:`: the partners' key-release logs whose releases the auditor
  // checks against the decisions of `logs` (audit/release_check.h).
  std::vector<ReleaseLogConfig> releases;
  std::vector<std::string> policy_bundles;  // absolute
  std::vector<std::string> policy_keys;     // note verifier key strings
  // The auditor's policy-signing note key (`policies.signing_key_file`,
  // PRIVATE+KEY+..., mode 0600): the console signs new versions with it
  // (audit/policy_view.h). Empty: the console cannot sign.
  std::string policy_signing_key_file;
  // The principal directory the auditor signed (`principals.file`, with
  // FILE.sig by one of policy_keys) and the jurisdictions its countries map
  // to (`principals.jurisdictions`), absolute. Required in a config file;
  // only an embedder's config (tests of other detectors) may leave it empty,
  // and replay then takes principals' attributes from the entries (a
  // warning).
  std::string principals_file;
  std::string jurisdictions_file;
  // The principals that approve on the auditor's behalf (`approvals.
  // approvers`): a grant approved by anyone else is `forged_approval`. Empty:
  // any principal the directory knows, other than the grantee.
  std::vector<std::string> approvers;
  // Note verifier keys (type 0x01) an approval's attestation must be signed
  // by for the ledger to count it (`approvals.attestation_keys` /
  // `attestation_key_files`; approvals/attestation.h). In a config file they
  // default to policies.auditor_keys (the auditor attests every approval it
  // issues); an explicit empty list turns the check off. Empty here: off.
  std::vector<std::string> attestation_keys;
  // `approvals.desk`: the console's approvals desk (optional).
  ApprovalDeskConfig desk;
  std::vector<CanarySet> canaries;
  DetectorOptions detectors;
  // detectors.erasure_purge: {window, slack} (audit/erasure_check.h).
  ErasureCheckOptions erasure;
  absl::Duration log_stalled_after = absl::Minutes(5);
  // A counter of the node's durable appends: it grows only with entries, so
  // refusals that log nothing never count towards log_stalled.
  std::string traffic_metric = "clover_log_appends_total";
  // `topology:`: the replicated regions whose replicas' residency the
  // auditor checks every `topology_interval` (audit/topology_watch.h).
  std::vector<RegionTopologyConfig> topology;
  absl::Duration topology_interval = absl::Seconds(30);
  // `migration: {interval, sources}`: the legacy stores the auditor may read
  // to verify deletion attestations (audit/legacy_check.h).
  LegacyCheckOptions migration;
  // `flows: {regions, retention, entry_retention}` (audit/flows.h).
  FlowOptions flows;
  std::string incidents_jsonl;  // optional, absolute
  std::string webhook_url;      // optional
  std::string webhook_secret_file;
};

// Loads and validates the YAML file; relative paths resolve against its
// directory, and key files are read (never echoed). Errors: NotFound for
// unreadable files; InvalidArgument "file:line:col: field 'a.b': message".
[[nodiscard]] absl::StatusOr<AuditorConfig> LoadAuditorConfig(
    const std::string& path);

// Every key an auditor (witness) configuration may hold, as dotted paths
// ("auditor.listen", "logs[].origin"; "[]" a list item): the loader refuses
// any other.
std::vector<std::string> AuditorConfigKeys();
std::vector<std::string> WitnessConfigKeys();

// A stand-alone witness (`clover witness --config FILE`, see
// examples/witness.yaml): where it listens and keeps its state, its
// cosignature key and the logs (origin, verifier keys) it witnesses.
struct WitnessConfig {
  std::string source_file;
  std::string listen_host = "127.0.0.1";
  int listen_port = 0;
  std::string data_dir;           // absolute
  std::string key_file;           // note signer key, type 0x04
  std::vector<FollowedLog> logs;  // origin and verifier keys (url unused)
};

// As LoadAuditorConfig, for a witness configuration.
[[nodiscard]] absl::StatusOr<WitnessConfig> LoadWitnessConfig(
    const std::string& path);

// The canary pseudonym as the gateway logs it: base64url (no padding) of
// HMAC-SHA-256(log-pseudonym key, subject id).
[[nodiscard]] absl::StatusOr<std::string> LogPseudonym(
    absl::string_view key, absl::string_view subject);

// Reads a one-line key file (trailing whitespace trimmed). Errors: NotFound,
// InvalidArgument (empty), FailedPrecondition (readable by group/others, for
// secret files when `secret`).
[[nodiscard]] absl::StatusOr<std::string> ReadKeyFile(const std::string& path,
                                                      bool secret);

}  // namespace clover::audit

#endif  // CLOVER_AUDIT_AUDIT_CONFIG_H_
