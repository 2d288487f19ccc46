#include "audit/auditor.h"

#include <filesystem>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "audit/approvals_desk.h"
#include "audit/console_pages.h"
#include "audit/witness_server.h"
#include "core/canonical_json.h"
#include "core/json_fields.h"
#include "core/logger.h"
#include "core/rfc3339.h"
#include "core/status_macros.h"
#include "crypto/constant_time.h"
#include "crypto/sha256.h"
#include "rapidjson/document.h"
#include "server/page_token.h"
#include "server/process_metrics.h"
#include "server/router.h"
#include "spdlog/spdlog.h"

namespace clover::audit {
namespace {

std::string HexSha256(absl::string_view data) {
  crypto::Sha256Digest d = crypto::Sha256(
      reinterpret_cast<const uint8_t*>(data.data()), data.size());
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

server::HttpResponse JsonOk(std::string body) {
  return server::HttpResponse::Json(200, std::move(body));
}

}  // namespace

Auditor::Auditor(AuditorConfig config, const Clock& clock)
    : config_(std::move(config)),
      clock_(clock),
      detectors_(config_.detectors),
      erasure_check_(config_.erasure) {}

Auditor::~Auditor() { Stop(); }

absl::StatusOr<std::unique_ptr<Auditor>> Auditor::Create(
    AuditorConfig config, const Clock& clock,
    std::function<FetchFn(const std::string& url)> fetch_for) {
  std::unique_ptr<Auditor> a(new Auditor(std::move(config), clock));
  CLOVER_RETURN_IF_ERROR(a->Init(std::move(fetch_for)));
  return a;
}

absl::Status Auditor::Init(
    std::function<FetchFn(const std::string& url)> fetch_for) {
  // Checked first, so that a refused configuration creates nothing.
  if (config_.api_credentials.empty() && !config_.insecure_no_auth) {
    return absl::InvalidArgumentError(absl::StrCat(
        config_.source_file,
        ": field 'auditor.admin_token_sha256' (or admin_token_file, "
        "api_tokens) is missing: the auditor's API needs a credential "
        "(insecure_no_auth: true serves it to anyone)"));
  }
  for (const ApiCredential& c : config_.api_credentials) {
    if (c.sha256.size() != crypto::kSha256Size || c.name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(config_.source_file, ": API credential '", c.name,
                       "' needs a name and a 32-byte SHA-256"));
    }
  }
  if (config_.insecure_no_auth) {
    spdlog::warn(
        "auditor API without authentication (insecure_no_auth): anyone who "
        "can reach it reads incidents and flows and resolves incidents");
  }

  std::error_code ec;
  std::filesystem::create_directories(config_.data_dir, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat(
        "cannot create data_dir '", config_.data_dir, "': ", ec.message()));
  }
  CLOVER_ASSIGN_OR_RETURN(kv_, kv::KvStore::Open(config_.data_dir + "/store"));

