// The adversarial suite's harness: a real `clover serve` process for the
// example deployment's DC ie-dub-1 (EU region), seeded with subjects whose
// restricted fields hold unique marker values, and clients that funnel every
// response through the suite's three checks:
//
//   - no raw restricted value reaches a non-EU principal (or leaves in an
//     export to a non-EU destination): every response byte is scanned for
//     every seeded marker;
//   - no 5xx, ever, for anything a client sends;
//   - every error is {"error":{"code","message"}} and names no internals
//     (file system paths, sockets).
//
// Tests attack the node as the published example principals would (their API
// keys are in examples/README.md) and finish with ExpectClean(), which fails
// naming the first offending requests. Loopback only, ephemeral ports.
#ifndef CLOVER_TESTS_ADVERSARIAL_ADVERSARIAL_NODE_H_
#define CLOVER_TESTS_ADVERSARIAL_ADVERSARIAL_NODE_H_

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/test_temp_dir.h"
#include "gateway/http_client.h"
#include "gateway/local_deployment.h"
#include "gtest/gtest.h"

namespace clover::adversarial {

// The example deployment's purposes (examples/policy.yaml), an undeclared one,
// and its jurisdictions (examples/jurisdictions.yaml).
inline const std::vector<std::string> kPurposes = {
    "customer_support",  "service_operation", "recommendation",
    "legal_request",     "trust_safety",      "analytics",
    "security_incident", "account_management"};
inline constexpr char kUndeclaredPurpose[] = "zz_made_up_1";
inline const std::vector<std::string> kDestinations = {"eu", "us", "uk", "cn",
                                                       "ch", "br", "in"};
// The schema's restricted fields (examples/schema.yaml).
inline const std::vector<std::string> kRestrictedFields = {
    "email", "phone", "ip_address", "payment_country"};
// Principals outside the EU that hold no grant.
inline const std::vector<std::string> kNonEuPrincipals = {
    "cn-engineer-1", "us-recommender", "us-legal-1"};
inline const std::vector<std::string> kEuPrincipals = {
    "eu-support-1", "eu-support-2", "eu-tns-1",   "eu-analytics",
    "auditor",      "admin",        "accounts-eu"};

// A seeded subject and the raw values of its restricted fields.
struct Subject {
  std::string id;
  std::string country;
  std::string email;            // local part is the unique marker
  std::string phone;            // E.164
  std::string ip;               // IPv4 or IPv6
  std::string payment_country;  // a country no response would otherwise name
  std::string name;
  std::string json;  // the PUT body
};

// One HTTP response, from libcurl or from a raw socket.
struct Response {
  int status = 0;  // 0: no response (transport error)
  std::string body;
  std::string raw;  // status line, headers and body as received (raw socket)
  std::vector<std::pair<std::string, std::string>> headers;  // lower-cased
  std::string Header(absl::string_view lower_name) const;
};

// What a raw socket exchange saw: every complete response in order, bytes
// after the last complete one, and whether the server closed the connection.
struct RawExchange {
  std::vector<Response> responses;
  std::string trailing;
  bool closed = false;
};

// Sends `bytes` on a fresh loopback connection to `port`, then reads until the
// server closes or `quiet` passes with nothing new (after at least one
// response or `first_wait` without one). Responses to a request starting
// "HEAD " are read without a body.
[[nodiscard]] RawExchange RawSend(
    int port, absl::string_view bytes,
    absl::Duration quiet = absl::Milliseconds(800),
    absl::Duration first_wait = absl::Seconds(5));

// `body` as a chunked transfer coding with chunks of `chunk` bytes (hex sizes
// in upper case when `upper_hex`).
[[nodiscard]] std::string Chunked(absl::string_view body, size_t chunk,
                                  bool upper_hex = false);

// Every character of `s` as %XX (upper- or lower-case hex).
[[nodiscard]] std::string PercentEncodeAll(absl::string_view s,
                                           bool upper = true);

// Every ASCII letter of a JSON string's content as \u00XX.
[[nodiscard]] std::string UnicodeEscapeLetters(absl::string_view s);

struct CallOptions {
  std::string purpose;  // X-Clover-Purpose; empty: none
  std::string body;
  // Sent with a non-empty body; empty: none.
  std::string content_type = "application/json";
  std::vector<std::string> headers;  // extra "Name: value"
  // Scan the response for raw restricted values even if the principal is in
  // the EU (exports to a non-EU destination).
  bool scan = false;
  bool api_key_header = false;  // X-Api-Key instead of Authorization
};

// Runs `jobs` on `threads` threads (each job makes its own requests).
void RunParallel(std::vector<std::function<void()>> jobs, int threads = 4);

class AdversarialTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Starts `clover serve` for ie-dub-1 and waits until it is ready.
  void StartNode();
  // Writes the seeded subjects as accounts-eu (must be 201).
  void Seed();

  // One request through libcurl as `principal` (empty: unauthenticated), on
  // this thread's client. `what` names it in failure messages. Safe to call
  // from several threads.
  Response Call(absl::string_view what, absl::string_view method,
                absl::string_view path, absl::string_view principal,
                const CallOptions& o = {});
  // A request given as raw bytes (one response expected; the server closes
  // after it when the request says Connection: close).
  Response CallRaw(absl::string_view what, absl::string_view principal,
                   absl::string_view request_bytes, bool scan = false);
  // Applies the suite's checks to a response received for `principal` (to a
  // HEAD request when `head`: no body to check; to a method HTTP does not
  // define when `may_be_501`: 501 is then the right answer, not a fault).
  void Check(absl::string_view what, absl::string_view principal,
             const Response& r, bool scan, bool head = false,
             bool may_be_501 = false);

  // Fails naming the first offending requests if any response so far leaked a
  // raw restricted value, was a 5xx, or was a malformed or revealing error.
  void ExpectClean();

  // The log size /readyz reports.
  uint64_t LogSize();

  static std::string AuthHeader(absl::string_view principal);
  const Subject& subject(absl::string_view id) const;

  test::TempDir tmp_{"adversarial"};
  std::filesystem::path dir_ = tmp_.path();
  gateway::LocalNode node_;
  std::string config_;
  int port_ = 0;
  pid_t pid_ = -1;
  std::vector<Subject> subjects_;

  std::mutex mu_;
  std::vector<std::string> leaks_;
  std::vector<std::string> server_errors_;
  std::vector<std::string> bad_errors_;
  size_t checked_ = 0;
};

}  // namespace clover::adversarial

#endif  // CLOVER_TESTS_ADVERSARIAL_ADVERSARIAL_NODE_H_
