// The HTTP/1.1 server (Boost.Beast/Asio), optionally over TLS 1.3 with client
// certificates.
//
// Threads: `threads` I/O threads, each running its own event loop; a connection
// lives on one of them for its whole life, so its state needs no lock. The
// handler is called on that thread and may answer later from any thread: the
// Responder hands the response back to the connection's thread. One request is
// in flight per connection at a time (pipelined requests wait in the read
// buffer), so responses keep request order.
//
// Limits and timeouts: a request whose header block exceeds `max_header_bytes`
// gets 431, a body over `max_body_bytes` (Content-Length or chunked) gets 413,
// anything unparsable 400, each as JSON {"error":{"code","message"}} followed
// by closing the connection. A request must arrive completely within
// `read_timeout` of its first byte (so a client sending headers byte by byte is
// dropped, and never holds a thread); a keep-alive connection with no new
// request for `idle_timeout` is closed; a response must be written within
// `write_timeout`.
//
// Every response carries Content-Length (no chunked responses) and is
// `Connection: close` when the client asked for it, on errors that leave the
// stream unusable, and while stopping.
//
// Framing (RFC 9112; server/http_request_parser.h): a body is framed by exactly
// one Content-Length of decimal digits or by exactly one `Transfer-Encoding:
// chunked` (HTTP/1.1), never both; anything else (`chunked, identity`,
// `xchunked`, repeated or conflicting fields, obs-fold) is 400 and the
// connection is closed before another byte is read as a request, so a body can
// never be taken for a second request. Trailer fields are dropped; a chunk-size
// line or trailer section that does not fit internal::MaxBufferedBytes is 400
// and close. Any method token reaches the handler;
// the metrics label it by HttpMetrics::MethodLabel, so client-chosen method
// names do not become label values.
//
// Identifiers: every response carries `X-Request-Id` (the client's when it
// is 1-128 characters of [A-Za-z0-9._:-], else a new one) and a W3C
// `traceparent` with the trace id of the client's valid traceparent (else a
// new one) and this server's span id (server/request_id.h); handlers see
// them in HttpRequest::request_id, trace_id and span_id.
//
// Connections: at most `max_connections` are open at once; a connection
// accepted beyond that is closed at once. A new connection must start its
// first request within min(read_timeout, idle_timeout).
#ifndef CLOVER_SERVER_HTTP_SERVER_H_
#define CLOVER_SERVER_HTTP_SERVER_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/http.h"
#include "server/metrics.h"

namespace clover::server {

struct TlsServerOptions {
  std::string cert_file;  // PEM certificate chain (leaf first)
  std::string key_file;   // PEM private key
  // If set, every client must present a certificate that verifies against these
  // CAs (PEM); its subject is passed to handlers in
  // HttpRequest::client_cert_subject in RFC 2253 form as printed by OpenSSL's
  // XN_FLAG_RFC2253: most specific RDN first, e.g. "CN=eu-support-1,O=Clover EU
  // Support" for a certificate made with
  // `-subj "/O=Clover EU Support/CN=eu-support-1"`.
  std::string client_ca_file;
};

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;     // 0 = an ephemeral port, see HttpServer::port()
  int threads = 0;  // 0 = one per core
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 1 << 20;
  // Concurrent connections (idle, reading, handled or lingering after an error
  // response); must be > 0. Start() raises the process's soft RLIMIT_NOFILE
  // to fit them plus 256 descriptors for everything else, or, where the hard
  // limit forbids, lowers this cap to fit (logged as a warning).
  size_t max_connections = 1024;
  absl::Duration read_timeout = absl::Seconds(10);
  absl::Duration idle_timeout = absl::Seconds(60);
  absl::Duration write_timeout = absl::Seconds(30);
  // How long Stop() waits for in-flight requests before closing their
  // connections.
  absl::Duration drain_timeout = absl::Seconds(10);
  std::optional<TlsServerOptions> tls;
  // If set (and outliving the server), every response is counted in it by
  // method, route (HttpRequest::route as set by the router) and status, with
  // its latency.
  HttpMetrics* metrics = nullptr;
  // One line per response to the process's log (core/logger.h; message
  // "request", field log=access): method, route template, status,
  // latency_ms, request_id, trace_id, span_id, parent_span_id (when the
  // client sent a traceparent), principal (when the handler noted one),
  // log_index (when the response carries a decision's), remote, and for an
  // error its cause. Info level; 401 warn (event=authentication_failed);
  // 5xx error.
  bool access_log = true;
};

class HttpServer {
 public:
  // Binds, listens and starts the I/O threads. Errors: InvalidArgument for bad
  // options (port out of range, zero limits, unreadable/invalid TLS files,
  // naming the file), Unavailable if the address cannot be bound.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      HttpServerOptions options, Handler handler);

  // Stops (as Stop()) and waits.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound port (the real one when options.port was 0).
  int port() const;

  // Graceful stop: stops accepting, closes idle keep-alive connections, lets
  // requests already received finish (their responses go out with `Connection:
  // close`) for up to drain_timeout, then closes what is left and joins the I/O
  // threads. A response a handler delivers after that is dropped. Idempotent;
  // safe from any thread except an I/O thread.
  void Stop();

  // Blocks until Stop() has completed (from another thread or a signal
  // handler's helper).
  void Wait();

  class Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace clover::server

#endif  // CLOVER_SERVER_HTTP_SERVER_H_