  CLOVER_ASSIGN_OR_RETURN(std::string jkey,
                          ReadKeyFile(config_.journal_key_file, true));
  absl::StatusOr<std::unique_ptr<log::NoteSigner>> js =
      log::ParseSignerKey(jkey, clock_);
  if (!js.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(config_.journal_key_file, ": ", js.status().message()));
  }
  journal_signer_ = *std::move(js);
  IncidentStoreOptions io;
  io.journal_origin = config_.journal_origin;
  io.journal_signer = journal_signer_.get();
  CLOVER_ASSIGN_OR_RETURN(incidents_,
                          IncidentStore::Open(kv_.get(), io, clock_));

  CLOVER_ASSIGN_OR_RETURN(std::string wkey,
                          ReadKeyFile(config_.witness_key_file, true));
  std::vector<WitnessedLog> wl;
  for (const AuditorLogConfig& l : config_.logs) {
    wl.push_back(WitnessedLog{l.log.origin, l.log.verifier_keys});
  }
  for (const ReleaseLogConfig& l : config_.releases) {
    wl.push_back(WitnessedLog{l.log.origin, l.log.verifier_keys});
  }
  absl::StatusOr<std::unique_ptr<Witness>> w = Witness::Open(
      kv_.get(), wkey, std::move(wl),
      [this](Finding f) {
        Raise(nullptr, {std::move(f), {}});
      },
      clock_);
  if (!w.ok()) {
    return absl::Status(
        w.status().code(),
        absl::StrCat(config_.witness_key_file, ": ", w.status().message()));
  }
  witness_ = *std::move(w);

  CLOVER_ASSIGN_OR_RETURN(
      replayer_, Replayer::Load(config_.policy_bundles, config_.policy_keys));
  // The versions signed in the console (audit/policy_view.h). One that no
  // longer verifies (the keys were rotated) is skipped: decisions under it are
  // then unsigned_policy, which is seen, not hidden.
  for (const std::string& path : SignedPolicyFiles(config_)) {
    absl::StatusOr<SignedPolicy> p =
        Replayer::LoadOne(path, config_.policy_keys);
    if (!p.ok()) {
      spdlog::warn("signed policy {} skipped: {}", path,
                   std::string(p.status().message()));
      continue;
    }
    replayer_->Add(*std::move(p));
  }
  if (!config_.principals_file.empty()) {
    CLOVER_ASSIGN_OR_RETURN(directory_,
                            PrincipalDirectory::Load(config_.principals_file,
                                                     config_.jurisdictions_file,
                                                     config_.policy_keys));
  } else {
    spdlog::warn(
        "no principal directory configured (principals.file): replay takes "
        "the principals' attributes from the entries themselves");
  }

  absl::StatusOr<approvals::AttestationVerifier> attestations =
      approvals::AttestationVerifier::Create(config_.attestation_keys);
  if (!attestations.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "approvals.attestation_keys: ", attestations.status().message()));
  }
  if (attestations->empty()) {
    spdlog::warn(
        "no approval attestation keys (approvals.attestation_keys): a logged "
        "approval counts without its approver's signature");
  }

  if (!config_.topology.empty()) {
    topology_ = std::make_unique<TopologyWatch>(config_.topology);
  }
  for (const AuditorLogConfig& l : config_.logs) {
    FetchFn fetch = fetch_for ? fetch_for(l.log.url) : HttpFetcher(l.log.url);
    CLOVER_ASSIGN_OR_RETURN(
        auto f, LogFollower::Open(l.log, std::move(fetch), kv_.get(),
                                  witness_.get(), clock_));
    followers_.push_back(std::move(f));
  }
  for (const ReleaseLogConfig& l : config_.releases) {
    FetchFn fetch = fetch_for ? fetch_for(l.log.url) : ReleaseLogFetcher(l);
    CLOVER_ASSIGN_OR_RETURN(
        auto f, LogFollower::Open(l.log, std::move(fetch), kv_.get(),
                                  witness_.get(), clock_));
    release_followers_.push_back(std::move(f));
  }
  {
    absl::MutexLock lock(&mu_);
    flows_.set_options(config_.flows);
    CLOVER_RETURN_IF_ERROR(flows_.Load(*kv_));
    CLOVER_ASSIGN_OR_RETURN(
        ledger_, ApprovalLedger::Open(*kv_, *std::move(attestations)));
    CLOVER_RETURN_IF_ERROR(policy_timeline_.Load(*kv_));
    CLOVER_RETURN_IF_ERROR(
        kv_->Scan("policyuse/", [&](absl::string_view k, absl::string_view v) {
          std::vector<absl::string_view> p = absl::StrSplit(v, ' ');
          PolicyUse u;
          if (p.size() == 3 && absl::SimpleAtoi(p[0], &u.first_ms) &&
              absl::SimpleAtoi(p[1], &u.last_ms) &&
              absl::SimpleAtoi(p[2], &u.count)) {
            policy_use_[std::string(k.substr(10))] = u;
          }
          return true;
        }));
    // The deletion attestations seen before (stored with the batch of
    // entries that delivered them, then as their checks completed).
    legacy_ = std::make_unique<LegacyCheck>(config_.migration);
    CLOVER_RETURN_IF_ERROR(legacy_->Load(*kv_));
    PublishLegacy();
    // The erasures the check had seen when the auditor stopped (stored with
    // each batch of entries it fed, ProcessEntries).
    for (const auto& f : followers_) {
      absl::StatusOr<std::string> st = kv_->Get(ErasureCheckKey(f->origin()));
      if (st.ok()) {
        CLOVER_RETURN_IF_ERROR(erasure_check_.Restore(f->origin(), *st));
      } else if (!absl::IsNotFound(st.status())) {
        return st.status();
      }
    }
    for (size_t i = 0; i < followers_.size(); ++i) {
      stalls_.emplace_back(config_.log_stalled_after);
      polled_.push_back(false);
      poll_failed_.push_back(false);
      recent_.emplace_back(kRing);
    }
    for (const ReleaseLogConfig& l : config_.releases) {
      absl::StatusOr<std::string> v = kv_->Get(ReleaseCountsKey(l.log.origin));
      ReleaseCounts counts;
      if (v.ok()) {
        CLOVER_ASSIGN_OR_RETURN(counts, DecodeReleaseCounts(*v));
      } else if (!absl::IsNotFound(v.status())) {
        return v.status();
      }
      release_work_.push_back(counts);
    }
    absl::MutexLock counts_lock(&release_mu_);
    release_counts_ = release_work_;
  }
  CLOVER_ASSIGN_OR_RETURN(
      m_entries_,
      metrics_.AddCounter("clover_audit_entries_verified_total",
                          "Log entries re-hashed and processed", {"origin"}));
  CLOVER_ASSIGN_OR_RETURN(
      m_replay_,
      metrics_.AddCounter("clover_audit_decisions_replayed_total",
                          "Decisions re-derived, by verdict", {"verdict"}));
  CLOVER_ASSIGN_OR_RETURN(
      m_incidents_,
      metrics_.AddCounter("clover_audit_incidents_opened_total",
                          "Incidents opened", {"detector", "severity"}));
  CLOVER_ASSIGN_OR_RETURN(
      m_poll_errors_, metrics_.AddCounter("clover_audit_poll_errors_total",
                                          "Failed polls of a log", {"origin"}));
  CLOVER_ASSIGN_OR_RETURN(
      m_flow_decisions_,
      metrics_.AddCounter(
          "clover_audit_flow_field_decisions_total",
          "Field decisions by origin region, destination, category, purpose "
          "and effect",
          {"region", "destination", "category", "purpose", "effect"}));
  CLOVER_ASSIGN_OR_RETURN(
      m_flow_bytes_,
      metrics_.AddCounter("clover_audit_flow_bytes_total",
                          "Bytes released by origin region, destination, "
                          "purpose, action",
                          {"region", "destination", "purpose", "action"}));
  CLOVER_ASSIGN_OR_RETURN(
      m_tree_size_,
      metrics_.AddGauge("clover_audit_tree_size",
                        "Size of the latest verified tree", {"origin"}));
  CLOVER_ASSIGN_OR_RETURN(
      m_history_checked_,
      metrics_.AddCounter("clover_audit_history_bundles_checked_total",
                          "Verified entry bundles re-fetched and compared",
                          {"origin"}));
  CLOVER_ASSIGN_OR_RETURN(
      m_history_unavailable_,
      metrics_.AddCounter("clover_audit_history_unavailable_total",
                          "Verified bundles or tiles the log did not serve "
                          "when re-fetched (refused or unreachable)",
                          {"origin"}));
  CLOVER_ASSIGN_OR_RETURN(http_metrics_, server::HttpMetrics::Create(metrics_));
  for (const auto* list : {&followers_, &release_followers_}) {
    for (const auto& f : *list) {
      m_tree_size_->WithLabels({absl::string_view(f->origin())})
          .Set(static_cast<double>(f->size()));
    }
  }
  BuildRouter();
  return absl::OkStatus();
}

void Auditor::Raise(const LogFollower* f, PendingFinding p) {
  std::vector<Evidence> evidence = std::move(p.finding.evidence);
  for (uint64_t idx : p.finding.indices) {
    if (evidence.size() >= kMaxEvidence) break;
    Evidence e;
    e.origin = p.finding.origin;
    e.index = idx;
    auto it = p.entries.find(idx);
    if (it != p.entries.end()) {
      e.entry = it->second;
      e.entry_sha256 = HexSha256(it->second);
    }
    if (f != nullptr) {
      absl::StatusOr<std::string> proof = f->ProofFor(idx);
      if (proof.ok()) e.proof = *std::move(proof);
    }
    evidence.push_back(std::move(e));
  }
  absl::StatusOr<IncidentStore::Update> u =
      incidents_->Report(p.finding, std::move(evidence));
  if (!u.ok()) {
    spdlog::error("cannot record incident ({}): {}", p.finding.detector,
                  u.status().ToString());
    return;
  }
  if (u->opened) {
    m_incidents_
        ->WithLabels({absl::string_view(u->incident.detector),
                      ToString(u->incident.severity)})
        .Increment();
    spdlog::warn(
        "incident {} [{}/{}]: {}", u->incident.id, u->incident.detector,
        std::string(ToString(u->incident.severity)), u->incident.summary);
  }
}

