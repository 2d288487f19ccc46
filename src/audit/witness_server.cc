#include "audit/witness_server.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/json_fields.h"
#include "core/logger.h"
#include "core/rfc3339.h"
#include "core/status_macros.h"
#include "rapidjson/document.h"
#include "server/page_token.h"
#include "server/router.h"

namespace clover::audit {

server::Handler AddCheckpointHandler(Witness& witness) {
  return [&witness](server::HttpRequest& req, server::Responder respond) {
    Witness::Response w = witness.HandleAddCheckpoint(req.body);
    server::HttpResponse r;
    r.status = w.status;
    r.content_type = w.content_type;
    r.body = std::move(w.body);
    respond(std::move(r));
  };
}

std::string WitnessedCheckpointsJson(const Witness& witness,
                                     const std::vector<std::string>& origins) {
  rapidjson::Document d(rapidjson::kObjectType);
  rapidjson::Value logs(rapidjson::kArrayType);
  for (const std::string& origin : origins) {
    std::optional<Witness::Latest> latest = witness.LatestFor(origin);
    if (!latest) continue;
    rapidjson::Value v(rapidjson::kObjectType);
    v.AddMember("origin", JsonString(origin, d), d.GetAllocator());
    v.AddMember("size", latest->checkpoint.size, d.GetAllocator());
    v.AddMember("checkpoint", JsonString(latest->note, d), d.GetAllocator());
    logs.PushBack(v, d.GetAllocator());
  }
  d.AddMember("logs", logs, d.GetAllocator());
  d.AddMember("witness_key", JsonString(witness.verifier_key(), d),
              d.GetAllocator());
  return ToCanonical(d).value_or("{}");
}

absl::StatusOr<std::unique_ptr<WitnessServer>> WitnessServer::Create(
    WitnessConfig config, const Clock& clock) {
  std::unique_ptr<WitnessServer> s(new WitnessServer(std::move(config)));
  const WitnessConfig& c = s->config_;
  std::error_code ec;
  std::filesystem::create_directories(c.data_dir, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("cannot create data_dir '",
                                            c.data_dir, "': ", ec.message()));
  }
  CLOVER_ASSIGN_OR_RETURN(s->kv_, kv::KvStore::Open(c.data_dir + "/store"));
  CLOVER_ASSIGN_OR_RETURN(std::string key, ReadKeyFile(c.key_file, true));
  std::vector<WitnessedLog> logs;
  std::vector<std::string> origins;
  for (const FollowedLog& l : c.logs) {
    logs.push_back({l.origin, l.verifier_keys});
    origins.push_back(l.origin);
  }
  kv::KvStore* kv = s->kv_.get();
  // Evidence is kept (synced) before it is logged, so a restart loses none.
  auto on_finding = [kv](Finding f) {
    std::string notes;
    for (const Evidence& e : f.evidence)
      notes += absl::StrJoin(e.checkpoints, "\n");
    if (absl::Status st = kv->Put(absl::StrCat("evidence/", f.key), notes);
        !st.ok()) {
      logging::Error("witness: cannot store evidence",
                     {{"finding", f.key}, {"cause", st.ToString()}});
    }
    logging::Error(absl::StrCat("witness: ", f.summary),
                   {{"finding", f.key}, {"checkpoints", notes}});
  };
  absl::StatusOr<std::unique_ptr<Witness>> w =
      Witness::Open(kv, key, std::move(logs), on_finding, clock);
  if (!w.ok()) {
    return absl::Status(w.status().code(),
                        absl::StrCat(c.key_file, ": ", w.status().message()));
  }
  s->witness_ = *std::move(w);

  server::Router router;
  router.Handle("POST", "/add-checkpoint", AddCheckpointHandler(*s->witness_));
  router.Handle(
      "GET", "/v1/checkpoints",
      [p = s.get(), origins](server::HttpRequest& req,
                             server::Responder respond) {
        // The configured logs are fixed for the process's life (and so is
        // its page tokens' key): a position is a stable cursor.
        absl::StatusOr<server::PageRequest> page =
            server::ParsePageRequest(req, "checkpoints", "");
        if (!page.ok()) {
          return respond(server::HttpResponse::FromStatus(page.status()));
        }
        std::vector<size_t> positions(origins.size());
        for (size_t i = 0; i < positions.size(); ++i) positions[i] = i;
        server::PageSlice slice = server::SlicePage(
            positions, [](size_t i) { return server::AscendingKey(i); }, *page);
        std::string body = WitnessedCheckpointsJson(
            *p->witness_,
            std::vector<std::string>(origins.begin() + slice.begin,
                                     origins.begin() + slice.end));
        if (!slice.next_cursor.empty()) {
          server::AddNextPageToken(
              body, server::PageTokens::ForProcess().Issue("checkpoints", "",
                                                           slice.next_cursor));
        }
        respond(server::HttpResponse::Json(200, std::move(body)));
      });
  router.Handle(
      "GET", "/healthz", [](server::HttpRequest&, server::Responder respond) {
        respond(server::HttpResponse::Json(200, "{\"status\":\"ok\"}"));
      });
  if (!router.status().ok()) return router.status();
  s->routes_ = router.Routes();
  s->handler_ = router.AsHandler();
  return s;
}

WitnessServer::~WitnessServer() { Stop(); }

absl::Status WitnessServer::Start() {
  server::HttpServerOptions opts;
  opts.host = config_.listen_host;
  opts.port = config_.listen_port;
  opts.threads = 1;
  CLOVER_ASSIGN_OR_RETURN(server_, server::HttpServer::Start(opts, handler_));
  return absl::OkStatus();
}

void WitnessServer::Stop() {
  if (server_) server_->Stop();
}

int WitnessServer::port() const { return server_ ? server_->port() : 0; }

}  // namespace clover::audit
