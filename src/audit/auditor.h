// The auditor process (`clover audit --config FILE`): follows the configured
// logs, cosigns their checkpoints as a witness, replays every decision, keeps
// flow totals, runs the detectors, records incidents with evidence and delivers
// them (webhook, JSON-lines file), and serves its HTTP API:
//   POST /add-checkpoint                  C2SP tlog-witness
//   GET  /v1/flows?from=&to=              flow totals (RFC 3339 bounds;
//                                         default: last 24 h)          [read]
//   GET  /v1/incidents?status=            incidents, newest first      [read]
//   (the lists take ?limit= and ?page_token=: server/page_token.h)
//   POST /v1/incidents/{id}/ack|resolve   status changes, recorded as done
//                                         by the credential's name, with
//                                         the time and an optional
//                                         {"note":…}                  [admin]
//   GET  /v1/checkpoints                  latest verified (cosigned)
//                                         checkpoint per log
//   GET  /v1/journal/checkpoint           signed checkpoint of the journal
//   GET  /v1/journal/proof?seq=           tlog-proof of one journal event
//   GET  /healthz                         alive
//   GET  /readyz                          200 once every followed log was
//                                         polled and its last poll worked
//                                         and the store answers; else 503
//                                         {"status":"not_ready","reason":…}
//   GET  /metrics                                                      [read]
//   /ui/...                               the web console (audit/console.h);
//                                         its session cookie stands for a
//                                         bearer credential on /v1 routes
// [read]/[admin]: needs an Authorization: Bearer credential of that role
// (audit_config.h), else 401 (WWW-Authenticate) or 403; the rest is public
// verification material (signed checkpoints and hash proofs).
//
// Thread-safety: Start/Stop from one thread; PollOnce and the HTTP handlers may
// run concurrently (a mutex serialises the pipeline state).
#ifndef CLOVER_AUDIT_AUDITOR_H_
#define CLOVER_AUDIT_AUDITOR_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "audit/approval_ledger.h"
#include "audit/audit_config.h"
#include "audit/console.h"
#include "audit/detectors.h"
#include "audit/erasure_check.h"
#include "audit/flows.h"
#include "audit/follower.h"
#include "audit/incident_store.h"
#include "audit/legacy_check.h"
#include "audit/outbox.h"
#include "audit/policy_view.h"
#include "audit/principal_directory.h"
#include "audit/pseudonym_key_check.h"
#include "audit/release_check.h"
#include "audit/replayer.h"
#include "audit/topology_watch.h"
#include "audit/witness.h"
#include "core/clock.h"
#include "entry/log_entry.h"
#include "kv/kv_store.h"
#include "server/http.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/router.h"

namespace clover::audit {

class Auditor {
 public:
  // Builds everything from `config` (opens the store, loads and verifies the
  // signed policies, restores follower and witness state). `fetch_for` maps a
  // log URL to a fetcher (HttpFetcher when null). Errors: those of the parts,
  // naming the file at fault.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Auditor>> Create(
      AuditorConfig config, const Clock& clock = SystemClock(),
      std::function<FetchFn(const std::string& url)> fetch_for = nullptr);
  ~Auditor();

  // Starts the HTTP server, the delivery workers and the polling thread.
  // Errors: Unavailable if the address cannot be bound.
  [[nodiscard]] absl::Status Start();
  // Only the HTTP server and the delivery workers, not polling: the witness
  // endpoint is up before the logs it follows are (the demo starts it before
  // the nodes that push to it). Start later adds the polling thread.
  [[nodiscard]] absl::Status Serve();
  // Stops polling, serving and delivering. Idempotent.
  void Stop();
  int port() const;

  // One polling round over every log; returns the new entries processed. Fetch
  // errors are logged and counted, not returned, so one unreachable log does
  // not stop the others. Rounds are serialised: a caller's round (the demo's,
  // a test's) waits for the poll thread's, since two followers advancing one
  // log at once would each add the same entries to its tree.
  absl::StatusOr<uint64_t> PollOnce() ABSL_LOCKS_EXCLUDED(poll_mu_);

  // Checks the configured regions' topology once (config.topology) and raises
  // a topology_violation for each violation episode that began since the
  // last check (audit/topology_watch.h). The polling thread calls it every
  // config.topology_interval; a no-op without `topology:`. Serialised with
  // polling rounds.
  void CheckTopologyOnce() ABSL_LOCKS_EXCLUDED(poll_mu_);

  // Reads every configured migration source now and checks the deletion
  // attestations naming it (audit/legacy_check.h), raising
  // deletion_unverified for attested rows found there. Polling rounds do the
  // same when a source is due (config.migration.interval, or a new
  // attestation). Serialised with polling rounds.
  void CheckMigrationSourcesOnce() ABSL_LOCKS_EXCLUDED(poll_mu_);
  // The migration section of the report, as of the last polling round or
  // source check (never waits for one).
  std::vector<MigrationSummary> MigrationSummaries() const
      ABSL_LOCKS_EXCLUDED(legacy_mu_);