absl::Status Auditor::ProcessEntries(LogFollower& f, uint64_t first,
                                     const std::vector<std::string>& entries,
                                     kv::KvBatch& batch, size_t log_no,
                                     std::vector<PendingFinding>* pending) {
  std::vector<Finding> found;
  absl::flat_hash_set<std::string> touched_policies;
  auto& ring = recent_[log_no];
  uint64_t match = 0, mismatch = 0, unsigned_policy = 0;
  erasure_check_.Begin(f.origin(), first);
  // An entry this log should not hold: `what` follows "log '<origin>' entry
  // <index>" in the finding's summary.
  auto malformed = [&](uint64_t index, absl::string_view what) {
    Finding fd;
    fd.detector = std::string(kDetectorMalformedEntry);
    fd.severity = Severity::kHigh;
    fd.key = absl::StrCat(kDetectorMalformedEntry, "/", f.origin());
    fd.summary = absl::StrCat("log '", f.origin(), "' entry ", index, what);
    fd.time = clock_.Now();
    fd.origin = f.origin();
    fd.indices.push_back(index);
    found.push_back(std::move(fd));
  };
  for (size_t i = 0; i < entries.size(); ++i) {
    const uint64_t index = first + i;
    const std::string& raw = entries[i];
    ring[index % kRing] = {index, raw};
    absl::Status s = entry::ParseLogEntry(raw, &scratch_);
    if (!s.ok()) {
      malformed(index,
                absl::StrCat(" is not a valid Clover entry: ", s.message()));
      continue;
    }
    if (scratch_.type == entry::EntryType::kApproval) {
      if (absl::Status o = ledger_->Observe(f.origin(), raw, batch); !o.ok()) {
        malformed(index, absl::StrCat(" is not a valid approval transition: ",
                                      o.message()));
      }
      continue;
    }
    if (scratch_.type == entry::EntryType::kPseudonymKey) {
      absl::StatusOr<entry::PseudonymKeyEvent> k =
          entry::ParsePseudonymKey(raw);
      if (k.ok()) {
        pseudonym_key_check_.Observe(f.origin(), index, *k, &found);
      } else {
        malformed(index, absl::StrCat(": ", k.status().message()));
      }
      continue;
    }
    if (scratch_.type == entry::EntryType::kErasurePurge) {
      absl::StatusOr<entry::ErasurePurge> a = entry::ParseErasurePurge(raw);
      if (a.ok()) {
        erasure_check_.ObserveAttestation(f.origin(), index, *a, &found);
      } else {
        malformed(index, absl::StrCat(": ", a.status().message()));
      }
      continue;
    }
    if (scratch_.type == entry::EntryType::kLegacyDeletion) {
      std::vector<LegacyCheck::Found> legacy;
      legacy_->Observe(f.origin(), index, raw, clock_.Now(), batch, &legacy);
      for (LegacyCheck::Found& l : legacy)
        found.push_back(std::move(l.finding));
      continue;
    }
    if (scratch_.type != entry::EntryType::kDecision) continue;
    const entry::DecisionEntry& e = scratch_.decision;
    // A critical finding about entry `index` of this log, one incident per
    // (detector, node, principal).
    auto critical = [&](absl::string_view detector, std::string summary) {
      Finding fd;
      fd.detector = std::string(detector);
      fd.severity = Severity::kCritical;
      fd.key = absl::StrCat(detector, "/", f.origin(), "/", e.node, "/",
                            e.principal_id);
      fd.summary = absl::StrCat("node '", e.node, "' (log '", f.origin(),
                                "'), entry ", index, ": ", summary);
      fd.time = e.time;
      fd.origin = f.origin();
      fd.indices.push_back(index);
      found.push_back(std::move(fd));
    };
    // The principal is who the directory says, whatever the entry states.
    const Principal* who = nullptr;
    if (directory_ != nullptr) {
      who = directory_->Find(e.principal_id);
      if (who == nullptr) {
        critical(kDetectorUnknownPrincipal,
                 absl::StrCat("principal '", e.principal_id,
                              "' is not in the auditor's principal directory"));
      } else if (std::string diff = AttributeDifference(*who, e);
                 !diff.empty()) {
        critical(kDetectorAttributeMismatch,
                 absl::StrCat("principal '", e.principal_id,
                              "' is logged with ", diff));
      }
    }
    Replayer::Result r = replayer_->Replay(e, who);
    if (!r.approval_fields.empty()) {
      std::string why = ledger_->Check(f.origin(), e, r.approval_fields,
                                       directory_.get(), config_.approvers);
      if (!why.empty()) critical(kDetectorForgedApproval, std::move(why));
    }
    if (r.verdict != Replayer::Verdict::kMatch) {
      const bool unsig = r.verdict == Replayer::Verdict::kUnsignedPolicy;
      (unsig ? unsigned_policy : mismatch) += 1;
      Finding fd;
      fd.detector = std::string(unsig ? kDetectorUnsignedPolicy
                                      : kDetectorDecisionMismatch);
      fd.severity = Severity::kCritical;
      fd.key = absl::StrCat(fd.detector, "/", f.origin(), "/", e.node, "/",
                            e.policy);
      fd.summary = absl::StrCat("node '", e.node, "' (log '", f.origin(),
                                "'), entry ", index, ": ", r.detail);
      fd.time = e.time;
      fd.origin = f.origin();
      fd.indices.push_back(index);
      found.push_back(std::move(fd));
    } else {
      ++match;
    }
    // The configured region of the log's node wins over what it states.
    const std::string& region = config_.logs[log_no].region.empty()
                                    ? e.region
                                    : config_.logs[log_no].region;
    flows_.Add(e, region);
    IndexFlowEntry(f.origin(), index, e, region, batch);
    detectors_.Observe(f.origin(), index, e, &found);
    erasure_check_.ObserveDecision(f.origin(), index, e);
    PolicyUse& use = policy_use_[e.policy];
    const int64_t ms = absl::ToUnixMillis(e.time);
    if (use.count == 0 || ms < use.first_ms) use.first_ms = ms;
    use.last_ms = std::max(use.last_ms, ms);
    ++use.count;
    touched_policies.insert(e.policy);
    policy_timeline_.Observe(f.origin(), e.node, e.policy, e.time, index);
  }
  erasure_check_.CheckOverdue(f.origin(), clock_.Now(), &found);
  batch.Put(ErasureCheckKey(f.origin()), erasure_check_.Encode(f.origin()));
  flows_.Flush(batch);
  policy_timeline_.Flush(batch);
  for (const std::string& h : touched_policies) {
    const PolicyUse& u = policy_use_[h];
    batch.Put(absl::StrCat("policyuse/", h),
              absl::StrCat(u.first_ms, " ", u.last_ms, " ", u.count));
  }
  m_entries_->WithLabels({absl::string_view(f.origin())})
      .Increment(entries.size());
  if (match) m_replay_->WithLabels({"match"}).Increment(match);
  if (mismatch) m_replay_->WithLabels({"mismatch"}).Increment(mismatch);
  if (unsigned_policy)
    m_replay_->WithLabels({"unsigned_policy"}).Increment(unsigned_policy);
  // Merge findings with one key (a principal over a threshold fires on every
  // further entry) so that each incident is written once per poll.
  absl::flat_hash_map<std::string, size_t> by_key;
  for (Finding& fd : found) {
    auto [it, fresh] = by_key.try_emplace(fd.key, pending->size());
    if (fresh) pending->emplace_back();
    PendingFinding& p = (*pending)[it->second];
    if (fresh) {
      p.finding = std::move(fd);
    } else {
      Finding& m = p.finding;
      m.occurrences += 1;
      m.summary = std::move(fd.summary);
      m.severity = std::max(m.severity, fd.severity);
      for (uint64_t idx : fd.indices) {
        if (m.indices.size() >= kMaxEvidence) break;
        if (std::find(m.indices.begin(), m.indices.end(), idx) ==
            m.indices.end()) {
          m.indices.push_back(idx);
        }
      }
    }
  }
  for (auto& [key, pos] : by_key) {
    PendingFinding& p = (*pending)[pos];
    for (uint64_t idx : p.finding.indices) {
      const auto& slot = ring[idx % kRing];
      if (slot.first == idx && !slot.second.empty())
        p.entries[idx] = slot.second;
    }
  }
  return absl::OkStatus();
}

