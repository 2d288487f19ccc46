// Fetching log resources. The follower takes a FetchFn so tests can serve a log
// from memory and the daemon over HTTP.
#ifndef CLOVER_AUDIT_FETCHER_H_
#define CLOVER_AUDIT_FETCHER_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "log/fetch.h"

namespace clover::audit {

// Returns the bytes of `path` relative to the log prefix ("checkpoint",
// "tile/entries/x001/002.p/7"). Errors: NotFound for a missing resource,
// Unavailable for transport failures and other HTTP errors.
using FetchFn = log::Fetcher;

// log::HttpFetcher for `base_url` (e.g. "http://127.0.0.1:8441/log") with the
// auditor's bounds: responses larger than `max_bytes` are refused. Thread-safe.
FetchFn HttpFetcher(std::string base_url,
                    absl::Duration timeout = absl::Seconds(10),
                    size_t max_bytes = 8 << 20);

// GET of an absolute URL with the same rules (used for Prometheus scrapes).
[[nodiscard]] absl::StatusOr<std::string> HttpGet(const std::string& url,
                                                  absl::Duration timeout,
                                                  size_t max_bytes = 8 << 20);

}  // namespace clover::audit

#endif  // CLOVER_AUDIT_FETCHER_H_
