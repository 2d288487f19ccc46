#include "gateway/node.h"

#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "approvals/approvals.h"
#include "core/status_macros.h"
#include "crypto/constant_time.h"
#include "crypto/secret_key_file.h"
#include "crypto/subject_pseudonym.h"
#include "entry/erasure_attestation.h"
#include "entry/pseudonym_key_entry.h"
#include "gateway/access_index.h"
#include "gateway/auth.h"
#include "gateway/gateway.h"
#include "gateway/key_release.h"
#include "gateway/regional_access.h"
#include "gateway/regional_purge.h"
#include "gateway/state_store.h"
#include "kv/kv_store.h"
#include "kv/postgres_kv_store.h"
#include "log/http_handlers.h"
#include "log/note.h"
#include "log/postgres_storage.h"
#include "log/rocksdb_storage.h"
#include "log/sequencer.h"
#include "log/witness_client.h"
#include "policy/loader.h"
#include "region/topology.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/router.h"
#include "spdlog/spdlog.h"
#include "vault/kek_ring.h"
#include "vault/key_encryption_key.h"
#include "vault/postgres_storage.h"
#include "vault/vault.h"

namespace clover::gateway {

// Everything a node owns, in construction order (destroyed in reverse).
struct Node::Parts {
  Deployment deployment;
  NodeOptions options;
  const Clock* clock = nullptr;
  std::unique_ptr<server::MetricsRegistry> metrics;  // the log reports to it
  // With storage.patroni_urls: the runtime residency check of the region's
  // replicas (region/topology.h); the gateway's /readyz reads its verdict.
  std::unique_ptr<region::TopologyMonitor> topology;
  std::unique_ptr<log::Sequencer> log;
  // With log.witnesses: pushes each checkpoint to them and serves it with
  // their cosignatures; `witnessing_bell` is what the sequencer rings.
  std::unique_ptr<log::CheckpointWitnessing> witnessing;
  std::atomic<log::CheckpointWitnessing*> witnessing_bell{nullptr};
  std::unique_ptr<log::LogHttpHandler> witnessed_log;
  std::shared_ptr<const policy::CompiledPolicy> policy;
  std::unique_ptr<vault::Vault> vault;
  crypto::SecretKey log_subject_key{};
  std::unique_ptr<kv::KvStore> approvals_kv;
  std::unique_ptr<approvals::ApprovalStore> approvals;
  std::unique_ptr<approvals::AttestationVerifier> attestations;
  std::unique_ptr<StateStore> state;
  // storage.driver postgres: the region's access index and the other DCs'
  // logs (gateway/regional_access.h).
  RegionalAccess regional;
  std::unique_ptr<AccessIndex> access_index;
  std::unique_ptr<Authenticator> auth;
  std::unique_ptr<server::HttpMetrics> http_metrics;
  std::unique_ptr<Gateway> gateway;
  std::unique_ptr<server::HttpServer> server;
  std::vector<server::Router::RouteInfo> routes;  // what `server` serves
  // KEK rotation: re-wraps keys of retired KEKs while the node serves.
  std::atomic<bool> stop_rewrap{false};
  std::thread rewrap;
  // Erasure epochs: purges the vault every keys.purge_interval.
  absl::Mutex purge_mu;
  bool stop_purge ABSL_GUARDED_BY(purge_mu) = false;
  std::thread purger;
  // storage.driver postgres: the purges are the region's.
  std::unique_ptr<RegionalPurge> regional_purge;
  bool shut_down = false;
};

// Purges the vault and appends the erasure attestation (defined below).
absl::StatusOr<vault::Vault::PurgeReport> PurgeAndAttest(
    vault::Vault& vault, log::Sequencer& log, const NodeConfig& node,
    const crypto::SecretKey& log_subject_key);

namespace {

namespace fs = std::filesystem;

absl::StatusOr<std::string> ReadText(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Dir(const Node::Parts& p, absl::string_view sub) {
  return (fs::path(p.deployment.node->data_dir) / std::string(sub)).string();
}

absl::Status CreateDataDir(Node::Parts& p) {
  std::error_code ec;
  fs::create_directories(p.deployment.node->data_dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot create ", p.deployment.node->data_dir, ": ", ec.message()));
  }
  fs::permissions(p.deployment.node->data_dir, fs::perms::owner_all,
                  fs::perm_options::replace, ec);
  return absl::OkStatus();
}

absl::Status OpenLog(Node::Parts& p) {
  auto key = ReadText(p.deployment.log.key_file);
  if (!key.ok()) return key.status();
  while (!key->empty() && (key->back() == '\n' || key->back() == '\r'))
    key->pop_back();
  auto signer = log::ParseSignerKey(*key, *p.clock);
  if (!signer.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        p.deployment.log.key_file, ": ", signer.status().message()));
  }
  // The log of each node is its own (one sequencer per log); on PostgreSQL it
  // lives in a schema named after the node's data centre.
  // On PostgreSQL a batch write rides out a failover for as long as the
  // vault's calls do (storage.postgres_retry_seconds).
  log::PostgresLogStorageOptions pg;
  pg.read_retry = p.deployment.storage.postgres_retry;
  pg.write_retry = p.deployment.storage.postgres_retry;
  absl::StatusOr<std::unique_ptr<log::LogStorage>> storage =
      p.deployment.storage.driver == StorageDriver::kPostgres
          ? log::OpenPostgresLogStorage(p.deployment.storage.postgres_dsn,
                                        PostgresNameOf(p.deployment.node->dc),
                                        pg)
          : log::OpenRocksDbStorage(Dir(p, "log"));
  if (!storage.ok()) return storage.status();
  log::SequencerOptions o;
  o.origin = p.deployment.log.origin;
  o.max_batch_entries = static_cast<size_t>(p.deployment.log.max_batch_entries);
  o.max_batch_wait = p.deployment.log.max_batch_wait;
  auto entries = p.metrics->AddHistogram(
      "clover_log_batch_entries", "Entries per durable write of the log", {},
      {1, 4, 16, 64, 256, 1024, 4096, 16384});
  if (!entries.ok()) return entries.status();
  auto write = p.metrics->AddHistogram(
      "clover_log_batch_write_seconds",
      "Time of each durable write of a log batch (storage and fsync)", {});
  if (!write.ok()) return write.status();
  auto integrate = p.metrics->AddHistogram(
      "clover_log_batch_integrate_seconds",
      "Time of preparing each log batch (tiles, checkpoint signature) before "
      "its write",
      {});
  if (!integrate.ok()) return integrate.status();
  auto failed = p.metrics->AddCounter("clover_log_batch_failures_total",
                                      "Log batches that were not written", {});
  if (!failed.ok()) return failed.status();
  // What the auditor's stall detector compares with the log's growth: only
  // entries made durable count, so a request refused without an entry (an
  // over-budget aggregate, a malformed request) never looks like a stall.
  auto appended =
      p.metrics->AddCounter("clover_log_appends_total",
                            "Entries made durable in this node's log", {});
  if (!appended.ok()) return appended.status();
  o.on_batch_written =
      [entries = &(*entries)->WithLabels({}), write = &(*write)->WithLabels({}),
       integrate = &(*integrate)->WithLabels({}),
       failed = &(*failed)->WithLabels({}),
       appended = &(*appended)->WithLabels({})](const log::BatchReport& r) {
        if (!r.ok) return failed->Increment();
        appended->Increment(r.entries);
        entries->Observe(static_cast<double>(r.entries));
        write->Observe(absl::ToDoubleSeconds(r.write_time));
        integrate->Observe(absl::ToDoubleSeconds(r.integrate_time));
      };
  auto refused = p.metrics->AddCounter(
      "clover_log_reads_refused_total",
      "Tiles, entry bundles or proofs the log refused to serve because "
      "storage failed or no longer matches the tree (each is logged)",
      {});
  if (!refused.ok()) return refused.status();
  o.on_read_refused = [refused = &(*refused)->WithLabels({})] {
    refused->Increment();
  };
  o.on_published = [&p] {
    if (log::CheckpointWitnessing* w = p.witnessing_bell.load()) w->Notify();
  };
  auto seq = log::Sequencer::Open(*std::move(storage), *std::move(signer), o);
  if (!seq.ok()) return seq.status();
  p.log = *std::move(seq);
  return absl::OkStatus();
}

// Off the append path: a thread sends each new checkpoint to the configured
// witnesses; /log/checkpoint serves it with their cosignatures.
absl::Status StartWitnessing(Node::Parts& p) {
  if (p.deployment.log.witnesses.empty()) return absl::OkStatus();
  log::WitnessingOptions o;
  for (const LogWitnessConfig& w : p.deployment.log.witnesses)
    o.witnesses.push_back({w.url, w.verifier_key});
  auto w = log::CheckpointWitnessing::Start(*p.log, std::move(o));
  if (!w.ok()) {
    return absl::Status(w.status().code(),
                        absl::StrCat("log.witnesses: ", w.status().message()));
  }
  p.witnessing = *std::move(w);
  p.witnessed_log =
      std::make_unique<log::LogHttpHandler>(*p.witnessing, "/log");
  p.witnessing_bell.store(p.witnessing.get());
  p.witnessing->Notify();
  return absl::OkStatus();
}

absl::Status LoadPolicy(Node::Parts& p) {
  auto policy = policy::LoadPolicy(p.deployment);
  if (!policy.ok()) return policy.status();
  p.policy = *std::move(policy);
  return absl::OkStatus();
}

absl::Status OpenVault(Node::Parts& p) {
  auto v = OpenNodeVault(p.deployment, p.clock);
  if (!v.ok()) return v.status();
  p.vault = *std::move(v);
  auto root = crypto::ReadSecretKeyFile(p.deployment.keys.pseudonym_key_file);
  if (!root.ok()) return root.status();
  auto key = crypto::DeriveLogSubjectKey(*root);
  crypto::SecureWipe(root->data(), root->size());
  if (!key.ok()) return key.status();
  p.log_subject_key = *key;
  return absl::OkStatus();
}

absl::Status OpenApprovals(Node::Parts& p) {
  // With the region's database, approvals (and privacy budgets, OpenState)
  // are the region's: every node of the region reads and writes one table.
  const bool regional = p.deployment.storage.driver == StorageDriver::kPostgres;
  kv::PostgresKvOptions pg;
  pg.retry = p.deployment.storage.postgres_retry;
  auto kv = regional ? kv::OpenPostgresKvStore(
                           p.deployment.storage.postgres_dsn,
                           RegionalStateTable(p.deployment.node->region), pg)
                     : kv::KvStore::Open(Dir(p, "approvals"));
  if (!kv.ok()) return kv.status();
  p.approvals_kv = *std::move(kv);
  approvals::ApprovalOptions o;
  o.shared = regional;
  crypto::SecretKey key = p.log_subject_key;
  o.pseudonymize = [key](absl::string_view subject) {
    return crypto::SubjectPseudonym(key, subject);
  };
  auto store =
      approvals::ApprovalStore::Open(p.approvals_kv.get(), o, *p.clock);
  if (!store.ok()) return store.status();
  p.approvals = *std::move(store);
  auto attestations = approvals::AttestationVerifier::Create(
      p.deployment.approvals.attestation_keys);
  if (!attestations.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "approvals.attestation_keys: ", attestations.status().message()));
  }
  p.attestations = std::make_unique<approvals::AttestationVerifier>(
      *std::move(attestations));
  return absl::OkStatus();
}

