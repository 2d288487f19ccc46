#include "demo/demo.h"

#include <filesystem>
#include <fstream>
#include <random>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "approvals/attestation.h"
#include "audit/audit_config.h"
#include "audit/auditor.h"
#include "audit/witness_server.h"
#include "config/deployment.h"
#include "core/canonical_json.h"
#include "core/owned_dir.h"
#include "core/protected_paths.h"
#include "crypto/ed25519.h"
#include "crypto/random.h"
#include "crypto/secret_key_file.h"
#include "crypto/subject_pseudonym.h"
#include "entry/log_entry.h"
#include "gateway/http_client.h"
#include "gateway/local_deployment.h"
#include "gateway/node.h"
#include "log/client.h"
#include "log/fetch.h"
#include "log/note.h"
#include "log/tile.h"
#include "log/witness_client.h"
#include "migrate/mapping.h"
#include "migrate/runner.h"
#include "migrate/source.h"
#include "policy/bundle.h"
#include "policy/signature.h"
#include "rapidjson/document.h"

namespace clover::demo {
namespace {

using gateway::ClientResponse;
using gateway::ExampleApiKey;
using gateway::HttpClient;
using gateway::LocalNode;
using gateway::Node;
using gateway::NodeOptions;
using gateway::PrepareLocalDeployment;

namespace fs = std::filesystem;

struct RunningNode {
  std::string dc;
  std::string region;
  std::string endpoint;
  std::string verifier_key;
  std::unique_ptr<Node> node;
};

struct DemoSubject {
  std::string id;
  std::string country;
  std::string endpoint;  // the node that stores it
};

// Deterministic synthetic people.
class Synth {
 public:
  explicit Synth(uint32_t seed) : rng_(seed) {}
  int Pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }

  std::string RecordJson(const std::string& country, int n) {
    static const char* kFirst[] = {"Aoife", "Liam",  "Ingrid", "Mateusz",
                                   "Chloe", "Lukas", "Sofia",  "Noah",
                                   "Emma",  "Olav",  "Maja",   "Diego"};
    static const char* kLast[] = {"Murphy",   "Berg",  "Nowak",  "Dubois",
                                  "Schmidt",  "Rossi", "Garcia", "Larsen",
                                  "Kowalski", "Smith", "Jones",  "Moreau"};
    std::string first = kFirst[Pick(12)], last = kLast[Pick(12)];
    std::string cc = country == "US"   ? "1"
                     : country == "IE" ? "353"
                     : country == "NO" ? "47"
                                       : "49";
    std::string phone = "+" + cc;
    while (phone.size() < 12)
      phone.push_back(static_cast<char>('0' + Pick(10)));
    std::string out =
        absl::StrCat("{\"country\":\"", country, "\",\"fields\":{");
    absl::StrAppend(&out, "\"email\":\"", absl::AsciiStrToLower(first), ".",
                    absl::AsciiStrToLower(last), n, "@mail.example\",");
    absl::StrAppend(&out, "\"phone\":\"", phone, "\",");
    absl::StrAppend(&out, "\"name\":\"", first, " ", last, "\",");
    absl::StrAppendFormat(&out, "\"birthdate\":\"%04d-%02d-%02d\",",
                          1950 + Pick(56), 1 + Pick(12), 1 + Pick(28));
    if (Pick(5) == 0) {
      absl::StrAppendFormat(&out, "\"ip_address\":\"2001:db8:%x:%x::%x\",",
                            Pick(65536), Pick(65536), 1 + Pick(65535));
    } else {
      absl::StrAppendFormat(&out, "\"ip_address\":\"%d.%d.%d.%d\",",
                            1 + Pick(222), Pick(256), Pick(256), 1 + Pick(254));
    }
    absl::StrAppendFormat(&out, "\"device_id\":\"dev-%08x\",",
                          static_cast<unsigned>(rng_()));
    auto list = [&](const char* prefix, int count) {
      std::vector<std::string> items;
      for (int i = 0; i < count; ++i)
        items.push_back(absl::StrCat("\"", prefix, Pick(5000), "\""));
      return absl::StrCat("[", absl::StrJoin(items, ","), "]");
    };
    absl::StrAppend(&out, "\"watch_history\":", list("video-", 1 + Pick(6)),
                    ",");
    absl::StrAppend(&out, "\"follows\":", list("creator-", Pick(5)), ",");
    absl::StrAppend(&out, "\"uploaded_videos\":", list("upload-", Pick(3)),
                    ",");
    absl::StrAppend(&out, "\"payment_country\":\"", country, "\"}}");
    return out;
  }

 private:
  std::mt19937 rng_;
};

class Traffic {
 public:
  Traffic(DemoSummary& summary, std::ostream* progress)
      : s_(summary), progress_(progress) {}

  ClientResponse Call(absl::string_view scenario, absl::string_view principal,
                      absl::string_view method, const std::string& url,
                      absl::string_view purpose, absl::string_view body = {}) {
    std::vector<std::string> headers = {"Content-Type: application/json"};
    std::string key = ExampleApiKey(principal);
    if (!key.empty()) headers.push_back("Authorization: Bearer " + key);
    if (!purpose.empty())
      headers.push_back(absl::StrCat("X-Clover-Purpose: ", purpose));
    auto r = client_.Send(method, url, headers, body);
    ClientResponse out;
    if (r.ok()) out = *std::move(r);
    s_.http_statuses[absl::StrCat(scenario, ": ", out.status)]++;
    return out;
  }

  void Note(std::string line) {
    if (progress_ != nullptr) *progress_ << "  " << line << "\n";
    s_.notes.push_back(std::move(line));
  }

