#include "gateway/http_client.h"

#include "absl/strings/match.h"

namespace clover::gateway {

absl::StatusOr<ClientResponse> HttpClient::Send(
    absl::string_view method, absl::string_view url,
    const std::vector<std::string>& headers, absl::string_view body) {
  net::HttpCall call;
  call.method = method;
  call.url = url;
  call.headers = headers;
  call.body = body;
  call.timeout = timeout_;
  bool has_type = false;
  for (const std::string& h : headers)
    has_type = has_type || absl::StartsWithIgnoreCase(h, "content-type:");
  // Clover's bodies are JSON; libcurl would otherwise label them as a form.
  if (!has_type && (!body.empty() || method == "POST" || method == "PUT"))
    call.headers.push_back("Content-Type: application/json");
  return client_.Send(call);
}

}  // namespace clover::gateway