absl::Status OpenState(Node::Parts& p) {
  auto state = StateStore::Open(
      Dir(p, "state"), p.deployment.storage.driver == StorageDriver::kPostgres
                           ? p.approvals_kv.get()
                           : nullptr);
  if (!state.ok()) return state.status();
  p.state = *std::move(state);
  AccessIndexStore* index_store = p.state.get();
  if (p.deployment.storage.driver == StorageDriver::kPostgres) {
    auto regional = OpenRegionalAccess(p.deployment);
    if (!regional.ok()) return regional.status();
    p.regional = *std::move(regional);
    index_store = p.regional.index.get();
  }
  p.access_index = std::make_unique<AccessIndex>(*p.log, *index_store);
  if (absl::Status s = p.access_index->CatchUp(); !s.ok()) return s;
  p.access_index->Start(absl::Milliseconds(200));
  return absl::OkStatus();
}

absl::Status CreateAuthenticator(Node::Parts& p) {
  AuthOptions o;
  o.clock = p.clock;
  // A provider unreachable at start does not stop the node (API keys and
  // certificates still work): its tokens are refused and /readyz says so
  // until a fetch succeeds (gateway/jwks_cache.h).
  for (const IdentityProviderConfig& c : p.deployment.identity_providers) {
    auto idp = std::make_shared<JwksIdentityProvider>(c, p.clock);
    (void)idp->cache().Refresh();  // a failure is logged there
    idp->cache().Start();
    o.identity_providers.push_back(std::move(idp));
  }
  auto auth = Authenticator::Create(p.deployment.principals, o);
  if (!auth.ok()) return auth.status();
  p.auth = *std::move(auth);
  return absl::OkStatus();
}

