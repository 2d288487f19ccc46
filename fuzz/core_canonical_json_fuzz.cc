// Canonicalisation is idempotent: canonical(canonical(x)) == canonical(x) for
// any input that parses.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "core/canonical_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto once = clover::CanonicalizeJson(text);
  if (!once.ok()) return 0;
  auto twice = clover::CanonicalizeJson(*once);
  if (!twice.ok() || *twice != *once) std::abort();
  return 0;
}
