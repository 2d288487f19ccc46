// Cryptographically secure randomness (OpenSSL's DRBG, RAND_bytes).
// Thread-safe.
#ifndef CLOVER_CRYPTO_RANDOM_H_
#define CLOVER_CRYPTO_RANDOM_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace clover::crypto {

// Fills `out[0, len)` with CSPRNG output. Errors: Internal if the DRBG fails.
[[nodiscard]] absl::Status RandomBytes(uint8_t* out, size_t len);

// `len` random bytes as a string. Errors: Internal if the DRBG fails.
[[nodiscard]] absl::StatusOr<std::string> RandomString(size_t len);

}  // namespace clover::crypto

#endif  // CLOVER_CRYPTO_RANDOM_H_