int64_t Auditor::ScrapeTraffic(const std::string& url) const {
  absl::StatusOr<std::string> body = HttpGet(url, absl::Seconds(5));
  if (!body.ok()) return -1;
  double total = 0;
  bool seen = false;
  for (absl::string_view line : absl::StrSplit(*body, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    absl::string_view name = line.substr(0, line.find_first_of("{ "));
    if (name != config_.traffic_metric) continue;
    double v;
    if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) {
      total += v;
      seen = true;
    }
  }
  return seen ? static_cast<int64_t>(total) : -1;
}

absl::StatusOr<uint64_t> Auditor::PollOnce() {
  absl::MutexLock round(&poll_mu_);
  uint64_t total = 0;
  for (size_t i = 0; i < followers_.size(); ++i) {
    LogFollower& f = *followers_[i];
    std::vector<PendingFinding> pending;
    absl::StatusOr<LogFollower::PollResult> r =
        f.Poll([&](uint64_t first, const std::vector<std::string>& entries,
                   kv::KvBatch& batch) {
          absl::MutexLock lock(&mu_);
          return ProcessEntries(f, first, entries, batch, i, &pending);
        });
    if (!r.ok()) {
      m_poll_errors_->WithLabels({absl::string_view(f.origin())}).Increment();
      spdlog::warn("log '{}': poll failed: {}", f.origin(),
                   r.status().ToString());
    } else {
      total += r->new_entries;
      for (Finding& fd : r->findings)
        Raise(&f, PendingFinding{std::move(fd), {}});
      for (PendingFinding& p : pending) Raise(&f, std::move(p));
    }
    m_tree_size_->WithLabels({absl::string_view(f.origin())})
        .Set(static_cast<double>(f.size()));
    {
      absl::MutexLock lock(&mu_);
      polled_[i] = true;
      poll_failed_[i] = !r.ok();
    }
    if (r.ok()) CheckHistory(f);
    if (r.ok()) {
      // The writes of new deletion attestations, from the verified log.
      std::vector<LegacyCheck::Found> legacy;
      legacy_->VerifyWrites(
          f.origin(), [&f](uint64_t idx) { return f.VerifiedEntry(idx); }, *kv_,
          &legacy);
      RaiseLegacy(std::move(legacy));
    }
    const std::string& traffic_url = config_.logs[i].traffic_metrics_url;
    const int64_t traffic =
        traffic_url.empty() ? -1 : ScrapeTraffic(traffic_url);
    bool stalled;
    {
      absl::MutexLock lock(&mu_);
      stalled = stalls_[i].Observe(clock_.Now(), f.size(), traffic);
      flows_.PublishMetrics(*m_flow_decisions_, *m_flow_bytes_);
    }
    // Overdue erasures also when the log has stopped growing.
    std::vector<Finding> overdue;
    {
      absl::MutexLock lock(&mu_);
      erasure_check_.CheckOverdue(f.origin(), clock_.Now(), &overdue);
      // Remember what was reported, so a restart does not report it again
      // (after a failed poll the state may be ahead of the stored position:
      // the next successful batch stores it).
      if (!overdue.empty() && r.ok()) {
        if (absl::Status s = kv_->Put(ErasureCheckKey(f.origin()),
                                      erasure_check_.Encode(f.origin()));
            !s.ok()) {
          spdlog::warn("log '{}': storing the erasure check failed: {}",
                       f.origin(), s.ToString());
        }
      }
    }
    for (Finding& fd : overdue) Raise(&f, PendingFinding{std::move(fd), {}});
    if (stalled) {
      Finding fd;
      fd.detector = std::string(kDetectorLogStalled);
      fd.severity = Severity::kHigh;
      fd.key = absl::StrCat(kDetectorLogStalled, "/", f.origin());
      fd.summary = absl::StrCat("log '", f.origin(), "' has not grown for ",
                                absl::FormatDuration(config_.log_stalled_after),
                                " while its gateways keep deciding requests");
      fd.time = clock_.Now();
      fd.origin = f.origin();
      Evidence e;
      e.origin = f.origin();
      e.checkpoints = {f.checkpoint_note()};
      e.note =
          absl::StrCat("latest verified checkpoint; traffic counter ", traffic);
      fd.evidence.push_back(std::move(e));
      Raise(&f, PendingFinding{std::move(fd), {}});
    }
  }
  {
    std::vector<LegacyCheck::Found> legacy;
    legacy_->CheckSources(clock_.Now(), /*force=*/false, *kv_, &legacy);
    RaiseLegacy(std::move(legacy));
    PublishLegacy();
  }
  PollReleases();
  PruneFlows();
  return total;
}

void Auditor::RaiseLegacy(std::vector<LegacyCheck::Found> found) {
  for (LegacyCheck::Found& l : found) {
    const LogFollower* from = nullptr;
    for (const auto& f : followers_) {
      if (f->origin() == l.finding.origin) from = f.get();
    }
    Raise(from, PendingFinding{std::move(l.finding), std::move(l.entries)});
  }
}

void Auditor::CheckMigrationSourcesOnce() {
  absl::MutexLock round(&poll_mu_);
  std::vector<LegacyCheck::Found> legacy;
  legacy_->CheckSources(clock_.Now(), /*force=*/true, *kv_, &legacy);
  RaiseLegacy(std::move(legacy));
  PublishLegacy();
}

void Auditor::PublishLegacy() {
  std::vector<MigrationSummary> s = legacy_->Summaries();
  absl::MutexLock lock(&legacy_mu_);
  legacy_summaries_ = std::move(s);
}

std::vector<MigrationSummary> Auditor::MigrationSummaries() const {
  absl::MutexLock lock(&legacy_mu_);
  return legacy_summaries_;
}

ReleaseCounts Auditor::release_counts(const std::string& origin) const {
  absl::MutexLock lock(&release_mu_);
  for (size_t j = 0; j < release_followers_.size(); ++j) {
    if (release_followers_[j]->origin() == origin) return release_counts_[j];
  }
  return {};
}

absl::StatusOr<std::string> Auditor::VerifiedDecision(const std::string& origin,
                                                      uint64_t index) {
  for (const auto& f : followers_) {
    if (f->origin() == origin) return f->VerifiedEntry(index);
  }
  return absl::NotFoundError(absl::StrCat("log '", origin, "' not followed"));
}

namespace {

std::string PendingPrefix(absl::string_view origin) {
  return absl::StrCat("release/pending/", origin, "/");
}

std::string PendingKey(absl::string_view origin, uint64_t index) {
  return absl::StrCat(PendingPrefix(origin), absl::StrFormat("%020d", index));
}

}  // namespace

