// HKDF-SHA-256 (RFC 5869) over OpenSSL's EVP_KDF.
#ifndef CLOVER_CRYPTO_HKDF_H_
#define CLOVER_CRYPTO_HKDF_H_

#include <cstddef>
#include <initializer_list>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace clover::crypto {

// Extract-then-expand: `length` bytes of output keying material. An empty
// `salt` means HashLen zero bytes, as RFC 5869 specifies. Errors:
// InvalidArgument if `length` is 0 or above 255 * 32; Internal on an OpenSSL
// failure. Thread-safe.
[[nodiscard]] absl::StatusOr<std::string> HkdfSha256(absl::string_view ikm,
                                                     absl::string_view salt,
                                                     absl::string_view info,
                                                     size_t length);

// Builds an unambiguous HKDF `info` from labelled parts: each part is prefixed
// with its length (4 bytes, big-endian), so ("a|b", "c") and ("a", "b|c") never
// collide.
[[nodiscard]] std::string HkdfInfo(
    std::initializer_list<absl::string_view> parts);

}  // namespace clover::crypto

#endif  // CLOVER_CRYPTO_HKDF_H_
