// Approval attestations (approvals/attestation.h): the note text as the node
// and the auditor's ledger parse it, and the whole signed note as they open it.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "approvals/attestation.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto a = clover::approvals::ParseAttestationText(text);
  if (a.ok()) {
    // What parses is what the writer writes back, apart from the times'
    // spelling; the writer's text parses to the same attestation.
    auto again = clover::approvals::AttestationText(*a);
    if (!again.ok()) std::abort();
    auto b = clover::approvals::ParseAttestationText(*again);
    if (!b.ok() || b->id != a->id || b->request_sha256 != a->request_sha256 ||
        b->principal != a->principal || b->by != a->by ||
        b->expires <= b->approved) {
      std::abort();
    }
  }
  // Opening with no keys never verifies anything.
  static const auto* verifier = new clover::approvals::AttestationVerifier(
      *clover::approvals::AttestationVerifier::Create({}));
  if (verifier->Open(text).ok()) std::abort();
  return 0;
}
