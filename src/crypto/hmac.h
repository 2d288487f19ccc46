// HMAC-SHA-256 over OpenSSL EVP_MAC with the key schedule done once per key.
#ifndef CLOVER_CRYPTO_HMAC_H_
#define CLOVER_CRYPTO_HMAC_H_

#include <array>
#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace clover::crypto {

inline constexpr size_t kHmacSha256Size = 32;
using HmacSha256Tag = std::array<uint8_t, kHmacSha256Size>;

// A keyed HMAC-SHA-256. The inner/outer pad states are computed once by
// Create(); each Compute() only re-initialises from them. Not thread-safe: use
// one per thread, or Clone() one per worker (cheap: no key schedule).
class HmacSha256 {
 public:
  // Errors: InvalidArgument for an empty key; Internal on an OpenSSL failure.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<HmacSha256>> Create(
      absl::string_view key);
  ~HmacSha256();
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;

  // HMAC of `data`. Errors: Internal on an OpenSSL failure.
  [[nodiscard]] absl::StatusOr<HmacSha256Tag> Compute(absl::string_view data);
  // HMAC of the concatenation of `a` and `b` (no separator is added).
  [[nodiscard]] absl::StatusOr<HmacSha256Tag> Compute(absl::string_view a,
                                                      absl::string_view b);

  // An independent instance with the same key.
  [[nodiscard]] absl::StatusOr<std::unique_ptr<HmacSha256>> Clone() const;

 private:
  struct State;
  explicit HmacSha256(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// One-shot HMAC-SHA-256 (key schedule per call). Thread-safe.
[[nodiscard]] absl::StatusOr<HmacSha256Tag> HmacSha256Once(
    absl::string_view key, absl::string_view data);

}  // namespace clover::crypto

#endif  // CLOVER_CRYPTO_HMAC_H_
