// The auditor's web console (issue 22; docs/console.md): the built single-page
// application under /ui/ (audit/console_assets.h), its login sessions and the
// JSON it needs beyond the /v1 API.
//
//   GET  /ui/, /ui/<asset>     the embedded bundle (public: it holds no data)
//   POST /ui/api/login         {"token":"<an API credential>"} -> a session
//                              cookie and {"who","role","csrf_token","expires"}
//   GET  /ui/api/session       the caller's session, else 401
//   POST /ui/api/logout        ends the session                   [session]
//   GET  /ui/api/overview      followed logs and their state       [read]
//   GET  /ui/api/public        the public transparency summary: counts per
//                              day, destination and purpose, incidents by
//                              severity, checkpoints (no login, no identities)
//
// Security contract:
// - Login takes the same credentials as the API (constant-time hash check);
//   the session id is 32 random bytes, kept server side (only its SHA-256) with
//   an absolute expiry (ConsoleOptions::session_ttl), sent in the cookie
//   `clover_session`: HttpOnly, SameSite=Strict, Path=/, Secure when the
//   auditor serves TLS. A login must be `Content-Type: application/json` (a
//   cross-site form cannot send it without a CORS preflight, which is
//   refused), and an `Origin` header, when sent, must name this host.
// - A request authenticated by the cookie (no Authorization header) that is
//   not GET/HEAD must carry `X-CSRF-Token` equal to its session's token
//   (constant-time), else 403 `csrf_failed`; /v1 routes accept such sessions
//   through AuthorizeConsoleSession, with the credential's role.
// - Every /ui/ response carries a strict Content-Security-Policy (no inline
//   script or style, default-src 'self', frame-ancestors 'none'),
//   X-Content-Type-Options: nosniff, Referrer-Policy: no-referrer. Static
//   files are looked up by exact name in the embedded bundle: there is no file
//   system path to traverse, and a name with "..", "\" or NUL is refused (400).
//
// Thread-safety: ConsoleSessions is internally synchronised.
#ifndef CLOVER_AUDIT_CONSOLE_H_
#define CLOVER_AUDIT_CONSOLE_H_

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "audit/audit_config.h"
#include "core/clock.h"
#include "server/http.h"
#include "server/router.h"

namespace clover::audit {

class Auditor;

inline constexpr char kConsoleSessionCookie[] = "clover_session";
inline constexpr char kConsoleCsp[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' "
    "data:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

struct ConsoleOptions {
  absl::Duration session_ttl = absl::Hours(8);
  size_t max_sessions = 1024;  // the oldest is dropped beyond this
  bool secure_cookie = false;  // set when the auditor serves TLS
};

class ConsoleSessions {
 public:
  struct Session {
    std::string who;  // the credential's name
    ApiRole role = ApiRole::kRead;
    std::string csrf_token;  // 43 characters of base64url
    absl::Time expires;
  };
  ConsoleSessions(const Clock& clock, ConsoleOptions options);

  // A new session for `who`; `*id` receives the cookie value. Errors:
  // Internal if the random generator fails.
  [[nodiscard]] absl::StatusOr<Session> Create(std::string who, ApiRole role,
                                               std::string* id);
  // The live session with cookie value `id`, else nullopt (expired ones are
  // dropped).
  std::optional<Session> Find(absl::string_view id);
  void Remove(absl::string_view id);
  const ConsoleOptions& options() const { return options_; }

 private:
  const Clock& clock_;
  const ConsoleOptions options_;
  absl::Mutex mu_;
  // SHA-256 of the id -> session, so the map holds no usable cookie.
  absl::flat_hash_map<std::string, Session> sessions_ ABSL_GUARDED_BY(mu_);
};

// The value of cookie `name` in the request's Cookie header, or "".
std::string RequestCookie(const server::HttpRequest& req,
                          absl::string_view name);

// For a /v1 request without an Authorization header: nullopt when it carries
// a live session cookie of a credential holding `need` (and, for a method
// other than GET/HEAD, the session's X-CSRF-Token); then `*who` is the
// credential's name. Else the 401/403 response.
std::optional<server::HttpResponse> AuthorizeConsoleSession(
    ConsoleSessions& sessions, const server::HttpRequest& req, ApiRole need,
    std::string* who);

// Checks a presented API token; the matching credential's (name, role) or
// nullopt.
using ConsoleTokenCheck =
    std::function<std::optional<std::pair<std::string, ApiRole>>(
        absl::string_view token)>;

// Adds the /ui routes above to `router`.
void RegisterConsoleRoutes(server::Router& router, Auditor& auditor,
                           ConsoleSessions& sessions, ConsoleTokenCheck check);

// The summary /ui/api/public serves (exposed for tests): flows of the last
// `days` days counted per UTC day, destination and purpose; incidents by
// severity and status; the verified checkpoints.
std::string PublicSummaryJson(Auditor& auditor, absl::Time now, int days);

}  // namespace clover::audit

#endif  // CLOVER_AUDIT_CONSOLE_H_
