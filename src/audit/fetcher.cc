#include "audit/fetcher.h"

#include "net/http_client.h"

namespace clover::audit {

absl::StatusOr<std::string> HttpGet(const std::string& url,
                                    absl::Duration timeout, size_t max_bytes) {
  return net::GetOk(net::ThreadHttpClient(), url, timeout, max_bytes);
}

FetchFn HttpFetcher(std::string base_url, absl::Duration timeout,
                    size_t max_bytes) {
  return log::HttpFetcher(std::move(base_url), timeout, max_bytes);
}

}  // namespace clover::audit