absl::Status CreateMetrics(Node::Parts& p) {
  p.metrics = std::make_unique<server::MetricsRegistry>();
  return absl::OkStatus();
}

absl::Status StartTopologyCheck(Node::Parts& p) {
  const StorageConfig& st = p.deployment.storage;
  if (st.driver != StorageDriver::kPostgres || st.patroni_urls.empty()) {
    return absl::OkStatus();
  }
  const Region* region = p.deployment.FindRegion(p.deployment.node->region);
  auto violations = p.metrics->AddCounter(
      "clover_topology_violations",
      "Members or replicas of the region's database found outside the "
      "region's declared data centres, summed over topology checks",
      {});
  if (!violations.ok()) return violations.status();
  server::Counter* counter = &(*violations)->WithLabels({});
  p.topology = std::make_unique<region::TopologyMonitor>(
      *region,
      [urls = st.patroni_urls, dsn = st.postgres_dsn] {
        return region::ObserveTopology(urls, dsn, absl::Seconds(5));
      },
      absl::Seconds(10), [counter](uint64_t n) { counter->Increment(n); });
  return absl::OkStatus();
}

absl::Status BuildGateway(Node::Parts& p) {
  auto http = server::HttpMetrics::Create(*p.metrics);
  if (!http.ok()) return http.status();
  p.http_metrics = *std::move(http);
  GatewayDeps d;
  d.deployment = &p.deployment;
  d.clock = p.clock;
  d.auth = p.auth.get();
  d.policy = p.policy;
  d.log = p.log.get();
  d.vault = p.vault.get();
  d.approvals = p.approvals.get();
  d.attestations = p.attestations.get();
  d.state = p.state.get();
  d.access_index = p.access_index.get();
  d.regional_index = p.regional.index.get();
  d.peer_logs = p.regional.peer_logs.get();
  d.metrics = p.metrics.get();
  d.log_subject_key = p.log_subject_key;
  if (p.topology != nullptr) {
    d.topology_violations = [t = p.topology.get()] { return t->Violations(); };
  }
  auto gw = Gateway::Create(std::move(d));
  if (!gw.ok()) return gw.status();
  p.gateway = *std::move(gw);
  return absl::OkStatus();
}