  // Starts only the delivery workers (tests that drive PollOnce themselves).
  [[nodiscard]] absl::Status StartDelivery();

  server::Handler handler() const { return handler_; }
  // The routes handler() serves (method, pattern): the API contract test
  // compares them with docs/openapi.yaml.
  const std::vector<server::Router::RouteInfo>& routes() const {
    return routes_;
  }
  IncidentStore& incidents() { return *incidents_; }
  Witness& witness() { return *witness_; }
  const std::vector<std::unique_ptr<LogFollower>>& followers() const {
    return followers_;
  }
  // The key-release logs' followers (config.releases, in order).
  const std::vector<std::unique_ptr<LogFollower>>& release_followers() const {
    return release_followers_;
  }
  // What the auditor counted of release log `origin` so far.
  ReleaseCounts release_counts(const std::string& origin) const;
  std::string FlowsJson(absl::Time from, absl::Time to) const;
  // One page of FlowsJson (FlowStats::ToJsonPage).
  absl::StatusOr<FlowStats::Page> FlowsPage(
      absl::Time from, absl::Time to, size_t limit,
      const std::vector<std::string>& after) const;
  server::MetricsRegistry& metrics() { return metrics_; }
  const Replayer& replayer() const { return *replayer_; }
  // Per followed log (config order): polled at least once, last poll failed.
  struct LogPollState {
    bool polled = false;
    bool failing = false;
  };
  std::vector<LogPollState> PollStates() const;
  // The policy versions replay accepts (policies.bundles and those signed in
  // the console), and which version each node's decisions named
  // (audit/policy_view.h).
  std::vector<SignedPolicy> SignedPolicies() const ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<PolicyTimeline::Node> PolicyNodes() const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Verifies bundle `path` (and path.sig by policies.auditor_keys) and adds it
  // to the versions replay accepts. Errors: Replayer::LoadOne's.
  [[nodiscard]] absl::Status AddSignedPolicy(const std::string& path)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The signed principal directory; nullptr when none is configured.
  const PrincipalDirectory* directory() const { return directory_.get(); }

 private:
  struct PendingFinding {
    Finding finding;
    absl::flat_hash_map<uint64_t, std::string>
        entries;  // evidence entries by index
  };
  Auditor(AuditorConfig config, const Clock& clock);
  absl::Status Init(std::function<FetchFn(const std::string& url)> fetch_for);
  absl::Status ProcessEntries(LogFollower& f, uint64_t first,
                              const std::vector<std::string>& entries,
                              kv::KvBatch& batch, size_t log_no,
                              std::vector<PendingFinding>* pending)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Raise(const LogFollower* f, PendingFinding p);
  // Deletes a bounded number of flow totals and flow entry index rows past
  // their retention (config_.flows); once per polling round.
  void PruneFlows() ABSL_EXCLUSIVE_LOCKS_REQUIRED(poll_mu_);
  // Raises what the legacy-deletion check found (evidence from the follower
  // of each finding's log).
  void RaiseLegacy(std::vector<LegacyCheck::Found> found);
  void PublishLegacy() ABSL_LOCKS_EXCLUDED(legacy_mu_);
  // Re-verifies part of the history of `f` (config: history_check), raising
  // tampered_history findings. Called from PollOnce after each poll.
  void CheckHistory(LogFollower& f);
  // nullopt when the request's bearer credential holds `need` (then `who` is
  // its name), else the 401/403 response to send.
  std::optional<server::HttpResponse> Authorize(const server::HttpRequest& req,
                                                ApiRole need,
                                                std::string* who) const;
  // Polls the key-release logs (after the decision logs, so that a release's
  // decision is verified first when both grew) and judges their releases.
  void PollReleases() ABSL_EXCLUSIVE_LOCKS_REQUIRED(poll_mu_);
  // Judges `entries` of release log `j` (from `first`); releases whose
  // decision is not verified yet are kept in `batch` as pending.
  void JudgeReleases(size_t j, uint64_t first,
                     const std::vector<std::string>& entries,
                     kv::KvBatch& batch, std::vector<PendingFinding>* pending);
  // Judges release log `j`'s pending releases again.
  void RetryPendingReleases(size_t j);
  // Judges one release; false if it stays pending.
  bool JudgeOne(size_t j, uint64_t index, const std::string& raw,
                absl::Time first_seen, std::vector<PendingFinding>* pending);
  absl::StatusOr<std::string> VerifiedDecision(const std::string& origin,
                                               uint64_t index);
  void BuildRouter();
  // The /v1 routes the web console's pages add (console_pages_routes.cc):
  // GET /v1/incidents/{id}, /v1/flows/entries, /v1/flows/entry. `guarded`
  // wraps a handler so that it runs only for a credential with the role.
  using GuardedHandler = std::function<void(
      server::HttpRequest&, server::Responder, const std::string& who)>;
  using Guard = std::function<server::Handler(ApiRole, GuardedHandler)>;
  void RegisterConsolePageRoutes(server::Router& router, const Guard& guarded);
  // Entry `index` of followed decision log `origin` as verified, and its
  // tlog-proof against the latest verified checkpoint. Serialised with
  // polling rounds. Errors: NotFound (log not followed, index not verified);
  // the fetch's errors.
  absl::StatusOr<std::pair<std::string, std::string>> EntryWithProof(
      absl::string_view origin, uint64_t index) ABSL_LOCKS_EXCLUDED(poll_mu_);
  // The /readyz answer.
  server::HttpResponse Readiness() const;
  void PollLoop();
  int64_t ScrapeTraffic(const std::string& url) const;

