// Transport-neutral HTTP read side of the log: the C2SP tlog-tiles resources
// and the JSON proof endpoints.
//   GET <prefix>/checkpoint                    text/plain, Cache-Control
//   max-age=2 GET <prefix>/tile/<L>/<N>[.p/<W>]          octet-stream,
//   immutable GET <prefix>/tile/entries/<N>[.p/<W>]      octet-stream,
//   immutable GET /v1/log/proof/inclusion?index=I&size=S
//   {"index","size","hashes":[base64...]} GET
//   /v1/log/proof/consistency?from=A&to=B {"from","to","hashes":[base64...]}
// Resources the tree does not have yet answer 404; malformed paths or
// parameters 400, with the JSON error body {"error":{"code","message"}}.
#ifndef CLOVER_LOG_HTTP_HANDLERS_H_
#define CLOVER_LOG_HTTP_HANDLERS_H_

#include <string>

#include "absl/strings/string_view.h"
#include "log/log_reader.h"
#include "server/http.h"

namespace clover::log {

// Thread-safe if the reader is; `reader` must outlive the handler.
class LogHttpHandler {
 public:
  explicit LogHttpHandler(const LogReader& reader,
                          std::string log_prefix = "/log");

  // True if `path` is one of the paths above (the handler answers it).
  [[nodiscard]] bool Owns(absl::string_view path) const;
  // Answers one request. Only GET and HEAD are allowed (405 otherwise).
  [[nodiscard]] server::HttpResponse Handle(absl::string_view method,
                                            absl::string_view path,
                                            absl::string_view query) const;
  // Adapter for server::HttpServer; answers 404 for paths it does not own.
  [[nodiscard]] server::Handler AsHandler() const;

 private:
  server::HttpResponse Tile(absl::string_view rel) const;
  server::HttpResponse Inclusion(absl::string_view query) const;
  server::HttpResponse Consistency(absl::string_view query) const;

  const LogReader& reader_;
  const std::string prefix_;
};

// The JSON error response used by the handler (exposed for tests and other read
// paths).
[[nodiscard]] server::HttpResponse LogErrorResponse(int status,
                                                    absl::string_view code,
                                                    absl::string_view message);

}  // namespace clover::log

#endif  // CLOVER_LOG_HTTP_HANDLERS_H_
