// Approval transition entries as the auditor's approval ledger reads them from
// a log it does not trust, followed by a decision that names the approval:
// whatever the record says, Observe and Check must not crash, and a record
// Observe refused must back no grant.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "audit/approval_ledger.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  clover::audit::ApprovalLedger l;
  clover::kv::KvBatch batch;
  const bool observed = l.Observe("fuzz/log", text, batch).ok();
  clover::entry::DecisionEntry e;
  e.principal_id = "p";
  e.subject = "s";
  e.approval = "apr-1";
  e.time = absl::FromUnixSeconds(1795000000);
  e.fields.push_back({"email", "contact", true, {}, {}, {}});
  const clover::audit::GrantedField f[] = {{0, absl::Hours(8)}};
  const std::string why = l.Check("fuzz/log", e, f, nullptr);
  // A record the ledger refused backs no grant.
  if (why.empty() && !observed) std::abort();
  return 0;
}