  const AuditorConfig config_;
  const Clock& clock_;
  std::unique_ptr<kv::KvStore> kv_;
  std::unique_ptr<log::NoteSigner> journal_signer_;
  std::unique_ptr<IncidentStore> incidents_;
  std::unique_ptr<Witness> witness_;
  std::unique_ptr<Replayer> replayer_;
  std::unique_ptr<PrincipalDirectory> directory_;
  std::vector<std::unique_ptr<LogFollower>> followers_;
  std::vector<std::unique_ptr<LogFollower>> release_followers_;
  // Judging releases fetches decisions from the nodes' logs: it runs on the
  // polling thread (under poll_mu_) on its own counts, published after each
  // round for readers.
  std::vector<ReleaseCounts> release_work_;
  mutable absl::Mutex release_mu_;
  std::vector<ReleaseCounts> release_counts_ ABSL_GUARDED_BY(release_mu_);
  std::vector<std::unique_ptr<OutboxWorker>> workers_;
  // Null without `topology:`; used under poll_mu_.
  std::unique_ptr<TopologyWatch> topology_;
  absl::Time topology_due_ = absl::InfinitePast();
  // The legacy-deletion check; used under poll_mu_ (fed by ProcessEntries,
  // which runs inside a polling round).
  std::unique_ptr<LegacyCheck> legacy_;
  // Its summaries, published after each round for readers.
  mutable absl::Mutex legacy_mu_;
  std::vector<MigrationSummary> legacy_summaries_ ABSL_GUARDED_BY(legacy_mu_);

  // Held for a whole polling round; taken before mu_.
  mutable absl::Mutex poll_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  FlowStats flows_ ABSL_GUARDED_BY(mu_);
  Detectors detectors_ ABSL_GUARDED_BY(mu_);
  ErasureCheck erasure_check_ ABSL_GUARDED_BY(mu_);
  PseudonymKeyCheck pseudonym_key_check_ ABSL_GUARDED_BY(mu_);
  std::vector<StallDetector> stalls_ ABSL_GUARDED_BY(mu_);
  // Per followed log, for /readyz: polled at least once, and whether the
  // last poll failed.
  std::vector<bool> polled_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> poll_failed_ ABSL_GUARDED_BY(mu_);
  entry::LogEntry scratch_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<ApprovalLedger> ledger_ ABSL_GUARDED_BY(mu_);
  // Per policy hash: first and last decision time (Unix ms) and count, for
  // reports.
  struct PolicyUse {
    int64_t first_ms = 0;
    int64_t last_ms = 0;
    uint64_t count = 0;
  };
  absl::flat_hash_map<std::string, PolicyUse> policy_use_ ABSL_GUARDED_BY(mu_);
  PolicyTimeline policy_timeline_ ABSL_GUARDED_BY(mu_);
  // Recent entries per log (index % kRing), so detector evidence spanning
  // several polls can still carry the entries themselves.
  static constexpr size_t kRing = 4096;
  std::vector<std::vector<std::pair<uint64_t, std::string>>> recent_
      ABSL_GUARDED_BY(mu_);

  server::MetricsRegistry metrics_;
  server::CounterFamily* m_entries_ = nullptr;
  server::CounterFamily* m_replay_ = nullptr;
  server::CounterFamily* m_incidents_ = nullptr;
  server::CounterFamily* m_poll_errors_ = nullptr;
  server::CounterFamily* m_flow_decisions_ = nullptr;
  server::CounterFamily* m_flow_bytes_ = nullptr;
  server::GaugeFamily* m_tree_size_ = nullptr;
  server::CounterFamily* m_history_checked_ = nullptr;
  server::CounterFamily* m_history_unavailable_ = nullptr;
  std::unique_ptr<server::HttpMetrics> http_metrics_;

  std::unique_ptr<ConsoleSessions> console_sessions_;
  std::vector<server::Router::RouteInfo> routes_;
  server::Handler handler_;
  std::unique_ptr<server::HttpServer> server_;
  absl::Notification stop_;
  std::thread poller_;
};

}  // namespace clover::audit

#endif  // CLOVER_AUDIT_AUDITOR_H_
