// The client the demo, tools and end-to-end tests talk to a node with: the one
// HTTP client (net/http_client.h) with the node's conventions — a request
// body is JSON unless the caller says otherwise. Keeps its connection alive
// between calls. Not thread-safe: use one per thread.
#ifndef CLOVER_GATEWAY_HTTP_CLIENT_H_
#define CLOVER_GATEWAY_HTTP_CLIENT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "net/http_client.h"

namespace clover::gateway {

using ClientResponse = net::HttpAnswer;

class HttpClient {
 public:
  explicit HttpClient(absl::Duration timeout = absl::Seconds(30))
      : timeout_(timeout) {}

  // Sends one request. `headers` are "Name: value" lines; a request with a
  // body (or any POST or PUT) is labelled Content-Type: application/json
  // unless they name a Content-Type. Errors: those of net::HttpClient::Send
  // (any HTTP status is a success here).
  [[nodiscard]] absl::StatusOr<ClientResponse> Send(
      absl::string_view method, absl::string_view url,
      const std::vector<std::string>& headers, absl::string_view body = {});

 private:
  net::HttpClient client_;
  absl::Duration timeout_;
};

}  // namespace clover::gateway

#endif  // CLOVER_GATEWAY_HTTP_CLIENT_H_
