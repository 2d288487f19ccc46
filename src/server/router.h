// Maps (method, path) to handlers. Patterns are literal segments, `{name}`
// segments (one non-empty path segment, stored in
// HttpRequest::path_params[name]) and an optional trailing
// "/*" matching the rest of the path (possibly empty, stored in
// path_params["*"]). A literal segment beats a `{param}` at the same position,
// which beats "*", so
// "/v1/approvals/pending" can sit beside "/v1/approvals/{id}".
//
// Unknown path -> 404 JSON; known path with another method (an unknown one
// included: the node answers client input with 4xx, never 5xx, so not RFC
// 9110's suggested 501) -> 405 JSON with an Allow header. The matched pattern
// is stored in HttpRequest::route for the metrics.
//
// Thread-safety: build the router on one thread; the handler returned by
// AsHandler() is immutable and may be called concurrently.
#ifndef CLOVER_SERVER_ROUTER_H_
#define CLOVER_SERVER_ROUTER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "server/http.h"

namespace clover::server {

class Router {
 public:
  Router();
  ~Router();
  Router(Router&&) noexcept;
  Router& operator=(Router&&) noexcept;

  // Adds a route. InvalidArgument for a pattern not starting with '/', with an
  // empty or malformed `{}` segment, a '*' anywhere but a trailing "/*", or a
  // (method, pattern) pair registered twice.
  [[nodiscard]] absl::Status Add(absl::string_view method,
                                 absl::string_view pattern, Handler handler);
  // Like Add, for routes fixed in code: an invalid pattern is a programming
  // error, reported by returning without adding and recording the error for
  // status().
  void Handle(absl::string_view method, absl::string_view pattern,
              Handler handler);
  // The first error recorded by Handle, or OK.
  const absl::Status& status() const { return status_; }

  // One registered route: its method and pattern as given to Add.
  struct RouteInfo {
    std::string method;
    std::string pattern;
  };
  // Every route added so far, most specific first (the API contract test,
  // tests/openapi_test.cc, compares them with docs/openapi.yaml).
  std::vector<RouteInfo> Routes() const;

  // A handler dispatching over the routes added so far (a snapshot: later
  // additions do not affect it).
  Handler AsHandler() const;

  struct Table;

 private:
  std::shared_ptr<Table> table_;
  absl::Status status_;
};

}  // namespace clover::server

#endif  // CLOVER_SERVER_ROUTER_H_