bool Auditor::JudgeOne(size_t j, uint64_t index, const std::string& raw,
                       absl::Time first_seen,
                       std::vector<PendingFinding>* pending) {
  const LogFollower& rf = *release_followers_[j];
  const ReleaseLogConfig& cfg = config_.releases[j];
  absl::StatusOr<ReleaseEntry> r = ParseReleaseEntry(raw);
  ReleaseCounts& counts = release_work_[j];
  auto raise = [&](absl::string_view detector, std::string key,
                   std::string summary, absl::Time when) {
    PendingFinding p;
    p.finding.detector = std::string(detector);
    p.finding.severity = Severity::kCritical;
    p.finding.key = absl::StrCat(detector, "/", rf.origin(), "/", key);
    p.finding.summary = std::move(summary);
    p.finding.time = when;
    p.finding.origin = rf.origin();
    p.finding.indices.push_back(index);
    p.entries[index] = raw;
    pending->push_back(std::move(p));
  };
  if (!r.ok()) {
    raise(kDetectorMalformedEntry, "entry",
          absl::StrCat("release log '", rf.origin(), "' entry ", index,
                       " is not a release entry: ", r.status().message()),
          clock_.Now());
    return true;
  }
  if (r->type == "cutoff") ++counts.cutoffs;
  if (r->type == "restore") ++counts.restores;
  if (r->type != "release") return true;
  if (r->outcome != "released") {
    ++counts.refused;
    return true;
  }
  ReleaseJudgement v = JudgeRelease(
      *r,
      [this](const std::string& origin, uint64_t i) {
        return VerifiedDecision(origin, i);
      },
      cfg.max_delay);
  using Verdict = ReleaseJudgement::Verdict;
  if (v.verdict == Verdict::kPending) {
    if (clock_.Now() - first_seen < cfg.pending_timeout) return false;
    v.verdict = Verdict::kUnjustified;
    v.why = absl::StrCat("its decision was not verified within ",
                         absl::FormatDuration(cfg.pending_timeout), " (", v.why,
                         ")");
  }
  ++counts.released;
  if (v.verdict == Verdict::kJustified) {
    ++counts.justified;
    return true;
  }
  if (v.verdict == Verdict::kNotChecked) {
    ++counts.maintenance;
    return true;
  }
  ++counts.unjustified;
  const std::string who = r->decision_node.empty() ? r->node : r->decision_node;
  raise(kDetectorReleaseUnjustified, absl::StrCat(who, "/", r->principal),
        absl::StrCat("release log '", rf.origin(), "' entry ", index,
                     ": key released to node '", who, "' for principal '",
                     r->principal, "', purpose '", r->purpose, "', code '",
                     r->code, "' is not justified: ", v.why),
        r->time);
  if (v.decision_index.has_value()) {
    Evidence e;
    e.origin = r->decision_log;
    e.index = v.decision_index;
    e.entry = v.decision_entry;
    e.entry_sha256 = HexSha256(v.decision_entry);
    for (const auto& f : followers_) {
      if (f->origin() != r->decision_log) continue;
      absl::StatusOr<std::string> proof = f->ProofFor(*v.decision_index);
      if (proof.ok()) e.proof = *std::move(proof);
    }
    e.note = "the decision the release names";
    pending->back().finding.evidence.push_back(std::move(e));
  }
  return true;
}

void Auditor::JudgeReleases(size_t j, uint64_t first,
                            const std::vector<std::string>& entries,
                            kv::KvBatch& batch,
                            std::vector<PendingFinding>* pending) {
  const std::string& origin = release_followers_[j]->origin();
  const absl::Time now = clock_.Now();
  for (size_t i = 0; i < entries.size(); ++i) {
    if (JudgeOne(j, first + i, entries[i], now, pending)) continue;
    ++release_work_[j].pending;
    batch.Put(PendingKey(origin, first + i),
              absl::StrCat(absl::ToUnixMillis(now), " ", entries[i]));
  }
  batch.Put(ReleaseCountsKey(origin), EncodeReleaseCounts(release_work_[j]));
}

void Auditor::RetryPendingReleases(size_t j) {
  const LogFollower& rf = *release_followers_[j];
  std::vector<std::pair<std::string, std::string>> waiting;
  absl::Status s = kv_->Scan(PendingPrefix(rf.origin()),
                             [&](absl::string_view k, absl::string_view v) {
                               waiting.emplace_back(k, v);
                               return true;
                             });
  if (!s.ok() || waiting.empty()) return;
  std::vector<PendingFinding> pending;
  kv::KvBatch batch;
  {
    for (const auto& [key, value] : waiting) {
      uint64_t index = 0;
      int64_t ms = 0;
      const size_t sp = value.find(' ');
      if (!absl::SimpleAtoi(absl::string_view(key).substr(key.rfind('/') + 1),
                            &index) ||
          sp == std::string::npos ||
          !absl::SimpleAtoi(absl::string_view(value).substr(0, sp), &ms)) {
        batch.Delete(key);
        continue;
      }
      if (!JudgeOne(j, index, value.substr(sp + 1), absl::FromUnixMillis(ms),
                    &pending)) {
        continue;
      }
      batch.Delete(key);
      if (release_work_[j].pending > 0) --release_work_[j].pending;
    }
    batch.Put(ReleaseCountsKey(rf.origin()),
              EncodeReleaseCounts(release_work_[j]));
  }
  if (absl::Status w = kv_->Write(batch); !w.ok()) {
    spdlog::error("release log '{}': cannot record judgements: {}", rf.origin(),
                  w.ToString());
    return;
  }
  for (PendingFinding& p : pending) Raise(&rf, std::move(p));
}

void Auditor::PollReleases() {
  for (size_t j = 0; j < release_followers_.size(); ++j) {
    LogFollower& rf = *release_followers_[j];
    std::vector<PendingFinding> pending;
    // Counted again by the next poll if this one commits nothing.
    const ReleaseCounts before = release_work_[j];
    absl::StatusOr<LogFollower::PollResult> r =
        rf.Poll([&](uint64_t first, const std::vector<std::string>& entries,
                    kv::KvBatch& batch) {
          JudgeReleases(j, first, entries, batch, &pending);
          return absl::OkStatus();
        });
    m_tree_size_->WithLabels({absl::string_view(rf.origin())})
        .Set(static_cast<double>(rf.size()));
    if (!r.ok()) {
      release_work_[j] = before;
      m_poll_errors_->WithLabels({absl::string_view(rf.origin())}).Increment();
      spdlog::warn("release log '{}': poll failed: {}", rf.origin(),
                   r.status().ToString());
      // Unreachable is an outage; a checkpoint that the log serves but that
      // does not verify is the log's misbehaviour (or a forgery on the way).
      const absl::StatusCode code = r.status().code();
      if (code != absl::StatusCode::kUnavailable &&
          code != absl::StatusCode::kNotFound &&
          code != absl::StatusCode::kDeadlineExceeded &&
          code != absl::StatusCode::kResourceExhausted) {
        Finding fd;
        fd.detector = std::string(kDetectorReleaseLogUnverified);
        fd.severity = Severity::kCritical;
        fd.key = absl::StrCat(kDetectorReleaseLogUnverified, "/", rf.origin());
        fd.summary = absl::StrCat(
            "release log '", rf.origin(),
            "' serves a checkpoint or entries that do not verify: ",
            r.status().message());
        fd.time = clock_.Now();
        fd.origin = rf.origin();
        Evidence e;
        e.origin = rf.origin();
        e.checkpoints = {rf.checkpoint_note()};
        e.note = "the latest verified checkpoint of the release log";
        fd.evidence.push_back(std::move(e));
        Raise(&rf, PendingFinding{std::move(fd), {}});
      }
    } else {
      for (Finding& fd : r->findings)
        Raise(&rf, PendingFinding{std::move(fd), {}});
      for (PendingFinding& p : pending) Raise(&rf, std::move(p));
      CheckHistory(rf);
    }
    RetryPendingReleases(j);
  }
  absl::MutexLock lock(&release_mu_);
  release_counts_ = release_work_;
}

