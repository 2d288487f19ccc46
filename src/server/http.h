// The transport-neutral HTTP request/response types every handler uses. The
// transport (server/http_server.h) parses and writes the wire format; handlers
// never see sockets.
#ifndef CLOVER_SERVER_HTTP_H_
#define CLOVER_SERVER_HTTP_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace clover::server {

// absl::Status payload type URL overriding the HTTP status chosen by
// HttpResponse::FromStatus.
inline constexpr absl::string_view kHttpStatusPayload =
    "type.clover.dev/http-status";

// Returns `status` with kHttpStatusPayload set to `http_status`.
absl::Status WithHttpStatus(absl::Status status, int http_status);

// What a handler tells the transport's access log about a request it
// answers (server/http_server.h). Copies of an HttpRequest share one note; a
// handler sets it before responding.
struct RequestNote {
  std::string principal;  // the authenticated principal's id
};

struct HttpRequest {
  std::string method;  // "GET"
  std::string path;    // decoded path without query, e.g. "/v1/subjects/u1"
  std::string query;   // raw query string without '?'
  absl::flat_hash_map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string remote_address;       // "127.0.0.1:53412"
  std::string client_cert_subject;  // verified mTLS client certificate subject,
                                    // else empty
  absl::flat_hash_map<std::string, std::string>
      path_params;  // filled by the router
  // The matched route pattern ("/v1/subjects/{id}"), set by the router and used
  // as the `route` label of the HTTP metrics; empty when no router matched.
  std::string route;
  // Set by the transport for every request (server/request_id.h): the
  // client's X-Request-Id if valid, else a generated one; the W3C trace id
  // (the client's traceparent's, else generated) and this server's span id.
  std::string request_id;
  std::string trace_id;
  std::string span_id;
  // Null outside the transport (e.g. a handler called by a test).
  std::shared_ptr<RequestNote> note;

  // Records the authenticated principal for the access log.
  void NotePrincipal(absl::string_view id) const;

  // Header value or empty.
  absl::string_view Header(absl::string_view lower_name) const;
  // Decoded query parameter value; empty if absent.
  std::string QueryParam(absl::string_view name) const;
  bool HasQueryParam(absl::string_view name) const;
};

// What a 503 or 429 asks clients to wait before retrying, in seconds: short
// beside a failover (tens of seconds), so a client is back soon after it.
inline constexpr int kRetryAfterSeconds = 2;

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // For the access log only, never sent: the log index of the request's
  // decision entry (-1: none), and for an error the cause ("code: message",
  // for a server error the full status FromStatus keeps from the client).
  int64_t log_index = -1;
  std::string cause;

  // {"error":{"code":"...","message":"..."}} with the given HTTP status. A
  // 503 (the node's storage or log cannot take the request now, e.g. during a
  // database failover) or a 429 carries `Retry-After: kRetryAfterSeconds`.
  static HttpResponse Error(int status, absl::string_view code,
                            absl::string_view message);
  // Maps an absl::Status to an error response (InvalidArgument/OutOfRange 400,
  // Unauthenticated 401, PermissionDenied 403, NotFound 404,
  // AlreadyExists/Aborted/ FailedPrecondition 409, ResourceExhausted 429,
  // Unimplemented 501, Unavailable 503, DeadlineExceeded 504, others 500). A
  // status carrying the payload kHttpStatusPayload (decimal text, 400..599)
  // uses that HTTP status instead, e.g. 410 for an erased subject or 421 for a
  // misdirected write. The message of a client error (the 4xx codes and
  // Unimplemented) goes to the client; for Unavailable, DeadlineExceeded,
  // Internal, Unknown, DataLoss and the rest the body says only "service
  // unavailable", "deadline exceeded" or "internal error" and the status goes
  // to `cause`, which the access log writes at error level: such messages may
  // name sockets, hosts or files.
  static HttpResponse FromStatus(const absl::Status& status);
  static HttpResponse Json(int status, std::string body);
};

// Adds `Retry-After: kRetryAfterSeconds` to a 429 or 503 that has none, so
// that every listener tells clients when to retry whatever built the answer
// (the transport calls it on every response).
void EnsureRetryAfter(HttpResponse& response);

// A handler answers asynchronously: it may call `respond` later from any
// thread, exactly once.
using Responder = std::function<void(HttpResponse)>;
using Handler = std::function<void(HttpRequest& request, Responder respond)>;

}  // namespace clover::server

#endif  // CLOVER_SERVER_HTTP_H_
