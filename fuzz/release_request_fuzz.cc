// Fuzzes the key-release request parser and the opening of release-sealed
// keys. Properties: no crash; whatever parses re-encodes to a request that
// parses to the same values; nothing a fuzzer makes opens under the region's
// release key (it would need the key's X25519 agreement and a GCM tag).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "release/release_key.h"
#include "release/release_protocol.h"

namespace {

using namespace clover::release;

const ReleaseKey& TheKey() {
  static const ReleaseKey* k = [] {
    clover::crypto::SecretKey s;
    s.fill(0x42);
    return ReleaseKey::FromSecret(s)->release();
  }();
  return *k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  if (TheKey().Open(in).ok()) std::abort();
  auto r = ParseReleaseRequest(in);
  if (!r.ok()) return 0;
  auto again = ParseReleaseRequest(EncodeReleaseRequest(*r));
  if (!again.ok()) std::abort();
  const Justification& a = r->justification;
  const Justification& b = again->justification;
  if (again->region != r->region || again->wrapped != r->wrapped ||
      a.principal != b.principal || a.purpose != b.purpose ||
      a.code != b.code || a.subject != b.subject ||
      a.decision_index != b.decision_index) {
    std::abort();
  }
  if (TheKey().Open(r->wrapped).ok()) std::abort();
  return 0;
}