void Auditor::CheckHistory(LogFollower& f) {
  if (config_.history_bundles_per_poll <= 0) return;
  LogFollower::HistoryCheck h =
      f.CheckHistory(config_.history_bundles_per_poll);
  const absl::string_view origin = f.origin();
  m_history_checked_->WithLabels({origin}).Increment(h.bundles_checked);
  if (h.unavailable > 0) {
    // A node refuses (500) what it finds corrupted, and logs it; the auditor
    // cannot tell that from an outage, so it warns and counts.
    m_history_unavailable_->WithLabels({origin}).Increment(h.unavailable);
    spdlog::warn(
        "log '{}': history check: {} verified resource(s) not served: {}",
        f.origin(), h.unavailable, h.last_error);
  }
  for (Finding& fd : h.findings) Raise(&f, PendingFinding{std::move(fd), {}});
}

void Auditor::PruneFlows() {
  kv::KvBatch batch;
  size_t totals = 0;
  {
    absl::MutexLock lock(&mu_);
    totals = flows_.Prune(clock_.Now(), batch);
  }
  absl::StatusOr<size_t> entries =
      PruneFlowEntries(*kv_, clock_.Now() - config_.flows.entry_retention,
                       config_.flows.prune_rows_per_pass, batch);
  if (!entries.ok()) {
    spdlog::warn("pruning the flow entry index failed: {}",
                 entries.status().ToString());
  }
  if (batch.empty()) return;
  // A failed delete leaves the rows for the next round (totals already
  // dropped from memory are then dropped again after a restart's Load).
  if (absl::Status s = kv_->Write(batch); !s.ok()) {
    spdlog::warn("pruning flows failed: {}", s.ToString());
    return;
  }
  spdlog::debug("pruned {} flow total(s) and {} flow entry index row(s)",
                totals, entries.ok() ? *entries : 0);
}

std::string Auditor::FlowsJson(absl::Time from, absl::Time to) const {
  absl::MutexLock lock(&mu_);
  return flows_.ToJson(from, to);
}

std::vector<Auditor::LogPollState> Auditor::PollStates() const {
  absl::MutexLock lock(&mu_);
  std::vector<LogPollState> out(followers_.size());
  for (size_t i = 0; i < out.size() && i < polled_.size(); ++i) {
    out[i] = {polled_[i], poll_failed_[i]};
  }
  return out;
}

absl::StatusOr<FlowStats::Page> Auditor::FlowsPage(
    absl::Time from, absl::Time to, size_t limit,
    const std::vector<std::string>& after) const {
  absl::MutexLock lock(&mu_);
  return flows_.ToJsonPage(from, to, limit, after);
}

std::optional<server::HttpResponse> Auditor::Authorize(
    const server::HttpRequest& req, ApiRole need, std::string* who) const {
  if (config_.insecure_no_auth) {
    *who = "unauthenticated";
    return std::nullopt;
  }
  auto unauthenticated = [](bool presented) {
    server::HttpResponse r = server::HttpResponse::Error(
        401, "unauthenticated",
        presented ? "the bearer token is not valid"
                  : "this endpoint needs an Authorization: Bearer token");
    r.headers.emplace_back(
        "WWW-Authenticate",
        presented ? "Bearer realm=\"clover-auditor\", error=\"invalid_token\""
                  : "Bearer realm=\"clover-auditor\"");
    return r;
  };
  absl::string_view auth =
      absl::StripAsciiWhitespace(req.Header("authorization"));
  // The web console's session cookie stands for the credential it logged in
  // with (CSRF token checked on changes; audit/console.h).
  if (auth.empty() && !RequestCookie(req, kConsoleSessionCookie).empty()) {
    return AuthorizeConsoleSession(*console_sessions_, req, need, who);
  }
  if (auth.empty()) return unauthenticated(false);
  // The scheme is case-insensitive (RFC 9110 11.1).
  if (auth.size() < 7 || !absl::EqualsIgnoreCase(auth.substr(0, 7), "bearer "))
    return unauthenticated(true);
  absl::string_view token = absl::StripLeadingAsciiWhitespace(auth.substr(7));
  const crypto::Sha256Digest presented = crypto::Sha256(token);
  const absl::string_view digest(
      reinterpret_cast<const char*>(presented.data()), presented.size());
  // Every credential is compared, so the time taken does not say which one
  // (or whether any) matched.
  const ApiCredential* match = nullptr;
  for (const ApiCredential& c : config_.api_credentials) {
    if (crypto::ConstantTimeEquals(digest, c.sha256)) match = &c;
  }
  if (match == nullptr) return unauthenticated(true);
  if (need == ApiRole::kAdmin && match->role != ApiRole::kAdmin) {
    return server::HttpResponse::Error(
        403, "permission_denied",
        "this credential may read but not change incidents");
  }
  *who = match->name;
  return std::nullopt;
}

server::HttpResponse Auditor::Readiness() const {
  auto not_ready = [](absl::string_view reason, absl::string_view message) {
    std::string body = "{\"status\":\"not_ready\",\"reason\":";
    AppendJsonString(reason, &body);
    body += ",\"message\":";
    AppendJsonString(message, &body);
    body += "}";
    server::HttpResponse r = server::HttpResponse::Json(503, std::move(body));
    r.headers.emplace_back("Retry-After",
                           absl::StrCat(server::kRetryAfterSeconds));
    return r;
  };
  // The store holds the cursors, incidents and journal: a probe read (a
  // missing key is an answer too).
  if (absl::StatusOr<std::string> probe = kv_->Get("readyz-probe");
      !probe.ok() && probe.status().code() != absl::StatusCode::kNotFound) {
    logging::Warn("readyz: the auditor's store does not answer",
                  {{"cause", probe.status().ToString()}});
    return not_ready("storage_unavailable",
                     "the auditor's store does not answer");
  }
  std::vector<std::string> starting;
  std::vector<std::string> failing;
  {
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < followers_.size() && i < polled_.size(); ++i) {
      if (!polled_[i]) starting.push_back(followers_[i]->origin());
      if (poll_failed_[i]) failing.push_back(followers_[i]->origin());
    }
  }
  if (!failing.empty()) {
    return not_ready("log_unreachable",
                     absl::StrCat("the last poll failed for log(s) ",
                                  absl::StrJoin(failing, ", ")));
  }
  if (!starting.empty()) {
    return not_ready("starting", absl::StrCat("not yet polled: log(s) ",
                                              absl::StrJoin(starting, ", ")));
  }
  return JsonOk("{\"status\":\"ready\"}");
}