 private:
  DemoSummary& s_;
  std::ostream* progress_;
  HttpClient client_;
};

// Fetches and verifies one node's log, and tallies its decisions.
void Summarise(RunningNode& n, const std::vector<std::string>& witness_keys,
               DemoSummary& s) {
  DemoNodeSummary out;
  out.dc = n.dc;
  out.region = n.region;
  out.endpoint = n.endpoint;
  auto verifier = log::ParseVerifierKey(n.verifier_key);
  if (!verifier.ok()) return s.nodes.push_back(out);
  std::vector<std::unique_ptr<log::NoteVerifier>> verifiers;
  verifiers.push_back(*std::move(verifier));
  log::Fetcher fetch = log::HttpFetcher(n.endpoint + "/log");
  auto client = log::LogClient::Create(fetch, std::move(verifiers));
  if (!client.ok()) return s.nodes.push_back(out);
  auto cp = (*client)->FetchCheckpoint();
  if (!cp.ok()) return s.nodes.push_back(out);
  out.log_size = cp->checkpoint.size;
  // Which witnesses cosigned the checkpoint the node serves.
  for (const std::string& k : witness_keys) {
    auto w = log::ParseVerifierKey(k);
    if (!w.ok()) continue;
    const log::NoteVerifier* one[] = {w->get()};
    if (log::CheckWitnessQuorum(cp->note, one, 1).ok())
      out.cosigned_by.push_back((*w)->name());
  }
  out.root_hash = absl::Base64Escape(absl::string_view(
      reinterpret_cast<const char*>(cp->checkpoint.root.data()), 32));
  auto checked = (*client)->VerifyAllEntries(cp->checkpoint);
  out.checkpoint_verified = checked.ok() && *checked == cp->checkpoint.size;
  uint64_t size = cp->checkpoint.size;
  for (uint64_t b = 0; b * log::kTileWidth < size; ++b) {
    log::TilePath path;
    path.entries = true;
    path.index = b;
    path.width = static_cast<int>(
        std::min<uint64_t>(log::kTileWidth, size - b * log::kTileWidth));
    auto bundle = fetch(log::FormatTilePath(path));
    if (!bundle.ok()) break;
    auto entries = log::ParseEntryBundle(*bundle);
    if (!entries.ok()) break;
    entry::LogEntry parsed;
    for (absl::string_view e : *entries) {
      if (!entry::ParseLogEntry(e, &parsed).ok()) continue;
      switch (parsed.type) {
        case entry::EntryType::kDecision: {
          const entry::DecisionEntry& d = parsed.decision;
          s.actions[d.action]++;
          for (const entry::FieldEntry& f : d.fields)
            s.decisions[std::string(policy::ToString(f.effect))]
                       [d.destination]++;
          break;
        }
        case entry::EntryType::kApproval:
          s.actions["approval"]++;
          break;
        case entry::EntryType::kErasure:
          s.actions["erasure"]++;
          break;
        case entry::EntryType::kWrite:
          s.actions["write"]++;
          break;
        case entry::EntryType::kErasurePurge:
          s.actions["erasure_purge"]++;
          break;
        case entry::EntryType::kLegacyDeletion:
          s.actions["legacy_deletion"]++;
          break;
        case entry::EntryType::kPseudonymKey:
          s.actions["pseudonym_key"]++;
          break;
        case entry::EntryType::kOther:
          break;
      }
    }
  }
  s.nodes.push_back(out);
}

// Keys of the auditor, a signed copy of the policy that every node must use,
// and the auditor's configuration following every node's log. `signer` gets
// the auditor's note signing key, which also attests its approvals.
absl::StatusOr<audit::AuditorConfig> PrepareAuditor(
    const Deployment& base, const fs::path& data, std::vector<LocalNode>& nodes,
    DemoSummary::AuditorApi* api, audit::WitnessConfig* witness,
    std::string* approval_signer) {
  fs::path keys = data / "keys";
  fs::path policy_dir = data / "policy";
  fs::create_directories(policy_dir);
  fs::create_directories(data / "auditor");
  auto note_key = crypto::Ed25519PrivateKey::Generate();
  auto witness_key = crypto::Ed25519PrivateKey::Generate();
  auto journal_key = crypto::Ed25519PrivateKey::Generate();
  if (!note_key.ok() || !witness_key.ok() || !journal_key.ok()) {
    return absl::InternalError("cannot generate the auditor's keys");
  }
  std::string signer =
      log::FormatSignerKey("auditor.clover.example", 0x01, *note_key);
  auto verifier = log::VerifierKeyFromSignerKey(signer);
  if (!verifier.ok()) return verifier.status();
  // examples/audit.yaml verifies the signed bundle and directory with it.
  if (absl::Status st = crypto::WritePrivateFile(
          (keys / "auditor.note.pub").string(), *verifier + "\n");
      !st.ok()) {
    return st;
  }
  *approval_signer = signer;
  std::string witness_file = (keys / "auditor.witness.key").string();
  std::string journal_file = (keys / "auditor.journal.key").string();
  if (absl::Status st = crypto::WritePrivateFile(
          witness_file,
          log::FormatSignerKey("auditor.clover.example", 0x04, *witness_key) +
              "\n");
      !st.ok()) {
    return st;
  }
  // A second, stand-alone witness (`clover witness`, here in-process): the
  // nodes' checkpoints need both cosignatures, so neither party alone can
  // vouch for a log.
  auto second_key = crypto::Ed25519PrivateKey::Generate();
  if (!second_key.ok()) return second_key.status();
  witness->key_file = (keys / "witness.key").string();
  if (absl::Status st = crypto::WritePrivateFile(
          witness->key_file,
          log::FormatSignerKey("witness.clover.example", 0x04, *second_key) +
              "\n");
      !st.ok()) {
    return st;
  }
  witness->source_file = "clover demo";
  witness->data_dir = (data / "witness").string();
  if (absl::Status st = crypto::WritePrivateFile(
          journal_file, log::FormatSignerKey("auditor.clover.example/incidents",
                                             0x01, *journal_key) +
                            "\n");
      !st.ok()) {
    return st;
  }
  // The bundle the auditor reviewed and signed.
  std::string policy_file = (policy_dir / "policy.yaml").string();
  std::error_code ec;
  fs::copy_file(base.policy.file, policy_file,
                fs::copy_options::overwrite_existing, ec);
  if (ec)
    return absl::NotFoundError(absl::StrCat("cannot copy ", base.policy.file));
  auto text = policy::ReadFileToString(policy_file);
  if (!text.ok()) return text.status();
  auto sig = policy::SignPolicy(policy::Sha256Hex(*text), signer);
  if (!sig.ok()) return sig.status();
  if (absl::Status st = crypto::WritePrivateFile(policy_file + ".sig", *sig);
      !st.ok())
    return st;
  // The principal directory the auditor vouches for, signed the same way:
  // nodes decide with it, and the auditor replays from it.
  std::string principals_file = (policy_dir / "principals.yaml").string();
  if (base.principals_file.empty()) {
    return absl::InvalidArgumentError(
        "the demo deployment must name its principals as a file");
  }
  fs::copy_file(base.principals_file, principals_file,
                fs::copy_options::overwrite_existing, ec);
  if (ec) {
    return absl::NotFoundError(
        absl::StrCat("cannot copy ", base.principals_file));
  }
  auto principals_text = policy::ReadFileToString(principals_file);
  if (!principals_text.ok()) return principals_text.status();
  auto principals_sig =
      policy::SignPrincipals(policy::Sha256Hex(*principals_text), signer);
  if (!principals_sig.ok()) return principals_sig.status();
  if (absl::Status st = crypto::WritePrivateFile(
          policy::SignaturePath(principals_file), *principals_sig);
      !st.ok())
    return st;
  // The jurisdictions the directory's countries map to, as the auditor's own
  // copy.
  std::string jurisdictions_file = (policy_dir / "jurisdictions.yaml").string();
  {
    std::string yaml;
    for (const Jurisdiction& j : base.jurisdictions) {
      absl::StrAppend(&yaml, j.id, ":\n  countries: [\"",
                      absl::StrJoin(j.countries, "\", \""), "\"]\n");
    }
    if (absl::Status st = crypto::WritePrivateFile(jurisdictions_file, yaml);
        !st.ok())
      return st;
  }
  for (LocalNode& n : nodes) {
    n.deployment.policy.file = policy_file;
    n.deployment.policy.require_signed_policy = true;
    n.deployment.policy.auditor_keys = {*verifier};
    n.deployment.principals_file = principals_file;
    n.deployment.policy.require_signed_principals = true;
    // Every approval carries the auditor's attestation.
    n.deployment.approvals.attestation_keys = {*verifier};
  }
  audit::AuditorConfig c;
  c.source_file = "clover demo";
  c.name = "auditor.clover.example";
  c.listen_host = "127.0.0.1";
  c.listen_port = 0;
  c.data_dir = (data / "auditor").string();
  c.witness_key_file = witness_file;
  c.journal_key_file = journal_file;
  c.poll_interval = absl::Milliseconds(500);
  for (const LocalNode& n : nodes) {
    audit::AuditorLogConfig l;
    l.log.origin = n.deployment.log.origin;
    l.log.url = n.endpoint + "/log";
    l.log.verifier_keys = {n.verifier_key};
    l.traffic_metrics_url = n.endpoint + "/metrics";
    // The flows of this log come from the node's region (audit/flows.h).
    if (n.deployment.node) l.region = n.deployment.node->region;
    witness->logs.push_back(l.log);
    c.logs.push_back(std::move(l));
  }
  // A destination is in the region that stores its jurisdiction.
  for (const Region& r : base.regions) {
    for (const std::string& j : r.jurisdictions) {
      c.flows.destination_regions.emplace(j, r.id);
    }
  }
  c.policy_bundles = {policy_file};
  c.policy_keys = {*verifier};
  // The console's Policy page signs new versions with the same key
  // (audit/policy_view.h), kept 0600 beside the others.
  c.policy_signing_key_file = (keys / "auditor.note.key").string();
  if (absl::Status st =
          crypto::WritePrivateFile(c.policy_signing_key_file, signer + "\n");
      !st.ok()) {
    return st;
  }
  c.principals_file = principals_file;
  c.jurisdictions_file = jurisdictions_file;
  // The auditor's desk approves as the principal `auditor` (below), and
  // attests each approval with its key: a logged approval without that
  // attestation is forged.
  c.approvers = {"auditor"};
  c.attestation_keys = {*verifier};
  // The console's approvals desk calls every node as `auditor` (embedded
  // storage keeps each node's approvals apart) and attests with `signer`.
  c.desk.principal = "auditor";
  c.desk.attestation_signer_key = signer;
  // Also on disk (0600), for examples/audit.yaml's approvals.desk (the
  // attestation key is auditor.note.key, written above).
  if (absl::Status st =
          crypto::WritePrivateFile((keys / "auditor.api.key").string(),
                                   gateway::ExampleApiKey("auditor") + "\n");
      !st.ok()) {
    return st;
  }
  for (const LocalNode& n : nodes) {
    c.desk.nodes.push_back(
        {n.dc, n.endpoint, gateway::ExampleApiKey("auditor"), ""});
  }
  // The canary the auditor planted in the EU region, recognised by its log
  // pseudonym.
  audit::CanarySet canaries;
  canaries.pseudonym_key_file = (keys / "eu.pseudonym.key").string();
  canaries.subjects = {"canary-7f3a"};
  auto root = crypto::ReadSecretKeyFile(canaries.pseudonym_key_file);
  if (!root.ok()) return root.status();
  auto log_subject_key = crypto::DeriveLogSubjectKey(*root);
  if (!log_subject_key.ok()) return log_subject_key.status();
  std::string pseudonym =
      crypto::SubjectPseudonym(*log_subject_key, "canary-7f3a");
  canaries.pseudonyms = {pseudonym};
  c.detectors.canary_pseudonyms = {pseudonym};
  // accounts-eu plants it (below); its write is not a touch.
  c.detectors.canary_planters = {"accounts-eu"};
  c.canaries.push_back(std::move(canaries));
  c.detectors.bulk_subjects = 30;  // the insider reads 40 subjects in a burst
  c.detectors.bulk_window = absl::Minutes(10);
  c.incidents_jsonl = (data / "auditor" / "incidents.jsonl").string();
  // The auditor's API needs a bearer token: a fresh one, saved 0600 beside
  // the other keys (examples/audit.yaml names it as admin_token_file).
  auto raw = crypto::RandomString(32);
  if (!raw.ok()) return raw.status();
  api->admin_token = absl::BytesToHexString(*raw);
  api->admin_token_file = (keys / "auditor.admin.token").string();
  if (absl::Status st = crypto::WritePrivateFile(api->admin_token_file,
                                                 api->admin_token + "\n");
      !st.ok()) {
    return st;
  }
  auto credential = audit::CredentialForToken("admin", audit::ApiRole::kAdmin,
                                              api->admin_token);
  if (!credential.ok()) return credential.status();
  c.api_credentials = {*std::move(credential)};
  return c;
}

}  // namespace