absl::Status Listen(Node::Parts& p) {
  server::Router router;
  p.gateway->AddRoutes(router);
  if (p.witnessed_log != nullptr) {
    // A literal path beats the gateway's "/log/*".
    router.Handle("GET", "/log/checkpoint", p.witnessed_log->AsHandler());
  }
  if (!router.status().ok()) return router.status();
  p.routes = router.Routes();
  server::HttpServerOptions o;
  const NodeConfig& n = *p.deployment.node;
  o.host = n.listen_host;
  o.port =
      p.options.port_override >= 0 ? p.options.port_override : n.listen_port;
  o.threads = p.options.threads;
  o.max_connections = static_cast<size_t>(n.max_connections);
  o.metrics = p.http_metrics.get();
  if (n.tls.has_value()) {
    server::TlsServerOptions t;
    t.cert_file = n.tls->cert_file;
    t.key_file = n.tls->key_file;
    t.client_ca_file = n.tls->client_ca_file;
    o.tls = t;
  }
  auto server = server::HttpServer::Start(o, router.AsHandler());
  if (!server.ok()) return server.status();
  p.server = *std::move(server);
  return absl::OkStatus();
}

// With retired KEKs configured, the node re-wraps their keys under the
// current KEK in the background (conditional writes, so beside its own and
// other nodes' traffic), and says when the retired keys are no longer needed.
absl::Status StartKeyRewrap(Node::Parts& p) {
  if (p.deployment.keys.retired_kek_files.empty() &&
      (!p.deployment.keys.pkcs11_kek.has_value() ||
       p.deployment.keys.pkcs11_kek->retired_labels.empty())) {
    return absl::OkStatus();
  }
  p.rewrap = std::thread([&p] {
    absl::StatusOr<vault::Vault::RewrapReport> report =
        p.vault->RewrapKeys([&p] { return !p.stop_rewrap.load(); });
    if (report.ok()) {
      spdlog::info(
          "KEK rotation: re-wrapped {} data keys under {} ({} already "
          "were); no live subject needs keys.retired_kek_files any more",
          report->rewrapped, std::string(p.vault->kek_id()), report->current);
    } else if (!absl::IsCancelled(report.status())) {
      spdlog::error("KEK rotation: {}", std::string(report.status().message()));
    }
  });
  return absl::OkStatus();
}

