#include "crypto/constant_time.h"

#include <openssl/crypto.h>

namespace clover::crypto {

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  // The length of a MAC or token is public; only the contents must not leak.
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

void SecureWipe(void* p, size_t len) {
  if (p != nullptr && len > 0) OPENSSL_cleanse(p, len);
}

}  // namespace clover::crypto
