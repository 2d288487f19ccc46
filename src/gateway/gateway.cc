#include "gateway/gateway.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "boost/asio/post.hpp"
#include "boost/asio/thread_pool.hpp"
#include "core/canonical_json.h"
#include "core/logger.h"
#include "gateway/endpoints.h"
#include "gateway/health.h"
#include "gateway/pipeline.h"
#include "log/http_handlers.h"
#include "server/process_metrics.h"
#include "vault/vault.h"

namespace clover::gateway {

using server::HttpRequest;
using server::HttpResponse;
using server::Responder;

// Owns what the endpoint families share: the blocking pool and the pipeline.
// The families themselves are in subjects.cc, reports.cc, exports.cc,
// tokens.cc, aggregates.cc and approval_routes.cc.
class Gateway::Impl {
 public:
  explicit Impl(GatewayDeps deps)
      : d_(std::move(deps)), pipeline_(d_, blocking_) {}

  // Queued blocking handlers finish (and respond) before the gateway goes
  // away.
  ~Impl() { Drain(); }

  void Drain() { blocking_.join(); }

  absl::Status Init() { return pipeline_.Init(); }

  void AddRoutes(server::Router& router) {
    AddSubjectRoutes(pipeline_, router);
    AddReportRoutes(pipeline_, router);
    AddExportRoutes(pipeline_, router);
    AddTokenRoutes(pipeline_, router);
    AddAggregateRoutes(pipeline_, router);
    AddApprovalRoutes(pipeline_, router);
    AddMigrationRoutes(pipeline_, router);
    log_handler_ = std::make_unique<log::LogHttpHandler>(*d_.log, "/log");
    server::Handler log_handler = log_handler_->AsHandler();
    router.Handle("GET", "/log/*", log_handler);
    router.Handle("GET", "/v1/log/proof/inclusion", log_handler);
    router.Handle("GET", "/v1/log/proof/consistency", log_handler);
    if (d_.peer_logs != nullptr) {
      AddPeerLogRoutes(pipeline_, *d_.peer_logs, router);
    }
    router.Handle("GET", "/healthz", [](HttpRequest&, Responder respond) {
      respond(HttpResponse::Json(200, "{\"status\":\"ok\"}"));
    });
    // Ready only while storage, key path, log and topology are healthy
    // (gateway/health.h). The probes (one database round trip, one KEK
    // wrap) run off the I/O threads, so a node whose database has no
    // reachable leader is taken out of rotation (503 with a reason) and put
    // back once it answers again.
    router.Handle("GET", "/readyz", [this](HttpRequest&, Responder respond) {
      boost::asio::post(blocking_, [this, respond = std::move(respond)] {
        respond(Readiness());
      });
    });
    router.Handle("GET", "/metrics", [this](HttpRequest&, Responder respond) {
      pipeline_.log_size().Set(static_cast<double>(d_.log->Size()));
      HttpResponse r;
      r.content_type = "text/plain; version=0.0.4";
      r.body = d_.metrics->Render() + server::RenderProcessMetrics();
      respond(std::move(r));
    });
  }

  void ExpireApprovals() { gateway::ExpireApprovals(pipeline_); }

  HttpResponse Readiness() {
    std::optional<HealthProblem> problem;
    // A replica outside the region (region/topology.h): the node stops
    // taking traffic whose data would be replicated there. The details
    // (member names, addresses) go to the node's log, not to this
    // unauthenticated answer.
    if (d_.topology_violations && !d_.topology_violations().empty()) {
      problem = HealthProblem{
          "topology_violation",
          "a member or replica of the region's database is not a declared "
          "data centre of the region"};
    }
    if (!problem.has_value()) {
      if (absl::Status s = d_.vault->storage().Ping(); !s.ok()) {
        logging::Warn(
            "readyz: storage not ready",
            {{"reason", "storage_unavailable"}, {"cause", s.ToString()}});
        problem = HealthProblem{"storage_unavailable",
                                "the database is unreachable or has no leader"};
      }
    }
    if (!problem.has_value()) {
      if (absl::Status s = d_.vault->ProbeKek(); !s.ok()) {
        logging::Warn("readyz: the KEK cannot wrap a key",
                      {{"reason", "key_unavailable"}, {"cause", s.ToString()}});
        problem = HealthProblem{"key_unavailable",
                                "the key-encryption key cannot be used (key "
                                "manager or token unavailable)"};
      }
    }
    const absl::Time now = absl::Now();
    if (!problem.has_value()) problem = KeyReleaseHealth().Current(now);
    if (!problem.has_value()) problem = pipeline_.log_health().Current(now);
    if (!problem.has_value()) problem = d_.auth->IdentityHealth();
    if (problem.has_value()) {
      std::string body = "{\"status\":\"not_ready\",\"node\":";
      AppendJsonString(pipeline_.node().id, &body);
      body += ",\"reason\":";
      AppendJsonString(problem->reason, &body);
      body += ",\"message\":";
      AppendJsonString(problem->message, &body);
      body += "}";
      HttpResponse r = HttpResponse::Json(503, std::move(body));
      r.headers.emplace_back("Retry-After",
                             absl::StrCat(server::kRetryAfterSeconds));
      return r;
    }
    std::string body = "{\"status\":\"ready\",\"node\":";
    AppendJsonString(pipeline_.node().id, &body);
    absl::StrAppend(&body, ",\"log_size\":", d_.log->Size(), "}");
    return HttpResponse::Json(200, std::move(body));
  }

 private:
  GatewayDeps d_;
  // Writes (vault, approvals, privacy budget) wait for an fsync, and exports
  // and aggregates work through many subjects. They run here, not on the I/O
  // threads, so that they never stall the reads sharing an I/O thread, and so
  // that enough writes are in flight at once for RocksDB (or PostgreSQL) to
  // commit them in groups, one fsync for many (gateway.h).
  boost::asio::thread_pool blocking_{d_.vault->fetches_rows_async()
                                         ? kSharedStoreBlockingThreads
                                         : kEmbeddedBlockingThreads};
  Pipeline pipeline_;
  std::unique_ptr<log::LogHttpHandler> log_handler_;
};

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Create(GatewayDeps deps) {
  if (deps.deployment == nullptr || !deps.deployment->node.has_value() ||
      deps.clock == nullptr || deps.auth == nullptr || deps.policy == nullptr ||
      deps.log == nullptr || deps.vault == nullptr ||
      deps.approvals == nullptr || deps.state == nullptr ||
      deps.access_index == nullptr || deps.metrics == nullptr) {
    return absl::InvalidArgumentError(
        "gateway: missing dependency or node configuration");
  }
  auto impl = std::make_unique<Impl>(std::move(deps));
  if (absl::Status s = impl->Init(); !s.ok()) return s;
  return std::unique_ptr<Gateway>(new Gateway(std::move(impl)));
}

Gateway::Gateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Gateway::~Gateway() = default;

void Gateway::Drain() { impl_->Drain(); }
void Gateway::AddRoutes(server::Router& router) { impl_->AddRoutes(router); }
void Gateway::ExpireApprovals() { impl_->ExpireApprovals(); }

}  // namespace clover::gateway