absl::StatusOr<DemoSummary> RunDemo(
    const DemoOptions& options,
    const std::function<void(const DemoSummary&)>& on_summary) {
  std::ostream* say = options.progress;
  // Refuse a protected data directory before anything else can go wrong.
  if (absl::Status s = CheckNotProtected(options.data_dir); !s.ok()) return s;
  auto loaded = LoadDeployment(options.config);
  if (!loaded.ok()) return loaded.status();
  Deployment base = *std::move(loaded);
  fs::path data = fs::absolute(options.data_dir);
  // Only a directory the demo created (or an empty one) is emptied for reuse.
  if (absl::Status s = ResetOwnedDir(data.string(), "clover demo"); !s.ok())
    return s;

  auto prepared =
      PrepareLocalDeployment(base, data.string(), options.base_port);
  if (!prepared.ok()) {
    return absl::Status(
        prepared.status().code(),
        absl::StrCat("prepare nodes: ", prepared.status().message()));
  }
  // Redirect endpoints may have been rewritten: use the prepared view from here
  // on.
  base = (*prepared)[0].deployment;
  base.node.reset();
  // The auditor signs the policy; every node refuses to run anything else.
  DemoSummary::AuditorApi auditor_api;
  audit::WitnessConfig witness_config;
  std::string approval_signer;
  auto auditor_config = PrepareAuditor(base, data, *prepared, &auditor_api,
                                       &witness_config, &approval_signer);
  if (!auditor_config.ok()) {
    return absl::Status(
        auditor_config.status().code(),
        absl::StrCat("prepare auditor: ", auditor_config.status().message()));
  }
  // The two witnesses listen before the nodes start pushing to them; the
  // auditor polls only once the nodes are up.
  auto auditor = audit::Auditor::Create(*std::move(auditor_config));
  if (!auditor.ok()) {
    return absl::Status(
        auditor.status().code(),
        absl::StrCat("start auditor: ", auditor.status().message()));
  }
  if (absl::Status st = (*auditor)->Serve(); !st.ok()) return st;
  auto witness = audit::WitnessServer::Create(witness_config);
  if (!witness.ok()) {
    return absl::Status(
        witness.status().code(),
        absl::StrCat("start witness: ", witness.status().message()));
  }
  if (absl::Status st = (*witness)->Start(); !st.ok()) return st;
  const std::vector<std::string> witness_keys = {
      (*auditor)->witness().verifier_key(),
      (*witness)->witness().verifier_key()};
  for (LocalNode& n : *prepared) {
    n.deployment.log.witnesses = {
        {absl::StrCat("http://127.0.0.1:", (*auditor)->port()),
         witness_keys[0]},
        {absl::StrCat("http://127.0.0.1:", (*witness)->port()),
         witness_keys[1]}};
  }
  if (say)
    *say << "Starting " << prepared->size() << " gateway nodes (data in "
         << data.string() << ")"
         << (base.storage.driver == StorageDriver::kPostgres
                 ? ""
                 : "; embedded storage, one store per node, no replication "
                   "between DCs")
         << "\n";
  std::vector<RunningNode> nodes;
  for (LocalNode& n : *prepared) {
    NodeOptions o;
    o.threads = 1;
    auto started = Node::Start(n.deployment, o);
    if (!started.ok()) {
      return absl::Status(
          started.status().code(),
          absl::StrCat("start node ", n.dc, ": ", started.status().message()));
    }
    nodes.push_back(
        {n.dc, n.region, n.endpoint, n.verifier_key, *std::move(started)});
    if (say)
      *say << "  " << n.dc << " (region " << n.region << ") on " << n.endpoint
           << "\n";
  }

  if (absl::Status st = (*auditor)->Start(); !st.ok()) return st;
  if (say) {
    *say << "  auditor (witness, replay, detectors) on http://127.0.0.1:"
         << (*auditor)->port() << "\n"
         << "  stand-alone witness on http://127.0.0.1:" << (*witness)->port()
         << "\n";
  }

  DemoSummary s;
  s.auditor_api = std::move(auditor_api);
  s.auditor_api.url = absl::StrCat("http://127.0.0.1:", (*auditor)->port());
  Traffic t(s, say);
  Synth synth(20261129);
  auto url = [](const std::string& endpoint, absl::string_view path) {
    return absl::StrCat(endpoint, path);
  };
  std::vector<DemoSubject> eu, us;
  static const char* kEuCountries[] = {"IE", "DE", "FR", "NO", "PL",
                                       "IT", "ES", "NL", "SE", "IS"};
  const Region* eu_region = base.FindRegion("eu");
  const Region* us_region = base.FindRegion("us");
  if (eu_region == nullptr || us_region == nullptr) {
    return absl::FailedPreconditionError(
        "the demo needs regions 'eu' and 'us'");
  }

  if (say) *say << "\nSeeding synthetic subjects\n";
  int per_dc = std::max(4, options.subjects_per_dc);
  for (size_t k = 0; k < eu_region->dcs.size(); ++k) {
    for (int i = 0; i < per_dc; ++i) {
      DemoSubject subj{absl::StrFormat("eu-%s-%04d", eu_region->dcs[k].id, i),
                       kEuCountries[synth.Pick(10)],
                       eu_region->dcs[k].endpoint};
      auto r = t.Call("seed eu", "accounts-eu", "PUT",
                      url(subj.endpoint, "/v1/subjects/" + subj.id),
                      "account_management", synth.RecordJson(subj.country, i));
      if (r.status == 201 || r.status == 200) {
        eu.push_back(subj);
        s.subjects_written++;
      }
    }
  }
  for (int i = 0; i < per_dc; ++i) {
    DemoSubject subj{absl::StrFormat("us-%04d", i), "US",
                     us_region->dcs[0].endpoint};
    auto r = t.Call("seed us", "accounts-us", "PUT",
                    url(subj.endpoint, "/v1/subjects/" + subj.id),
                    "account_management", synth.RecordJson("US", i));
    if (r.status == 201 || r.status == 200) {
      us.push_back(subj);
      s.subjects_written++;
    }
  }
  // With the embedded default each node keeps its own store: the EU DCs do
  // not share their subjects, so say so rather than claim a region.
  const bool embedded = base.storage.driver != StorageDriver::kPostgres;
  t.Note(absl::StrCat(
      "seeded ", eu.size(), " EU subjects, ", per_dc, " through each of ",
      eu_region->dcs.size(), " EU DCs",
      embedded ? " (embedded storage: each DC keeps only the subjects written "
                 "through it; the replicated region is `make demo-ha`)"
               : " (one regional store)",
      ", and ", us.size(), " US subjects"));
  if (eu.size() < 10 || us.empty()) {
    return absl::InternalError(absl::StrCat(
        "seeding failed: ", eu.size(), " EU and ", us.size(),
        " US subjects stored; see the HTTP statuses in the summary"));
  }

  if (say) *say << "\nPlaying traffic\n";
  // A US subject's write by the US accounts service sent to an EU node: 421
  // with the US endpoint, nothing stored.
  {
    auto r =
        t.Call("misdirected write", "accounts-us", "PUT",
               url(eu_region->dcs[0].endpoint, "/v1/subjects/us-misdirected-1"),
               "account_management", synth.RecordJson("US", 9999));
    t.Note(absl::StrCat("misdirected write of a US subject to ",
                        eu_region->dcs[0].id, ": HTTP ", r.status,
                        " redirecting to ", r.Header("location")));
    auto r2 = t.Call("homeless write", "accounts-eu", "PUT",
                     url(eu_region->dcs[0].endpoint, "/v1/subjects/cn-1"),
                     "account_management", synth.RecordJson("CN", 1));
    t.Note(absl::StrCat("write of a subject from CN (no home region): HTTP ",
                        r2.status));
  }
  // EU support helps EU customers: raw data.
  for (int i = 0; i < 15; ++i) {
    const DemoSubject& subj = eu[i % eu.size()];
    t.Call("eu support read", "eu-support-1", "GET",
           url(subj.endpoint, "/v1/subjects/" + subj.id), "customer_support");
  }
  // Engineers in China operate the service: pseudonyms only, never contact or
  // network data.
  for (int i = 0; i < 20; ++i) {
    const DemoSubject& subj = eu[(i * 7) % eu.size()];
    auto r = t.Call("cn engineer read", "cn-engineer-1", "GET",
                    url(subj.endpoint, "/v1/subjects/" + subj.id),
                    "service_operation");
    rapidjson::Document doc;
    doc.Parse(r.body.c_str());
    if (r.status == 200 && doc.IsObject() && doc.HasMember("fields")) {
      for (const auto& f : doc["fields"].GetObject()) {
        const FieldSpec* spec = base.schema.Find(f.name.GetString());
        if (spec != nullptr && spec->restricted && f.value.HasMember("value") &&
            std::string(f.value["effect"].GetString()) == "allow") {
          s.raw_restricted_to_cn++;
        }
      }
    }
  }
  t.Note(absl::StrCat(
      "CN-based engineer read 20 EU subjects: restricted fields returned raw: ",
      s.raw_restricted_to_cn));
  // The US recommendation service exports pseudonymised behaviour of EU
  // subjects.
  for (const DataCenter& dc : eu_region->dcs) {
    std::vector<std::string> ids;
    for (const DemoSubject& subj : eu) {
      if (subj.endpoint == dc.endpoint)
        ids.push_back(absl::StrCat("\"", subj.id, "\""));
    }
    auto r = t.Call(
        "us recommendation export", "us-recommender", "POST",
        url(dc.endpoint, "/v1/exports"), "",
        absl::StrCat("{\"destination\":\"us\",\"purpose\":\"recommendation\","
                     "\"fields\":[\"watch_history\",\"follows\",\"email\"],"
                     "\"subjects\":[",
                     absl::StrJoin(ids, ","), "]}"));
    t.Note(absl::StrCat("US recommendation export from ", dc.id, ": HTTP ",
                        r.status, ", ", r.Header("x-clover-records"),
                        " pseudonymised records, log index ",
                        r.Header("x-clover-log-index")));
  }
  // Trust and safety reviews content.
  for (int i = 0; i < 5; ++i) {
    const DemoSubject& subj = eu[(i * 3) % eu.size()];
    t.Call("trust and safety read", "eu-tns-1", "GET",
           url(subj.endpoint, "/v1/subjects/" + subj.id +
                                  "?fields=uploaded_videos,name,email"),
           "trust_safety");
  }
  // A legal request needs the auditor's approval, Lockbox-style. Restricted
  // fields of EU subjects never go to a US legal team, not even with a grant:
  // the request covers unrestricted ones.
  {
    const DemoSubject& subj = eu[1];
    auto before = t.Call("legal read before approval", "us-legal-1", "GET",
                         url(subj.endpoint, "/v1/subjects/" + subj.id +
                                                "?fields=name,birthdate"),
                         "legal_request");
    auto created =
        t.Call("approval request", "us-legal-1", "POST",
               url(subj.endpoint, "/v1/approvals"), "",
               absl::StrCat("{\"justification\":\"LEGAL_REQUEST\",\"detail\":"
                            "\"Court order 2026-CV-1182\",\"subjects\":[\"",
                            subj.id,
                            "\"],\"fields\":[\"name\",\"birthdate\"],"
                            "\"duration\":\"2h\"}"));
    rapidjson::Document doc;
    doc.Parse(created.body.c_str());
    std::string id;
    if (doc.IsObject() && doc.HasMember("approval") &&
        doc["approval"].HasMember("id")) {
      id = doc["approval"]["id"].GetString();
    }
    auto self = t.Call("self approval attempt", "us-legal-1", "POST",
                       url(subj.endpoint, "/v1/approvals/" + id + "/approve"),
                       "", "{}");
    // The auditor's desk looks the request up and attests exactly it (the
    // hash of its logged creation, its grantee) with the auditor's key.
    auto looked_up = t.Call("auditor approval lookup", "auditor", "GET",
                            url(subj.endpoint, "/v1/approvals/" + id), "");
    auto attestation =
        approvals::AttestApproval(looked_up.body, "auditor", absl::Hours(2),
                                  approval_signer, absl::Now());
    std::string approve_body =
        "{\"reason\":\"valid court order, scope limited to two fields\"";
    if (attestation.ok()) {
      approve_body.append(",\"attestation\":");
      AppendJsonString(*attestation, &approve_body);
    }
    approve_body.push_back('}');
    auto approved =
        t.Call("auditor approval", "auditor", "POST",
               url(subj.endpoint, "/v1/approvals/" + id + "/approve"), "",
               approve_body);
    auto after = t.Call("legal read after approval", "us-legal-1", "GET",
                        url(subj.endpoint, "/v1/subjects/" + subj.id +
                                               "?fields=name,birthdate"),
                        "legal_request");
    t.Note(absl::StrCat("legal request: read before approval HTTP ",
                        before.status, ", approval ", id, " filed (HTTP ",
                        created.status, "), self-approval HTTP ", self.status,
                        ", auditor approval (attested with its key) HTTP ",
                        approved.status, ", read after approval HTTP ",
                        after.status));
  }
  // A second legal request, left pending for the approvals desk of the web
  // console (docs/console.md).
  {
    const DemoSubject& subj = eu[3];
    auto pending =
        t.Call("pending approval request", "us-legal-1", "POST",
               url(subj.endpoint, "/v1/approvals"), "",
               absl::StrCat("{\"justification\":\"LEGAL_REQUEST\",\"detail\":"
                            "\"Subpoena 2026-SUB-0412\",\"subjects\":[\"",
                            subj.id,
                            "\"],\"fields\":[\"name\",\"birthdate\"],"
                            "\"duration\":\"4h\"}"));
    t.Note(absl::StrCat("legal request on ", subj.id,
                        " left pending for the console's desk: HTTP ",
                        pending.status));
  }
  // Analytics: differentially-private aggregates only.
  for (int i = 0; i < 3; ++i) {
    auto r = t.Call("analytics aggregate", "eu-analytics", "POST",
                    url(eu_region->dcs[0].endpoint, "/v1/aggregates"),
                    "analytics", "{\"field\":\"birthdate\"}");
    if (i == 0)
      t.Note(
          absl::StrCat("analytics aggregate of birth years: HTTP ", r.status));
  }
  // An insider reads many subjects in a short time.
  int bulk = 0;
  for (const DemoSubject& subj : eu) {
    if (subj.endpoint != eu_region->dcs[0].endpoint) continue;
    t.Call("insider bulk read", "eu-support-2", "GET",
           url(subj.endpoint, "/v1/subjects/" + subj.id), "customer_support");
    ++bulk;
  }
  t.Note(
      absl::StrCat("insider eu-support-2 read ", bulk, " subjects in a burst"));
  // A canary subject planted for the auditor is touched.
  {
    const std::string& ep = eu_region->dcs[1].endpoint;
    t.Call("canary plant", "accounts-eu", "PUT",
           url(ep, "/v1/subjects/canary-7f3a"), "account_management",
           synth.RecordJson("IE", 7));
    auto r = t.Call("canary touch", "cn-engineer-1", "GET",
                    url(ep, "/v1/subjects/canary-7f3a"), "service_operation");
    t.Note(absl::StrCat(
        "canary subject canary-7f3a touched by cn-engineer-1: HTTP ",
        r.status));
  }
  // Erasure on request: crypto-shredding, then the subject is gone.
  {
    const DemoSubject& subj = eu[2];
    auto del = t.Call("erasure", "eu-support-1", "DELETE",
                      url(subj.endpoint, "/v1/subjects/" + subj.id),
                      "customer_support");
    auto gone = t.Call("read after erasure", "eu-support-1", "GET",
                       url(subj.endpoint, "/v1/subjects/" + subj.id),
                       "customer_support");
    t.Note(absl::StrCat("erasure of ", subj.id, ": HTTP ", del.status,
                        "; a read afterwards: HTTP ", gone.status));
  }
  // Requests that must fail cleanly.
  t.Call("no credentials", "", "GET",
         url(eu[0].endpoint, "/v1/subjects/" + eu[0].id), "customer_support");
  t.Call("no purpose", "eu-support-1", "GET",
         url(eu[0].endpoint, "/v1/subjects/" + eu[0].id), "");

  // A legacy migration (clover migrate legacy, issue 23): a dump of a few
  // hundred users of a legacy store outside Europe, one of them in CN, each
  // moved to its home region through that region's node, read back and
  // verified there. A dump cannot be deleted from, so no deletion is attested
  // here (bench/migrate.sh and tests/migrate_legacy_test.cc run it against a
  // PostgreSQL legacy database, where it is).
  {
    if (say) *say << "\nMigrating a legacy user dump home\n";
    const std::string dump = (data / "legacy-users.ndjson").string();
    {
      std::ofstream out(dump);
      static const char* kLegacyCountries[] = {"IE", "US", "DE", "FR",
                                               "US", "NO", "PL", "US"};
      for (int i = 0; i < 300; ++i) {
        out << "{\"user_id\":" << 5000 + i << ",\"country\":\""
            << (i == 137 ? "CN" : kLegacyCountries[i % 8])
            << "\",\"email\":\"legacy" << i
            << "@mail.example\",\"full_name\":\"Legacy User " << i
            << "\",\"follows\":[\"legacy-" << 5000 + (i * 7) % 300 << "\"]}\n";
      }
    }
    auto mapping = migrate::ParseMapping(
        "migration: demo-legacy\nkey: user_id\ncountry: country\n"
        "subject_prefix: \"legacy-\"\nbatch_size: 100\nfields:\n"
        "  email: {column: email, format: email}\n  name: full_name\n"
        "  follows: follows\n",
        "demo legacy mapping", base.schema);
    if (!mapping.ok()) return mapping.status();
    auto source = migrate::OpenSource(dump, *mapping);
    if (!source.ok()) return source.status();
    migrate::RunOptions mo;
    mo.journal = (data / "legacy.journal").string();
    mo.api_key = gateway::ExampleApiKey("legacy-migration");
    mo.workers = 2;
    mo.quiet = true;
    auto migrated = migrate::RunLegacyMigration(base, *mapping, **source, mo);
    if (!migrated.ok()) return migrated.status();
    uint64_t quarantined = migrated->mapping_errors;
    for (const auto& [reason, n] : migrated->quarantined) quarantined += n;
    for (const auto& [region, n] : migrated->records) {
      s.legacy_migrated[region] = static_cast<int64_t>(n);
    }
    s.legacy_quarantined = static_cast<int64_t>(quarantined);
    t.Note(absl::StrCat(
        "legacy migration of a 300-row dump: ", migrated->records["eu"],
        " records home in eu and ", migrated->records["us"],
        " in us, each written, read back and verified by record hash; ",
        quarantined,
        " quarantined (no home region: cn) and left out; a dump is not "
        "deleted, so no deletion is attested"));
  }

  if (say) *say << "\nVerifying every node's log with the client library\n";
  for (RunningNode& n : nodes) {
    // The served checkpoint is the newest both witnesses were asked about.
    (void)n.node->WaitWitnessed(absl::Seconds(10));
    Summarise(n, witness_keys, s);
  }
  // Let the auditor catch up with every log, then collect what it found.
  for (int round = 0; round < 3; ++round) {
    auto polled = (*auditor)->PollOnce();
    if (polled.ok()) s.auditor_entries += *polled;
  }
  for (const auto& f : (*auditor)->followers())
    s.auditor_tree_entries += f->size();
  for (const auto& inc : (*auditor)->incidents().List(std::nullopt)) {
    DemoSummary::Incident out{inc.id, inc.detector,
                              std::string(audit::ToString(inc.severity)),
                              inc.summary, 0};
    for (const auto& e : inc.evidence) {
      if (!e.proof.empty()) ++out.evidence;
    }
    s.incidents.push_back(std::move(out));
  }
  for (int i = 0; i < options.synthetic_incidents; ++i) {
    audit::Finding f;
    f.detector = "synthetic";
    f.severity = static_cast<audit::Severity>(i % 4);
    f.key = absl::StrCat("synthetic/", i);
    f.summary = absl::StrCat("synthetic incident ", i,
                             " (clover demo --synthetic-incidents)");
    f.time = absl::Now() - absl::Minutes(i % 10080);
    if (auto r = (*auditor)->incidents().Report(f, {}); !r.ok()) {
      return r.status();
    }
  }
  if (on_summary) on_summary(s);
  (*auditor)->Stop();
  for (RunningNode& n : nodes) n.node->Shutdown();
  (*witness)->Stop();
  return s;
}

