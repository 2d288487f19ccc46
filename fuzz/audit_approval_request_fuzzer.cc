// Approval request and decision bodies (POST /v1/approvals, .../approve|deny).
#include <cstdint>
#include <cstdlib>

#include "approvals/approvals.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view body(reinterpret_cast<const char*>(data), size);
  auto spec =
      clover::approvals::ParseApprovalCreateBody(body, "fuzz-caller", "IE");
  if (spec.ok() && spec->principal.empty()) std::abort();
  (void)clover::approvals::ParseApprovalDecisionBody(body);
  auto a = clover::approvals::ApprovalFromJson(body);
  if (a.ok()) {
    // What we print we must read back.
    auto again = clover::approvals::ApprovalFromJson(
        clover::approvals::ApprovalToJson(*a));
    if (!again.ok()) std::abort();
  }
  return 0;
}