// The node's purge thread: purges when the current epoch is older than
// keys.purge_interval, or at once if a purge was interrupted (two epochs
// stored); a failed purge is retried after a minute.
absl::Status StartRegionalPurging(Node::Parts& p) {
  p.regional_purge = std::make_unique<RegionalPurge>(
      *p.vault, *p.log, *p.approvals_kv, *p.deployment.node);
  CLOVER_RETURN_IF_ERROR(p.regional_purge->Join());
  p.purger = std::thread([&p] {
    absl::Time next_try = absl::InfinitePast();
    const auto stopping = [&p] {
      absl::MutexLock lock(&p.purge_mu);
      return p.stop_purge;
    };
    while (true) {
      // Every second: this node's cut for a purge that wants it, and its
      // attestations owed (at once on start, after a crash).
      if (absl::StatusOr<int> t = p.regional_purge->Tick(); !t.ok()) {
        spdlog::error("erasure purge: {}", std::string(t.status().message()));
      }
      absl::StatusOr<vault::Vault::EpochState> state = p.vault->Epochs();
      if (state.ok() && absl::Now() >= next_try &&
          (state->stored > 1 ||
           absl::Now() >=
               state->current_created + p.deployment.keys.purge_interval)) {
        absl::StatusOr<vault::Vault::PurgeReport> r =
            p.regional_purge->Run(stopping);
        if (!r.ok() && !absl::IsFailedPrecondition(r.status())) {
          spdlog::error("erasure purge: {}", std::string(r.status().message()));
          next_try = absl::Now() + absl::Minutes(1);
        }
      }
      absl::MutexLock lock(&p.purge_mu);
      p.purge_mu.AwaitWithTimeout(
          absl::Condition(
              +[](bool* stop) { return *stop; }, &p.stop_purge),
          absl::Seconds(1));
      if (p.stop_purge) return;
    }
  });
  return absl::OkStatus();
}

absl::Status StartPurging(Node::Parts& p) {
  if (p.deployment.storage.driver == StorageDriver::kPostgres) {
    return StartRegionalPurging(p);
  }
  p.purger = std::thread([&p] {
    absl::Duration retry = absl::ZeroDuration();
    while (true) {
      absl::Time due = absl::Now() + retry;
      if (retry == absl::ZeroDuration()) {
        absl::StatusOr<vault::Vault::EpochState> state = p.vault->Epochs();
        if (!state.ok()) {
          spdlog::error("erasure purge: {}",
                        std::string(state.status().message()));
          retry = absl::Minutes(1);
          continue;
        }
        due = state->stored > 1
                  ? absl::Now()
                  : state->current_created + p.deployment.keys.purge_interval;
      }
      {
        absl::MutexLock lock(&p.purge_mu);
        p.purge_mu.AwaitWithDeadline(
            absl::Condition(
                +[](bool* stop) { return *stop; }, &p.stop_purge),
            due);
        if (p.stop_purge) return;
      }
      absl::StatusOr<vault::Vault::PurgeReport> r = PurgeAndAttest(
          *p.vault, *p.log, *p.deployment.node, p.log_subject_key);
      retry = r.ok() ? absl::ZeroDuration() : absl::Minutes(1);
    }
  });
  return absl::OkStatus();
}