std::string DemoSummary::ToText() const {
  std::string out =
      "\n=== Clover demo summary ===\n\nLogs (verified with the client "
      "library):\n";
  for (const auto& n : nodes) {
    absl::StrAppendFormat(&out,
                          "  %-9s region %-3s %-24s size %6d  root %s  %s\n",
                          n.dc, n.region, n.endpoint, n.log_size, n.root_hash,
                          n.checkpoint_verified ? "VERIFIED" : "NOT VERIFIED");
    absl::StrAppend(&out, "            cosigned by: ",
                    n.cosigned_by.empty() ? "(no witness)"
                                          : absl::StrJoin(n.cosigned_by, ", "),
                    "\n");
  }
  absl::StrAppend(&out, "\nField decisions by effect and destination:\n");
  for (const auto& [effect, by_dest] : decisions) {
    std::vector<std::string> parts;
    for (const auto& [dest, n] : by_dest)
      parts.push_back(absl::StrCat(dest, "=", n));
    absl::StrAppendFormat(&out, "  %-13s %s\n", effect,
                          absl::StrJoin(parts, "  "));
  }
  absl::StrAppend(&out, "\nLogged entries by action:\n");
  for (const auto& [action, n] : actions)
    absl::StrAppendFormat(&out, "  %-13s %d\n", action, n);
  absl::StrAppend(&out, "\nHTTP outcomes:\n");
  for (const auto& [k, n] : http_statuses)
    absl::StrAppendFormat(&out, "  %-40s x%d\n", k, n);
  absl::StrAppend(&out, "\nWhat happened:\n");
  for (const auto& line : notes) absl::StrAppend(&out, "  - ", line, "\n");
  if (!legacy_migrated.empty() || legacy_quarantined > 0) {
    absl::StrAppend(&out, "\nLegacy migration (clover migrate legacy):");
    for (const auto& [region, n] : legacy_migrated)
      absl::StrAppend(&out, " ", region, "=", n);
    absl::StrAppend(&out, " verified; quarantined=", legacy_quarantined, "\n");
  }
  absl::StrAppend(&out, "\nRestricted fields returned raw to staff in cn: ",
                  raw_restricted_to_cn, "\n");
  absl::StrAppend(&out, "\nAuditor: verified, re-hashed and replayed ",
                  auditor_tree_entries, " log entries of ", nodes.size(),
                  " logs; incidents raised: ", incidents.size(), "\n");
  for (const auto& i : incidents) {
    absl::StrAppendFormat(
        &out, "  [%-8s] %-20s %s (%d evidence items with inclusion proofs)\n",
        i.severity, i.detector, i.summary, i.evidence);
  }
  absl::StrAppend(&out, "\nAuditor API: ", auditor_api.url,
                  " (Authorization: Bearer <token>)\n  admin token ",
                  auditor_api.admin_token, "\n  saved in ",
                  auditor_api.admin_token_file, " (mode 0600)\n");
  // The token rides in the URL's fragment, which the browser never sends:
  // the console reads it, logs in and removes it from the address bar.
  absl::StrAppend(
      &out, "\nWeb console: ", auditor_api.url,
      "/ui/ (sign in with the admin token)\n  login link: ", auditor_api.url,
      "/ui/#/login?token=", auditor_api.admin_token, "\n");
  return out;
}

