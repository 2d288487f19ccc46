// Raw AES on single 16-byte blocks (ECB over one block) with the key schedule
// done once. Only for constructions that need a pseudorandom permutation on one
// block, such as encrypting a random 128-bit handle; never for messages.
#ifndef CLOVER_CRYPTO_AES_BLOCK_H_
#define CLOVER_CRYPTO_AES_BLOCK_H_

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace clover::crypto {

inline constexpr size_t kAesBlockSize = 16;

// Not thread-safe.
class AesBlockCipher {
 public:
  // Errors: InvalidArgument unless `key` is 16, 24 or 32 bytes; Internal on
  // OpenSSL failure.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<AesBlockCipher>> Create(
      absl::string_view key);
  ~AesBlockCipher();
  AesBlockCipher(const AesBlockCipher&) = delete;
  AesBlockCipher& operator=(const AesBlockCipher&) = delete;

  // Encrypts/decrypts `blocks` consecutive 16-byte blocks independently (ECB);
  // `in` and `out` may alias. Errors: Internal on an OpenSSL failure.
  [[nodiscard]] absl::Status Encrypt(const uint8_t* in, uint8_t* out,
                                     size_t blocks = 1);
  [[nodiscard]] absl::Status Decrypt(const uint8_t* in, uint8_t* out,
                                     size_t blocks = 1);

 private:
  struct State;
  explicit AesBlockCipher(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace clover::crypto

#endif  // CLOVER_CRYPTO_AES_BLOCK_H_
