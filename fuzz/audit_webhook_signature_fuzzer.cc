// VerifyWebhookSignature as a receiver runs it on headers and bodies from the
// network: any input must give a status, never a crash; a signature made with
// the secret over the fuzzed timestamp-free body must verify.
#include <cstdint>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "audit/outbox.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  // Three NUL-separated parts: timestamp header, signature header, body.
  size_t a = text.find('\0');
  size_t b = a == absl::string_view::npos ? a : text.find('\0', a + 1);
  absl::string_view ts = text.substr(0, a);
  absl::string_view sig =
      a == absl::string_view::npos ? "" : text.substr(a + 1, b - a - 1);
  absl::string_view body =
      b == absl::string_view::npos ? "" : text.substr(b + 1);
  const absl::Time now = absl::FromUnixSeconds(1795000000);
  (void)clover::audit::VerifyWebhookSignature("fuzz-secret", ts, sig, body,
                                              now);
  const std::string good =
      clover::audit::WebhookSignature("fuzz-secret", 1795000000, body);
  if (!clover::audit::VerifyWebhookSignature("fuzz-secret", "1795000000", good,
                                             body, now)
           .ok()) {
    std::abort();
  }
  return 0;
}