struct Step {
  const char* name;
  absl::Status (*run)(Node::Parts&);
};

constexpr Step kSteps[] = {
    {"create data directory", CreateDataDir},
    {"create metrics", CreateMetrics},
    {"open log", OpenLog},
    {"start witnessing", StartWitnessing},
    {"load policy", LoadPolicy},
    {"open vault", OpenVault},
    {"open approvals", OpenApprovals},
    {"open state", OpenState},
    {"create authenticator", CreateAuthenticator},
    {"start topology check", StartTopologyCheck},
    {"build gateway", BuildGateway},
    {"listen", Listen},
    {"start key re-wrapping", StartKeyRewrap},
    {"start erasure purges", StartPurging},
};

}  // namespace

std::vector<std::string> Node::StepNames() {
  std::vector<std::string> out;
  for (const Step& s : kSteps) out.push_back(s.name);
  return out;
}

absl::StatusOr<std::unique_ptr<Node>> Node::Start(Deployment deployment,
                                                  NodeOptions options) {
  if (!deployment.node.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat(deployment.source_file,
                     ": not a node configuration (no 'node' section)"));
  }
  auto parts = std::make_unique<Parts>();
  parts->deployment = std::move(deployment);
  parts->options = options;
  parts->clock = options.clock != nullptr ? options.clock : &SystemClock();
  for (const Step& step : kSteps) {
    absl::Status s = step.run(*parts);
    if (!s.ok()) {
      return absl::Status(s.code(), absl::StrCat(step.name, ": ", s.message()));
    }
  }
  return std::unique_ptr<Node>(new Node(std::move(parts)));
}

Node::Node(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

Node::~Node() { Shutdown(); }

int Node::port() const { return parts_->server->port(); }

std::vector<server::Router::RouteInfo> Node::Routes() const {
  return parts_->routes;
}

void Node::Tick() { parts_->gateway->ExpireApprovals(); }

bool Node::WaitWitnessed(absl::Duration timeout) {
  if (parts_->witnessing == nullptr) return true;
  return parts_->witnessing->WaitPublished(parts_->log->Size(), timeout);
}

void Node::Shutdown() {
  if (parts_ == nullptr || parts_->shut_down) return;
  parts_->shut_down = true;
  // Order: stop taking requests and let in-flight ones finish (their log
  // appends complete); wait for handlers still running off the I/O threads;
  // then the sequencer drains and flushes its queue when destroyed. Requests
  // left over after the server's drain timeout still append: their callbacks
  // run while the gateway and the (stopped) server exist, and the server drops
  // their responses.
  parts_->stop_rewrap.store(true);
  if (parts_->rewrap.joinable()) parts_->rewrap.join();
  {
    absl::MutexLock lock(&parts_->purge_mu);
    parts_->stop_purge = true;
  }
  if (parts_->purger.joinable()) parts_->purger.join();
  parts_->server->Stop();
  parts_->gateway->Drain();
  parts_->access_index->Stop();
  parts_->witnessing_bell.store(nullptr);
  parts_->witnessing.reset();
  parts_->log.reset();
  parts_->gateway.reset();
  parts_->server.reset();
}

void BlockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForTerminationSignal(const std::function<void()>& tick) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  while (true) {
    timespec timeout{1, 0};
    int sig = sigtimedwait(&set, nullptr, &timeout);
    if (sig == SIGINT || sig == SIGTERM) return sig;
    if (tick) tick();
  }
}

