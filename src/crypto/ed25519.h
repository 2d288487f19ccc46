// Ed25519 (RFC 8032) keys over OpenSSL EVP.
#ifndef CLOVER_CRYPTO_ED25519_H_
#define CLOVER_CRYPTO_ED25519_H_

#include <array>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace clover::crypto {

inline constexpr size_t kEd25519SeedSize = 32;
inline constexpr size_t kEd25519PublicKeySize = 32;
inline constexpr size_t kEd25519SignatureSize = 64;

using Ed25519Seed = std::array<uint8_t, kEd25519SeedSize>;
using Ed25519PublicKeyBytes = std::array<uint8_t, kEd25519PublicKeySize>;
using Ed25519Signature = std::array<uint8_t, kEd25519SignatureSize>;

// A verification key. Immutable; Verify is thread-safe.
class Ed25519PublicKey {
 public:
  // Errors: InvalidArgument if `key` is not 32 bytes or not a valid point
  // encoding.
  [[nodiscard]] static absl::StatusOr<Ed25519PublicKey> FromBytes(
      absl::string_view key);
  [[nodiscard]] static absl::StatusOr<Ed25519PublicKey> FromBytes(
      const Ed25519PublicKeyBytes& key);

  // True iff `signature` is a valid signature of `message` under this key.
  [[nodiscard]] bool Verify(absl::string_view message,
                            absl::string_view signature) const;

  [[nodiscard]] const Ed25519PublicKeyBytes& bytes() const { return bytes_; }

 private:
  struct Pkey;
  Ed25519PublicKey(std::shared_ptr<const Pkey> pkey,
                   const Ed25519PublicKeyBytes& bytes)
      : pkey_(std::move(pkey)), bytes_(bytes) {}
  std::shared_ptr<const Pkey> pkey_;
  Ed25519PublicKeyBytes bytes_;
};

// A signing key. Immutable; Sign is thread-safe. The seed never leaves the
// object except through seed(), which key-file writers use.
class Ed25519PrivateKey {
 public:
  // A fresh key from the OpenSSL CSPRNG. Errors: Internal if OpenSSL fails.
  [[nodiscard]] static absl::StatusOr<Ed25519PrivateKey> Generate();
  // The key whose RFC 8032 seed is `seed` (32 bytes). Errors: InvalidArgument
  // on bad size.
  [[nodiscard]] static absl::StatusOr<Ed25519PrivateKey> FromSeed(
      absl::string_view seed);

  [[nodiscard]] Ed25519Signature Sign(absl::string_view message) const;

  [[nodiscard]] const Ed25519PublicKey& public_key() const {
    return public_key_;
  }
  [[nodiscard]] const Ed25519Seed& seed() const { return seed_; }

 private:
  struct Pkey;
  Ed25519PrivateKey(std::shared_ptr<const Pkey> pkey, const Ed25519Seed& seed,
                    Ed25519PublicKey public_key)
      : pkey_(std::move(pkey)),
        seed_(seed),
        public_key_(std::move(public_key)) {}
  std::shared_ptr<const Pkey> pkey_;
  Ed25519Seed seed_;
  Ed25519PublicKey public_key_;
};

}  // namespace clover::crypto

#endif  // CLOVER_CRYPTO_ED25519_H_