void Auditor::BuildRouter() {
  server::Router router;
  // Wraps a handler so that it runs only for a credential with `need`; the
  // handler gets the credential's name as the acting identity.
  auto guarded = [this](
                     ApiRole need,
                     std::function<void(server::HttpRequest&, server::Responder,
                                        const std::string& who)>
                         h) {
    return [this, need, h = std::move(h)](server::HttpRequest& req,
                                          server::Responder respond) {
      std::string who;
      if (std::optional<server::HttpResponse> refused =
              Authorize(req, need, &who)) {
        respond(*std::move(refused));
        return;
      }
      req.NotePrincipal(who);
      h(req, std::move(respond), who);
    };
  };
  router.Handle("GET", "/healthz",
                [](server::HttpRequest&, server::Responder respond) {
                  respond(JsonOk("{\"status\":\"ok\"}"));
                });
  router.Handle("GET", "/readyz",
                [this](server::HttpRequest&, server::Responder respond) {
                  respond(Readiness());
                });
  router.Handle("GET", "/metrics",
                guarded(ApiRole::kRead, [this](server::HttpRequest&,
                                               server::Responder respond,
                                               const std::string&) {
                  server::HttpResponse r;
                  r.content_type = "text/plain; version=0.0.4";
                  r.body = metrics_.Render() + server::RenderProcessMetrics();
                  respond(std::move(r));
                }));
  router.Handle("POST", "/add-checkpoint", AddCheckpointHandler(*witness_));
  router.Handle(
      "GET", "/v1/flows",
      guarded(ApiRole::kRead, [this](server::HttpRequest& req,
                                     server::Responder respond,
                                     const std::string&) {
        absl::Time to = clock_.Now();
        absl::Time from = to - absl::Hours(24);
        for (auto [name, out] :
             {std::pair<const char*, absl::Time*>{"from", &from},
              {"to", &to}}) {
          if (!req.HasQueryParam(name)) continue;
          absl::StatusOr<absl::Time> t = ParseRfc3339(req.QueryParam(name));
          if (!t.ok()) {
            respond(server::HttpResponse::Error(
                400, "invalid_argument",
                absl::StrCat("query '", name, "': ", t.status().message())));
            return;
          }
          *out = *t;
        }
        if (to <= from) {
          respond(server::HttpResponse::Error(400, "invalid_argument",
                                              "'to' must be after 'from'"));
          return;
        }
        absl::StatusOr<server::PageRequest> page =
            server::ParsePageRequest(req, "flows", "");
        // A later page keeps the window of the first (its default "last
        // 24 h" would have moved); naming another window is an error.
        std::vector<std::string> after;
        if (page.ok() && page->after.has_value()) {
          auto fields = server::SplitCursor(*page->after, 4);
          std::optional<absl::Time> f, t;
          int64_t ns = 0;
          if (fields && absl::SimpleAtoi((*fields)[0], &ns)) {
            f = absl::FromUnixNanos(ns);
          }
          if (fields && absl::SimpleAtoi((*fields)[1], &ns)) {
            t = absl::FromUnixNanos(ns);
          }
          if (!f || !t) {
            page = absl::InvalidArgumentError(
                "query 'page_token': not a flows cursor");
          } else if ((req.HasQueryParam("from") && from != *f) ||
                     (req.HasQueryParam("to") && to != *t)) {
            page = absl::InvalidArgumentError(
                "query 'page_token': issued for another from/to window");
          } else {
            from = *f;
            to = *t;
            after = {(*fields)[2], (*fields)[3]};
          }
        }
        absl::StatusOr<FlowStats::Page> flows =
            page.ok() ? FlowsPage(from, to, page->limit, after)
                      : absl::StatusOr<FlowStats::Page>(page.status());
        if (!flows.ok()) {
          respond(server::HttpResponse::FromStatus(flows.status()));
          return;
        }
        if (!flows->next.empty()) {
          server::AddNextPageToken(
              flows->json,
              server::PageTokens::ForProcess().Issue(
                  "flows", "",
                  server::JoinCursor({absl::StrCat(absl::ToUnixNanos(from)),
                                      absl::StrCat(absl::ToUnixNanos(to)),
                                      flows->next[0], flows->next[1]})));
        }
        respond(JsonOk(std::move(flows->json)));
      }));
  router.Handle(
      "GET", "/v1/incidents",
      guarded(ApiRole::kRead, [this](server::HttpRequest& req,
                                     server::Responder respond,
                                     const std::string&) {
        absl::StatusOr<IncidentQuery> q = ParseIncidentQuery(req);
        if (!q.ok()) {
          respond(server::HttpResponse::FromStatus(q.status()));
          return;
        }
        const std::string& filter = q->filter;
        absl::StatusOr<server::PageRequest> page =
            server::ParsePageRequest(req, "incidents", filter);
        if (!page.ok()) {
          respond(server::HttpResponse::FromStatus(page.status()));
          return;
        }
        // Newest first: the cursor is (first seen, id), fixed per incident.
        std::vector<Incident> all = incidents_->List(q->status);
        std::erase_if(all, [&](const Incident& i) { return !q->Matches(i); });
        server::PageSlice slice = server::SlicePage(
            all,
            [](const Incident& i) {
              return absl::StrCat(
                  server::DescendingKey(absl::ToUnixNanos(i.first_seen)), i.id);
            },
            *page);
        std::vector<Incident> part(all.begin() + slice.begin,
                                   all.begin() + slice.end);
        std::string body = IncidentListToJson(part);
        AddJsonMember(body, "total", absl::StrCat(all.size()));
        if (!slice.next_cursor.empty()) {
          server::AddNextPageToken(
              body, server::PageTokens::ForProcess().Issue("incidents", filter,
                                                           slice.next_cursor));
        }
        respond(JsonOk(std::move(body)));
      }));
  auto transition = [this, guarded](bool ack) {
    return guarded(ApiRole::kAdmin, [this, ack](server::HttpRequest& req,
                                                server::Responder respond,
                                                const std::string& who) {
      // The acting identity is the credential's: a "by" in the body is
      // accepted for older clients but never recorded. An optional "note"
      // (at most kMaxIncidentNoteBytes) is recorded with the transition.
      std::string note;
      if (!req.body.empty()) {
        rapidjson::Document d;
        std::string ignored;
        absl::Status s = ParseJsonObject(req.body, d, "request body");
        if (s.ok()) s = GetString(d, "by", false, &ignored);
        if (s.ok()) s = GetString(d, "note", false, &note);
        if (s.ok() && note.size() > kMaxIncidentNoteBytes) {
          s = absl::InvalidArgumentError(absl::StrCat(
              "field 'note': at most ", kMaxIncidentNoteBytes, " bytes"));
        }
        if (!s.ok()) {
          respond(server::HttpResponse::FromStatus(s));
          return;
        }
      }
      const std::string id = req.path_params["id"];
      absl::StatusOr<Incident> i = ack ? incidents_->Acknowledge(id, who, note)
                                       : incidents_->Resolve(id, who, note);
      if (i.ok()) {
        logging::Info(ack ? "incident acknowledged" : "incident resolved",
                      {{"incident", id}, {"principal", who}});
      }
      respond(i.ok() ? JsonOk(IncidentToJson(*i))
                     : server::HttpResponse::FromStatus(i.status()));
    });
  };
  RegisterConsolePageRoutes(router, guarded);
  router.Handle("POST", "/v1/incidents/{id}/ack", transition(true));
  router.Handle("POST", "/v1/incidents/{id}/resolve", transition(false));
  router.Handle(
      "GET", "/v1/checkpoints",
      [this](server::HttpRequest& req, server::Responder respond) {
        // The followed logs are fixed for the process's life (and so are
        // its page tokens' key): a position is a stable cursor.
        absl::StatusOr<server::PageRequest> page =
            server::ParsePageRequest(req, "checkpoints", "");
        if (!page.ok()) {
          respond(server::HttpResponse::FromStatus(page.status()));
          return;
        }
        // The decision logs, then the key-release logs, so that a verifier
        // finds both (its "kind" tells them apart).
        std::vector<std::pair<const LogFollower*, const char*>> listed;
        for (const auto& f : followers_)
          listed.emplace_back(f.get(), "decision");
        for (const auto& f : release_followers_) {
          listed.emplace_back(f.get(), "release");
        }
        std::vector<size_t> positions(listed.size());
        for (size_t i = 0; i < positions.size(); ++i) positions[i] = i;
        server::PageSlice slice = server::SlicePage(
            positions, [](size_t i) { return server::AscendingKey(i); }, *page);
        rapidjson::Document d(rapidjson::kObjectType);
        rapidjson::Value logs(rapidjson::kArrayType);
        for (size_t i = slice.begin; i < slice.end; ++i) {
          const auto& [f, kind] = listed[i];
          rapidjson::Value v(rapidjson::kObjectType);
          v.AddMember("origin", JsonString(f->origin(), d), d.GetAllocator());
          v.AddMember("kind", rapidjson::StringRef(kind), d.GetAllocator());
          v.AddMember("size", f->checkpoint().size, d.GetAllocator());
          v.AddMember("checkpoint", JsonString(f->checkpoint_note(), d),
                      d.GetAllocator());
          logs.PushBack(v, d.GetAllocator());
        }
        d.AddMember("logs", logs, d.GetAllocator());
        d.AddMember("witness_key", JsonString(witness_->verifier_key(), d),
                    d.GetAllocator());
        std::string body = ToCanonical(d).value_or("{}");
        if (!slice.next_cursor.empty()) {
          server::AddNextPageToken(
              body, server::PageTokens::ForProcess().Issue("checkpoints", "",
                                                           slice.next_cursor));
        }
        respond(JsonOk(std::move(body)));
      });
  router.Handle("GET", "/v1/journal/checkpoint",
                [this](server::HttpRequest&, server::Responder respond) {
                  absl::StatusOr<std::string> cp =
                      incidents_->SignedCheckpoint();
                  if (!cp.ok()) {
                    respond(server::HttpResponse::FromStatus(cp.status()));
                    return;
                  }
                  server::HttpResponse r;
                  r.content_type = "text/plain; charset=utf-8";
                  r.body = *std::move(cp);
                  respond(std::move(r));
                });
  router.Handle(
      "GET", "/v1/journal/proof",
      [this](server::HttpRequest& req, server::Responder respond) {
        uint64_t seq;
        if (!absl::SimpleAtoi(req.QueryParam("seq"), &seq)) {
          respond(server::HttpResponse::Error(
              400, "invalid_argument", "query 'seq': must be an integer"));
          return;
        }
        absl::StatusOr<std::string> p = incidents_->EventProof(seq);
        if (!p.ok()) {
          respond(server::HttpResponse::FromStatus(p.status()));
          return;
        }
        server::HttpResponse r;
        r.content_type = "text/plain; charset=utf-8";
        r.body = *std::move(p);
        respond(std::move(r));
      });
  console_sessions_ =
      std::make_unique<ConsoleSessions>(clock_, ConsoleOptions{});
  RegisterConsoleRoutes(
      router, *this, *console_sessions_,
      [this](absl::string_view token)
          -> std::optional<std::pair<std::string, ApiRole>> {
        const crypto::Sha256Digest d = crypto::Sha256(token);
        const absl::string_view digest(reinterpret_cast<const char*>(d.data()),
                                       d.size());
        const ApiCredential* match = nullptr;
        for (const ApiCredential& c : config_.api_credentials) {
          if (crypto::ConstantTimeEquals(digest, c.sha256)) match = &c;
        }
        if (match == nullptr) return std::nullopt;
        return std::make_pair(match->name, match->role);
      });
  RegisterApprovalsDeskRoutes(router, config_.desk, *console_sessions_);
  PolicyViewOptions policy_view;
  policy_view.signing_key_file = config_.policy_signing_key_file;
  policy_view.store_dir = SignedPolicyDir(config_);
  RegisterPolicyRoutes(router, *this, *console_sessions_,
                       std::move(policy_view));
  routes_ = router.Routes();
  handler_ = router.AsHandler();
}

