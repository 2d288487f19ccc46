// Clover's one HTTP client: every outbound request (log fetches, witness
// pushes, the auditor's scrapes, webhooks, the demo and the tests) goes
// through it, so that timeouts, size bounds, protocols and libcurl's global
// state are handled in one place.
#ifndef CLOVER_NET_HTTP_CLIENT_H_
#define CLOVER_NET_HTTP_CLIENT_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace clover::net {

// One request. `headers` are "Name: value" lines.
struct HttpCall {
  absl::string_view method = "GET";
  absl::string_view url;  // http:// or https:// only; no redirects followed
  std::vector<std::string> headers;
  absl::string_view body;  // sent when non-empty, or for POST and PUT
  absl::Duration timeout = absl::Seconds(30);
  size_t max_answer_bytes = size_t{64} << 20;
  bool accept_compressed = false;  // Accept-Encoding: gzip, decoded here
  // HTTPS: CAs (PEM) to verify the server with instead of the system's, and
  // a client certificate and key (PEM) for mutual TLS. Empty: not set.
  std::string ca_file;
  std::string client_cert_file;
  std::string client_key_file;
};

// The answer: any HTTP status is an answer, not an error.
struct HttpAnswer {
  int status = 0;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case names
  std::string body;
  // First value of header `lower_name`, or empty.
  [[nodiscard]] std::string Header(absl::string_view lower_name) const;
};

// Keeps one connection cache (libcurl easy handle) between calls. Not
// thread-safe: one per thread (ThreadHttpClient) or per owner.
class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `call` and waits for the whole answer. Errors: Unavailable when the
  // server cannot be reached, the transfer fails or times out (the message
  // names the method and the URL without its query or user information);
  // ResourceExhausted when the answer's body is larger than
  // `call.max_answer_bytes`; Internal when libcurl cannot start.
  [[nodiscard]] absl::StatusOr<HttpAnswer> Send(const HttpCall& call);

 private:
  void* curl_;  // CURL*, owned
};

// This thread's client, for callers that are themselves called from many
// threads (fetchers, scrapers).
[[nodiscard]] HttpClient& ThreadHttpClient();

// GET `url`, expecting 200. Errors: NotFound for 404; Unavailable for other
// statuses and transport failures; ResourceExhausted for a body over
// `max_bytes`.
[[nodiscard]] absl::StatusOr<std::string> GetOk(HttpClient& client,
                                                absl::string_view url,
                                                absl::Duration timeout,
                                                size_t max_bytes,
                                                bool accept_compressed = false);

}  // namespace clover::net

#endif  // CLOVER_NET_HTTP_CLIENT_H_
