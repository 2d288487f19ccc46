// AES-256-GCM authenticated encryption over OpenSSL EVP, with random 96-bit
// nonces. Sealed format: nonce (12) || ciphertext || tag (16).
#ifndef CLOVER_CRYPTO_AEAD_H_
#define CLOVER_CRYPTO_AEAD_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace clover::crypto {

inline constexpr size_t kAeadKeySize = 32;
inline constexpr size_t kAeadNonceSize = 12;
inline constexpr size_t kAeadTagSize = 16;
inline constexpr size_t kAeadOverhead = kAeadNonceSize + kAeadTagSize;

// A keyed AES-256-GCM: the key schedule and GHASH tables are set up once; each
// operation only loads a nonce. Random nonces are safe for up to 2^32 messages
// per key, far above what one subject's data key or a KEK sees between
// rotations. Not thread-safe.
class Aes256Gcm {
 public:
  // Errors: InvalidArgument if `key` is not 32 bytes; Internal on an OpenSSL
  // failure.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Aes256Gcm>> Create(
      absl::string_view key);
  ~Aes256Gcm();
  Aes256Gcm(const Aes256Gcm&) = delete;
  Aes256Gcm& operator=(const Aes256Gcm&) = delete;

  // Appends nonce || ciphertext || tag of `plaintext` bound to `aad` to `out`.
  // Errors: Internal (CSPRNG or OpenSSL failure).
  [[nodiscard]] absl::Status Seal(absl::string_view plaintext,
                                  absl::string_view aad, std::string* out);
  // Replaces `*out` with the plaintext. Errors: DataLoss if `sealed` is too
  // short, was altered, or `aad` differs ("authentication failed": no detail
  // that helps forgery).
  [[nodiscard]] absl::Status Open(absl::string_view sealed,
                                  absl::string_view aad, std::string* out);

 private:
  struct State;
  explicit Aes256Gcm(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// One-shot forms keyed per call through a per-thread context (one key schedule
// per call, no allocation). Thread-safe. Same formats and errors as the class.
[[nodiscard]] absl::Status AeadSeal(absl::string_view key,
                                    absl::string_view plaintext,
                                    absl::string_view aad, std::string* out);
[[nodiscard]] absl::Status AeadOpen(absl::string_view key,
                                    absl::string_view sealed,
                                    absl::string_view aad, std::string* out);

}  // namespace clover::crypto

#endif  // CLOVER_CRYPTO_AEAD_H_
