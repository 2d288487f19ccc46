// SHA-256 over OpenSSL EVP: a one-shot function and a reusable incremental
// hasher.
#ifndef CLOVER_CRYPTO_SHA256_H_
#define CLOVER_CRYPTO_SHA256_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/strings/string_view.h"

namespace clover::crypto {

inline constexpr size_t kSha256Size = 32;
using Sha256Digest = std::array<uint8_t, kSha256Size>;

// SHA-256 of `data`. Thread-safe.
[[nodiscard]] Sha256Digest Sha256(absl::string_view data);
[[nodiscard]] Sha256Digest Sha256(const uint8_t* data, size_t len);

// Incremental hasher that keeps one OpenSSL context for its whole life, so
// hashing many short messages costs no allocation. Not thread-safe: use one per
// thread.
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  // Starts a new message (also done by the constructor and by Finish()).
  void Reset();
  void Update(absl::string_view data);
  void Update(const uint8_t* data, size_t len);
  void Update(uint8_t byte) { Update(&byte, 1); }
  // Returns the digest of everything passed since the last Reset and resets.
  [[nodiscard]] Sha256Digest Finish();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

}  // namespace clover::crypto

#endif  // CLOVER_CRYPTO_SHA256_H_
