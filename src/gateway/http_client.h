// A small blocking HTTP/1.1 client over libcurl, for the demo, tools and
// end-to-end tests. Keeps its connections alive between calls. Not thread-safe:
// use one per thread.
#ifndef CLOVER_GATEWAY_HTTP_CLIENT_H_
#define CLOVER_GATEWAY_HTTP_CLIENT_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace clover::gateway {

struct ClientResponse {
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>>
      headers;  // names lower-cased
  // First value of header `lower_name`, or empty.
  std::string Header(absl::string_view lower_name) const;
};

class HttpClient {
 public:
  explicit HttpClient(absl::Duration timeout = absl::Seconds(30));
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request. `headers` are "Name: value" lines; a request with a
  // body (or any POST or PUT) is labelled Content-Type: application/json
  // unless they name a Content-Type. Errors: Unavailable
  // when the server cannot be reached or the transfer fails (any HTTP status is
  // a success here).
  [[nodiscard]] absl::StatusOr<ClientResponse> Send(
      absl::string_view method, absl::string_view url,
      const std::vector<std::string>& headers, absl::string_view body = {});

 private:
  void* curl_;  // CURL*, owned
  absl::Duration timeout_;
};

}  // namespace clover::gateway

#endif  // CLOVER_GATEWAY_HTTP_CLIENT_H_
