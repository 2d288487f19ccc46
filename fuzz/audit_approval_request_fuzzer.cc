// Approval request and decision bodies (POST /v1/approvals, .../approve|deny).
#include <cstdint>
#include <cstdlib>

#include "audit/approvals.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view body(reinterpret_cast<const char*>(data), size);
  auto spec = clover::audit::ParseApprovalCreateBody(body, "fuzz-caller", "IE");
  if (spec.ok() && spec->principal.empty()) std::abort();
  (void)clover::audit::ParseApprovalDecisionBody(body);
  auto a = clover::audit::ApprovalFromJson(body);
  if (a.ok()) {
    // What we print we must read back.
    auto again =
        clover::audit::ApprovalFromJson(clover::audit::ApprovalToJson(*a));
    if (!again.ok()) std::abort();
  }
  return 0;
}
