// GET /logs/<dc>/checkpoint and /logs/<dc>/tile/...: the other DCs' logs of
// the region, read-only (gateway/peer_logs.h), in the C2SP tlog-tiles layout
// of the node's own /log/..., so that verifiers and the auditor keep
// following a DC whose node is lost.
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gateway/endpoints.h"
#include "gateway/peer_logs.h"
#include "log/http_handlers.h"

namespace clover::gateway {

void AddPeerLogRoutes(Pipeline& pipe, PeerLogs& logs, server::Router& router) {
  // On the I/O threads, as the node's own /log (whose full tiles are read
  // from the database too): this public route must not take the blocking
  // pool that writes wait for. A view is re-read at most about once a
  // second, by one reader; the others meanwhile serve the one they have.
  router.Handle(
      "GET", "/logs/*",
      pipe.Inline([&logs](server::HttpRequest& req, server::Responder respond) {
        absl::string_view rest = req.path;
        rest.remove_prefix(sizeof("/logs/") - 1);
        const size_t slash = rest.find('/');
        const std::string dc(rest.substr(0, slash));
        if (slash == absl::string_view::npos || !logs.Knows(dc)) {
          return respond(log::LogErrorResponse(
              404, "unknown_log",
              "no such log: /logs/<dc>/ serves the logs of the other data "
              "centres of this node's region"));
        }
        auto snap = logs.Snapshot(dc);
        if (absl::IsNotFound(snap.status())) {
          return respond(
              log::LogErrorResponse(404, "not_found", snap.status().message()));
        }
        if (!snap.ok()) {
          server::HttpResponse r = log::LogErrorResponse(
              503, "unavailable",
              absl::StrCat("the log of ", dc, " cannot be read now"));
          r.headers.emplace_back("Retry-After",
                                 absl::StrCat(server::kRetryAfterSeconds));
          return respond(std::move(r));
        }
        // The snapshot stays alive for this one response.
        log::LogHttpHandler handler(**snap, absl::StrCat("/logs/", dc));
        respond(handler.Handle(req.method, req.path, req.query));
      }));
}

}  // namespace clover::gateway
