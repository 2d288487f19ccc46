// Constant-time comparison and wiping of secrets (CRYPTO_memcmp,
// OPENSSL_cleanse).
#ifndef CLOVER_CRYPTO_CONSTANT_TIME_H_
#define CLOVER_CRYPTO_CONSTANT_TIME_H_

#include <cstddef>

#include "absl/strings/string_view.h"

namespace clover::crypto {

// True if `a` and `b` are equal. The time taken depends only on the lengths,
// never on the contents, so it is safe for MACs, tokens and key hashes.
// Thread-safe.
[[nodiscard]] bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

// Overwrites `len` bytes at `p` with zeros in a way the compiler cannot elide.
void SecureWipe(void* p, size_t len);

}  // namespace clover::crypto

#endif  // CLOVER_CRYPTO_CONSTANT_TIME_H_