absl::StatusOr<vault::Vault::PurgeReport> PurgeAndAttest(
    vault::Vault& vault, log::Sequencer& log, const NodeConfig& node,
    const crypto::SecretKey& log_subject_key) {
  vault::Vault::PurgeHooks hooks;
  hooks.tag_at_cut = [&log] { return log.Size(); };
  hooks.before_destroy =
      [&](const vault::Vault::PurgeReport& r) -> absl::Status {
    entry::ErasurePurge a;
    a.time = absl::Now();
    a.node = node.id;
    a.region = node.region;
    a.cut_log_size = r.tag;
    std::vector<std::string> pseudonyms;
    pseudonyms.reserve(r.erased.size());
    for (const std::string& s : r.erased) {
      pseudonyms.push_back(crypto::SubjectPseudonym(log_subject_key, s));
    }
    a.erased = pseudonyms.size();
    a.erased_root = entry::ErasedSubjectsRoot(std::move(pseudonyms));
    a.rewrapped = r.rewrapped;
    a.live = r.live;
    a.destroyed_epochs = r.destroyed_epochs;
    a.new_epoch = r.new_epoch;
    // Durable in the log before the old epoch is destroyed; a crash in
    // between makes the restarted node finish the purge and attest it again
    // (the auditor counts one attestation per new epoch).
    absl::StatusOr<uint64_t> index =
        log.Append(entry::ErasurePurgeJson(a)).get();
    return index.status();
  };
  absl::StatusOr<vault::Vault::PurgeReport> r = vault.Purge(hooks);
  if (r.ok()) {
    spdlog::info(
        "erasure purge: {} live keys re-sealed under {}, {} erasures made "
        "final, destroyed {}{}",
        r->rewrapped, r->new_epoch, r->erased.size(),
        r->destroyed_epochs.empty() ? std::string("none")
                                    : r->destroyed_epochs.front(),
        r->resumed ? " (finished an interrupted purge)" : "");
  } else {
    spdlog::error("erasure purge: {}", std::string(r.status().message()));
  }
  return r;
}

absl::StatusOr<vault::Vault::PurgeReport> RunVaultPurge(Deployment deployment) {
  if (!deployment.node.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat(deployment.source_file,
                     ": not a node configuration (no 'node' section)"));
  }
  Node::Parts p;
  p.deployment = std::move(deployment);
  p.clock = &SystemClock();
  for (auto step : {CreateDataDir, CreateMetrics, OpenLog, OpenVault}) {
    CLOVER_RETURN_IF_ERROR(step(p));
  }
  absl::StatusOr<vault::Vault::PurgeReport> report;
  if (p.deployment.storage.driver == StorageDriver::kPostgres) {
    // The region's purge, this node (stopped) coordinating it.
    kv::PostgresKvOptions pg;
    pg.retry = p.deployment.storage.postgres_retry;
    auto kv = kv::OpenPostgresKvStore(
        p.deployment.storage.postgres_dsn,
        RegionalStateTable(p.deployment.node->region), pg);
    if (!kv.ok()) return kv.status();
    RegionalPurge purge(*p.vault, *p.log, **kv, *p.deployment.node);
    CLOVER_RETURN_IF_ERROR(purge.Join());
    report = purge.Run();
  } else {
    report =
        PurgeAndAttest(*p.vault, *p.log, *p.deployment.node, p.log_subject_key);
  }
  p.log.reset();  // flushes
  return report;
}

absl::StatusOr<uint32_t> RotatePseudonymKey(Deployment deployment,
                                            absl::Duration overlap,
                                            const Clock* clock) {
  if (!deployment.node.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat(deployment.source_file,
                     ": not a node configuration (no 'node' section)"));
  }
  Node::Parts p;
  p.deployment = std::move(deployment);
  p.clock = clock != nullptr ? clock : &SystemClock();
  for (auto step : {CreateDataDir, CreateMetrics, OpenLog, OpenVault}) {
    CLOVER_RETURN_IF_ERROR(step(p));
  }
  const NodeConfig& node = *p.deployment.node;
  auto announce = [&](uint32_t next, uint32_t superseded,
                      absl::Time retire_at) -> absl::Status {
    entry::PseudonymKeyEvent rotate;
    rotate.time = p.clock->Now();
    rotate.node = node.id;
    rotate.region = node.region;
    rotate.event = "rotate";
    rotate.key = entry::PseudonymKeyId(next);
    rotate.supersedes = entry::PseudonymKeyId(superseded);
    rotate.overlap_end = retire_at;
    entry::PseudonymKeyEvent retire = rotate;
    retire.event = "retire";
    retire.key = rotate.supersedes;
    retire.supersedes.clear();
    auto first = p.log->Append(entry::PseudonymKeyJson(rotate));
    auto second = p.log->Append(entry::PseudonymKeyJson(retire));
    CLOVER_RETURN_IF_ERROR(first.get().status());
    return second.get().status();
  };
  absl::StatusOr<uint32_t> version =
      p.vault->pseudonym_ring().Rotate(overlap, announce);
  p.log.reset();  // flushes
  return version;
}