std::vector<SignedPolicy> Auditor::SignedPolicies() const {
  absl::MutexLock lock(&mu_);
  return replayer_->policies();
}

std::vector<PolicyTimeline::Node> Auditor::PolicyNodes() const {
  absl::MutexLock lock(&mu_);
  return policy_timeline_.Nodes();
}

absl::Status Auditor::AddSignedPolicy(const std::string& path) {
  CLOVER_ASSIGN_OR_RETURN(SignedPolicy p,
                          Replayer::LoadOne(path, config_.policy_keys));
  absl::MutexLock lock(&mu_);
  replayer_->Add(std::move(p));
  return absl::OkStatus();
}

absl::Status Auditor::StartDelivery() {
  if (!workers_.empty()) return absl::OkStatus();
  if (!config_.incidents_jsonl.empty()) {
    CLOVER_ASSIGN_OR_RETURN(
        auto w, OutboxWorker::Start(
                    incidents_.get(),
                    std::make_unique<JsonlSink>(config_.incidents_jsonl)));
    workers_.push_back(std::move(w));
  }
  if (!config_.webhook_url.empty()) {
    CLOVER_ASSIGN_OR_RETURN(std::string secret,
                            ReadKeyFile(config_.webhook_secret_file, true));
    CLOVER_ASSIGN_OR_RETURN(auto sink,
                            WebhookSink::Create(config_.webhook_url, secret,
                                                absl::Seconds(10), clock_));
    CLOVER_ASSIGN_OR_RETURN(
        auto w, OutboxWorker::Start(incidents_.get(), std::move(sink)));
    workers_.push_back(std::move(w));
  }
  return absl::OkStatus();
}

absl::Status Auditor::Start() {
  if (!server_) CLOVER_RETURN_IF_ERROR(Serve());
  poller_ = std::thread([this] { PollLoop(); });
  return absl::OkStatus();
}

absl::Status Auditor::Serve() {
  CLOVER_RETURN_IF_ERROR(StartDelivery());
  server::HttpServerOptions opts;
  opts.host = config_.listen_host;
  opts.port = config_.listen_port;
  opts.threads = 2;
  opts.metrics = http_metrics_.get();
  CLOVER_ASSIGN_OR_RETURN(server_, server::HttpServer::Start(opts, handler_));
  return absl::OkStatus();
}

void Auditor::CheckTopologyOnce() {
  absl::MutexLock round(&poll_mu_);
  if (topology_ == nullptr) return;
  for (Finding& fd : topology_->Check(clock_.Now())) {
    Raise(nullptr, PendingFinding{std::move(fd), {}});
  }
}

void Auditor::PollLoop() {
  while (!stop_.HasBeenNotified()) {
    if (topology_ != nullptr && clock_.Now() >= topology_due_) {
      topology_due_ = clock_.Now() + config_.topology_interval;
      CheckTopologyOnce();
    }
    absl::StatusOr<uint64_t> n = PollOnce();
    if (n.ok() && *n > 0) continue;  // catching up: poll again at once
    stop_.WaitForNotificationWithTimeout(config_.poll_interval);
  }
}

int Auditor::port() const { return server_ ? server_->port() : 0; }

void Auditor::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (poller_.joinable()) poller_.join();
  if (server_) server_->Stop();
  workers_.clear();
}

}  // namespace clover::audit
