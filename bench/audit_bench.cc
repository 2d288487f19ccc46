// Prints the auditor's throughput in entries per second, end to end and per
// stage, next to a baseline measured in the same run (SHA-256 over the same
// entry bytes), and checks it against the target: 1.5 x the gateway's peak
// decision rate (40,000/s) = 60,000 entries/s.
//
//   bench_audit [entries]     (default 200000)
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "audit/auditor.h"
#include "audit/decision_builder.h"
#include "audit/replayer.h"
#include "core/owned_dir.h"
#include "crypto/ed25519.h"
#include "crypto/sha256.h"
#include "entry/decision_record.h"
#include "entry/log_entry.h"
#include "log/checkpoint.h"
#include "log/merkle.h"
#include "log/note.h"
#include "log/tile.h"
#include "policy/bundle.h"
#include "policy/signature.h"

namespace clover::audit {
namespace {

constexpr double kGatewayPeak = 40000;
constexpr double kTarget = 1.5 * kGatewayPeak;

std::string Key(const std::string& name, uint8_t type) {
  return log::FormatSignerKey(name, type,
                              *crypto::Ed25519PrivateKey::Generate());
}

void Write(const std::string& path, const std::string& s, bool secret = false) {
  std::ofstream(path) << s;
  if (secret) chmod(path.c_str(), 0600);
}

// A static, already sequenced log held in memory: bundles and one signed
// checkpoint.
struct MemLog {
  std::string origin = "log.bench/eu";
  std::string skey = Key(origin, log::kNoteTypeEd25519);
  std::map<std::string, std::string> resources;