std::string PostgresNameOf(absl::string_view id) {
  std::string out(id);
  for (char& c : out) {
    if (c == '-' || c == '.') c = '_';
  }
  return out;
}

std::string RegionalStateTable(absl::string_view region) {
  std::string out = absl::StrCat("clover_state_", PostgresNameOf(region));
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string NodeVaultDir(const NodeConfig& node) {
  return (fs::path(node.data_dir) / "vault").string();
}

absl::StatusOr<std::unique_ptr<vault::Vault>> OpenNodeVault(
    const Deployment& deployment, const Clock* clock) {
  if (!deployment.node.has_value()) {
    return absl::InvalidArgumentError(
        "field 'node': required to find the node's vault store");
  }
  vault::VaultOptions o;
  o.region = deployment.node->region;
  o.clock = clock;
  // Hot subjects (data key and sealed record) stay in memory: reads then cost
  // one AES-GCM open instead of a storage lookup and a KEK unwrap.
  o.subject_cache_entries = 100'000;
  auto slot = std::make_shared<std::atomic<vault::Vault*>>(nullptr);
  if (deployment.storage.driver != StorageDriver::kPostgres) {
    CLOVER_RETURN_IF_ERROR(ConfigureKeyRelease(deployment, o, slot));
    vault::RocksDbOptions r;
    r.sync = true;
    auto v = vault::Vault::OpenEmbedded(deployment, o,
                                        NodeVaultDir(*deployment.node), r);
    if (v.ok()) slot->store(v->get());
    return v;
  }
  // The region's records live in one database that every DC of the region
  // shares: the vault sees it (StorageDriver::shared()) and reads every
  // subject's row on every read, so another DC's write or erasure shows at
  // once; only the unwrapped data key stays cached.
  // Another DC's purge switches the region's epoch: pick it up within 2 s.
  o.epoch_refresh = absl::Seconds(2);
  CLOVER_RETURN_IF_ERROR(ConfigureKeyRelease(deployment, o, slot));
  auto root = crypto::ReadSecretKeyFile(deployment.keys.pseudonym_key_file);
  if (!root.ok()) return root.status();
  vault::PostgresOptions pg;
  pg.retry = deployment.storage.postgres_retry;
  // One connection per blocking thread (gateway.h): a vault write holds
  // its connection until the synchronous standby has the commit (~2-4 ms on
  // the 2-core box), so the default 8 capped a node at 8 writes in flight, and
  // PUTs at about 8 / 4 ms = 2,000/s (measured 1,500-1,900/s under wrk c=64,
  // bench/region-throughput.sh). More in flight lets PostgreSQL flush and
  // replicate them in groups.
  pg.max_connections = kSharedStoreBlockingThreads;
  auto storage = vault::OpenPostgresVaultStorage(
      deployment.storage.postgres_dsn, PostgresNameOf(deployment.node->region),
      pg);
  if (!storage.ok()) return storage.status();
  auto kek = vault::OpenConfiguredKek(deployment.keys);
  if (!kek.ok()) return kek.status();
  auto v = vault::Vault::Open(deployment, o, *std::move(storage),
                              *std::move(kek), *root);
  crypto::SecureWipe(root->data(), root->size());
  if (v.ok()) slot->store(v->get());
  return v;
}

}  // namespace clover::gateway