std::string DemoSummary::ToJson() const {
  std::string out = "{\"nodes\":[";
  for (size_t i = 0; i < nodes.size(); ++i) {
    const auto& n = nodes[i];
    if (i > 0) out.push_back(',');
    absl::StrAppend(
        &out, "{\"dc\":\"", n.dc, "\",\"region\":\"", n.region,
        "\",\"endpoint\":\"", n.endpoint, "\",\"log_size\":", n.log_size,
        ",\"root_hash\":\"", n.root_hash,
        "\",\"verified\":", n.checkpoint_verified ? "true" : "false",
        ",\"cosigned_by\":[");
    for (size_t k = 0; k < n.cosigned_by.size(); ++k) {
      if (k > 0) out.push_back(',');
      AppendJsonString(n.cosigned_by[k], &out);
    }
    out.append("]}");
  }
  absl::StrAppend(&out, "],\"decisions\":{");
  bool first = true;
  for (const auto& [effect, by_dest] : decisions) {
    if (!first) out.push_back(',');
    first = false;
    absl::StrAppend(&out, "\"", effect, "\":{");
    bool f2 = true;
    for (const auto& [dest, n] : by_dest) {
      if (!f2) out.push_back(',');
      f2 = false;
      absl::StrAppend(&out, "\"", dest, "\":", n);
    }
    out.push_back('}');
  }
  absl::StrAppend(&out, "},\"actions\":{");
  first = true;
  for (const auto& [a, n] : actions) {
    if (!first) out.push_back(',');
    first = false;
    absl::StrAppend(&out, "\"", a, "\":", n);
  }
  absl::StrAppend(&out, "},\"http\":{");
  first = true;
  for (const auto& [k, n] : http_statuses) {
    if (!first) out.push_back(',');
    first = false;
    AppendJsonString(k, &out);
    absl::StrAppend(&out, ":", n);
  }
  out.append("},\"legacy_migration\":{\"migrated\":{");
  first = true;
  for (const auto& [region, n] : legacy_migrated) {
    if (!first) out.push_back(',');
    first = false;
    AppendJsonString(region, &out);
    absl::StrAppend(&out, ":", n);
  }
  absl::StrAppend(&out, "},\"quarantined\":", legacy_quarantined);
  absl::StrAppend(&out, "},\"subjects_written\":", subjects_written,
                  ",\"raw_restricted_to_cn\":", raw_restricted_to_cn,
                  ",\"auditor_entries\":", auditor_tree_entries,
                  ",\"incidents\":[");
  for (size_t i = 0; i < incidents.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.append("{\"detector\":");
    AppendJsonString(incidents[i].detector, &out);
    absl::StrAppend(&out, ",\"evidence\":", incidents[i].evidence, ",\"id\":");
    AppendJsonString(incidents[i].id, &out);
    out.append(",\"severity\":");
    AppendJsonString(incidents[i].severity, &out);
    out.append(",\"summary\":");
    AppendJsonString(incidents[i].summary, &out);
    out.push_back('}');
  }
  out.append("],\"auditor_api\":{\"admin_token\":");
  AppendJsonString(auditor_api.admin_token, &out);
  out.append(",\"admin_token_file\":");
  AppendJsonString(auditor_api.admin_token_file, &out);
  out.append(",\"url\":");
  AppendJsonString(auditor_api.url, &out);
  out.append(",\"console_url\":");
  AppendJsonString(auditor_api.url + "/ui/", &out);
  out.append(",\"console_login_url\":");
  AppendJsonString(absl::StrCat(auditor_api.url,
                                "/ui/#/login?token=", auditor_api.admin_token),
                   &out);
  absl::StrAppend(&out, "},\"notes\":[");
  for (size_t i = 0; i < notes.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonString(notes[i], &out);
  }
  out.append("]}");
  auto canonical = CanonicalizeJson(out);
  return canonical.ok() ? *canonical : out;
}

}  // namespace clover::demo
