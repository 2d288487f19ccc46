// Fetch functions for the log client: how it gets `checkpoint` and `tile/...`
// resources. Each takes a path relative to the log prefix (e.g.
// "tile/0/x001/002.p/7").
#ifndef CLOVER_LOG_FETCH_H_
#define CLOVER_LOG_FETCH_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace clover::log {

class LogHttpHandler;

// Returns the resource bytes. Errors: NotFound for a missing resource (HTTP
// 404), others (Unavailable, Internal) for transport failures. Implementations
// are thread-safe.
using Fetcher =
    std::function<absl::StatusOr<std::string>(absl::string_view path)>;

// GETs `base_url` + "/" + path (http:// or https://, no redirects; gzip
// accepted), refusing bodies over `max_bytes` (ResourceExhausted).
[[nodiscard]] Fetcher HttpFetcher(std::string base_url,
                                  absl::Duration timeout = absl::Seconds(30),
                                  size_t max_bytes = size_t{64} << 20);
// The answer to an HTTP POST (any status).
struct PostResponse {
  int status = 0;
  std::string content_type;
  std::string body;
};
// POSTs `body` (Content-Type `content_type`) to `url` (http:// or
// https://, no redirects), refusing answers over 64 KiB. Errors: Unavailable
// when the server cannot be reached or the transfer fails.
using Poster = std::function<absl::StatusOr<PostResponse>(
    const std::string& url, const std::string& content_type,
    const std::string& body)>;
[[nodiscard]] Poster HttpPoster(absl::Duration timeout = absl::Seconds(10));

// Reads `dir` + "/" + path (a mirror of the log's static resources). Paths
// containing ".." are refused.
[[nodiscard]] Fetcher FileFetcher(std::string dir);
// Calls an in-process handler, as if served at `prefix`. `handler` must outlive
// the fetcher.
[[nodiscard]] Fetcher HandlerFetcher(const LogHttpHandler& handler,
                                     std::string prefix = "/log");

}  // namespace clover::log

#endif  // CLOVER_LOG_FETCH_H_
