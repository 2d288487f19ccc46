// Request-target and query-string parsing (RFC 9112 §3.2 origin-form, RFC 3986
// percent-encoding, application/x-www-form-urlencoded query parameters). Pure
// functions, thread-safe.
#ifndef CLOVER_SERVER_URL_H_
#define CLOVER_SERVER_URL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace clover::server {

// Decodes %XX escapes (and '+' as space when `plus_is_space`, as in query
// strings). InvalidArgument for a truncated or non-hex escape or a decoded NUL
// byte.
[[nodiscard]] absl::StatusOr<std::string> PercentDecode(absl::string_view in,
                                                        bool plus_is_space);

// Splits an origin-form request target ("/a/b?x=1") into its percent-decoded
// path and its raw query (without '?'; a fragment is not allowed in a request
// target). InvalidArgument if the target is not origin-form, has bad escapes
// (in the path or in any query parameter's name or value, NUL included),
// control characters, an encoded '/', "." / ".." segments (so that no
// handler can be tricked into path traversal), a query parameter given twice
// or more than 64 query parameters.
[[nodiscard]] absl::Status ParseRequestTarget(absl::string_view target,
                                              std::string& path,
                                              std::string& query);

// Looks up `name` in a raw query string ("a=1&b=x%20y"); on success stores the
// decoded value (empty for "a" or "a=") and returns true. The first occurrence
// wins. A parameter whose value has a bad escape counts as absent.
bool FindQueryParam(absl::string_view query, absl::string_view name,
                    std::string* value);

}  // namespace clover::server

#endif  // CLOVER_SERVER_URL_H_