  void Build(const std::vector<std::string>& entries) {
    std::vector<log::Hash> leaves;
    for (size_t t = 0; t * log::kTileWidth < entries.size(); ++t) {
      std::string bundle;
      const size_t end = std::min(entries.size(), (t + 1) * log::kTileWidth);
      for (size_t i = t * log::kTileWidth; i < end; ++i) {
        (void)log::AppendToBundle(bundle, entries[i]);
        leaves.push_back(log::LeafHash(entries[i]));
      }
      log::TilePath p;
      p.entries = true;
      p.index = t;
      p.width = static_cast<int>(end - t * log::kTileWidth);
      resources[log::FormatTilePath(p)] = std::move(bundle);
    }
    log::Checkpoint cp{
        origin, entries.size(), log::RootFromLeafHashes(leaves), {}};
    auto signer = *log::ParseSignerKey(skey);
    const log::NoteSigner* s[] = {signer.get()};
    resources["checkpoint"] = *log::SignNote(log::FormatCheckpoint(cp), s);
  }
  FetchFn Fetcher() const {
    return [this](absl::string_view path) -> absl::StatusOr<std::string> {
      auto it = resources.find(std::string(path));
      if (it == resources.end()) return absl::NotFoundError(std::string(path));
      return it->second;
    };
  }
};

int Main(int argc, char** argv) {
  size_t n = 200000;
  if (argc > 1 && !absl::SimpleAtoi(argv[1], &n)) {
    std::fprintf(stderr, "usage: bench_audit [entries]\n");
    return 2;
  }
  auto made = CreateOwnedTempDir("bench-audit");
  if (!made.ok()) {
    std::fprintf(stderr, "bench_audit: %s\n",
                 std::string(made.status().message()).c_str());
    return 1;
  }
  const std::string dir = *made;

  // The example deployment's policy, signed by a fresh auditor key.
  const std::string policy_src =
      std::string(CLOVER_SOURCE_DIR) + "/examples/policy.yaml";
  auto text = policy::ReadFileToString(policy_src);
  if (!text.ok()) {
    std::fprintf(stderr, "bench_audit: %s\n",
                 std::string(text.status().message()).c_str());
    return 1;
  }
  const std::string policy_path = dir + "/policy.yaml";
  Write(policy_path, *text);
  auto bundle = policy::ParseBundle(*text, policy_path);
  if (!bundle.ok()) {
    std::fprintf(stderr, "bench_audit: %s\n",
                 std::string(bundle.status().message()).c_str());
    return 1;
  }
  const std::string pkey = Key("auditor.bench", log::kNoteTypeEd25519);
  Write(policy::SignaturePath(policy_path),
        *policy::SignPolicy(bundle->sha256, pkey));
  auto compiled = *policy::CompiledPolicy::Compile(*bundle);

  // Realistic decisions: a mix of principals, purposes and destinations over 4
  // fields.
  struct Who {
    const char* id;
    const char* role;
    const char* country;
    const char* jurisdiction;
    const char* purpose;
  };
  const Who who[] = {
      {"eu-support-1", "support", "IE", "eu", "customer_support"},
      {"eu-support-2", "support", "NO", "eu", "customer_support"},
      {"cn-engineer-1", "engineer", "CN", "cn", "service_operation"},
      {"us-recsys", "recommender", "US", "us", "recommendation"},
      {"eu-analyst-1", "analyst", "DE", "eu", "analytics"},
  };
  std::mt19937 rng(7);
  std::vector<std::string> entries;
  entries.reserve(n);
  const absl::Time t0 = absl::Now() - absl::Hours(1);
  size_t bytes = 0;
  for (size_t i = 0; i < n; ++i) {
    const Who& w = who[rng() % 5];
    entry::DecisionEntry e;
    e.time = t0 + absl::Milliseconds(static_cast<int64_t>(i) * 10);
    e.node = "ie-dub-1-a";
    e.region = "eu";
    e.principal_id = w.id;
    e.principal_kind = "employee";
    e.principal_org = "clover";
    e.principal_roles = {w.role};
    e.principal_country = w.country;
    e.principal_jurisdiction = w.jurisdiction;
    e.purpose = w.purpose;
    e.action = "read";
    e.destination = w.jurisdiction;
    e.subject = absl::StrCat("tok-", rng() % 1000000);
    e.subject_jurisdiction = "eu";
    e.fields = {{"email", "contact", true, {}, {}, {}},
                {"ip", "network", false, {}, {}, {}},
                {"country", "identity", false, {}, {}, {}},
                {"last_login", "behavior", false, {}, {}, {}}};
    e.records = 1;
    e.bytes = 200;
    DecideWith(*compiled, &e);
    entries.push_back(entry::DecisionJson(e));
    bytes += entries.back().size();
  }

  // Baseline: SHA-256 over the same bytes (what re-hashing alone costs).
  absl::Time s = absl::Now();
  crypto::Sha256Hasher h;
  uint8_t sink = 0;
  for (const std::string& e : entries) {
    h.Update(e);
    sink ^= h.Finish()[0];
  }
  const double sha_rate = n / absl::ToDoubleSeconds(absl::Now() - s);

  // Stages: parse only, then parse + replay.
  auto replayer = Replayer::FromPolicies({compiled});
  entry::LogEntry le;
  s = absl::Now();
  for (const std::string& e : entries) (void)entry::ParseLogEntry(e, &le);
  const double parse_rate = n / absl::ToDoubleSeconds(absl::Now() - s);
  s = absl::Now();
  size_t mismatches = 0;
  for (const std::string& e : entries) {
    if (!entry::ParseLogEntry(e, &le).ok()) ++mismatches;
    if (replayer->Replay(le.decision).verdict != Replayer::Verdict::kMatch)
      ++mismatches;
  }
  const double replay_rate = n / absl::ToDoubleSeconds(absl::Now() - s);

  // End to end through the auditor.
  MemLog mem;
  mem.Build(entries);
  Write(dir + "/witness.key",
        Key("auditor.bench/witness", log::kNoteTypeCosignature), true);
  Write(dir + "/journal.key",
        Key("auditor.bench/incidents", log::kNoteTypeEd25519), true);
  AuditorConfig config;
  config.name = "auditor.bench";
  config.data_dir = dir + "/data";
  config.witness_key_file = dir + "/witness.key";
  config.journal_key_file = dir + "/journal.key";
  config.journal_origin = "auditor.bench/incidents";
  config.logs.push_back(
      {{mem.origin, "mem://", {*log::VerifierKeyFromSignerKey(mem.skey)}}, ""});
  config.policy_bundles = {policy_path};
  config.policy_keys = {*log::VerifierKeyFromSignerKey(pkey)};
  // Honest traffic at this rate would trip the default thresholds: measure, do
  // not alarm.
  config.detectors.bulk_subjects = 1000000000;
  config.detectors.denial_burst = 1000000000;
  auto auditor = Auditor::Create(
      config, SystemClock(), [&](const std::string&) { return mem.Fetcher(); });
  if (!auditor.ok()) {
    std::fprintf(stderr, "bench_audit: %s\n",
                 auditor.status().ToString().c_str());
    return 1;
  }
  s = absl::Now();
  auto processed = (*auditor)->PollOnce();
  const double e2e_secs = absl::ToDoubleSeconds(absl::Now() - s);
  const double e2e_rate = n / e2e_secs;
  const size_t incidents = (*auditor)->incidents().List(std::nullopt).size();
  auditor->reset();
  if (absl::Status st = RemoveOwnedDir(dir); !st.ok())
    std::fprintf(stderr, "bench_audit: %s\n",
                 std::string(st.message()).c_str());
  if (!processed.ok() || *processed != n) {
    std::fprintf(stderr, "bench_audit: processed %s of %zu\n",
                 processed.ok() ? std::to_string(*processed).c_str() : "error",
                 n);
    return 1;
  }

  std::printf("bench_audit: %zu decision entries, %.0f bytes average\n", n,
              static_cast<double>(bytes) / n);
  std::printf("  baseline sha256 of the entries     %12.0f entries/s\n",
              sha_rate);
  std::printf(
      "  parse only                         %12.0f entries/s  (%.2f x "
      "baseline)\n",
      parse_rate, parse_rate / sha_rate);
  std::printf(
      "  parse + replay only                %12.0f entries/s  (%.2f x "
      "baseline)\n",
      replay_rate, replay_rate / sha_rate);
  std::printf(
      "  end to end (verify+replay+commit)  %12.0f entries/s  (%.2f x "
      "baseline, %.2fs)\n",
      e2e_rate, e2e_rate / sha_rate, e2e_secs);
  std::printf(
      "  target 1.5 x gateway peak 40000/s = %.0f entries/s: %s (%.2f x "
      "target)\n",
      kTarget, e2e_rate >= kTarget ? "MET" : "NOT MET", e2e_rate / kTarget);
  std::printf("  replay mismatches %zu, incidents %zu (expected 0, 0)  [%u]\n",
              mismatches, incidents, sink);
  return e2e_rate >= kTarget && mismatches == 0 && incidents == 0 ? 0 : 1;
}

}  // namespace
}  // namespace clover::audit

int main(int argc, char** argv) { return clover::audit::Main(argc, argv); }
