// The release layer of a wrapped data key (docs/vault.md, "External key
// release"): the KEK's output sealed to the region's release key, an X25519
// key pair whose private half only the partner's key-release service holds.
// A node seals with the public key alone (writes need no service); opening
// needs the private key, so every unwrap of a data key the vault has not
// cached goes through the service, which returns the KEK output (never the
// data key: that still needs the node's KEK).
//
// Sealed format: u8 id length || id ("release:" + 16 hex) || ephemeral X25519
// public key (32) || nonce (12) || AES-256-GCM(KEK output) || tag (16). The
// AEAD key is HKDF-SHA-256(X25519(ephemeral, release), salt = ephemeral
// public || release public, info "clover/release/v1"); the AAD is
// "clover/release/v1" || id.
//
// Thread-safety: ReleaseKey is immutable; the functions are pure.
#ifndef CLOVER_RELEASE_RELEASE_KEY_H_
#define CLOVER_RELEASE_RELEASE_KEY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/secret_key_file.h"

namespace clover::release {

inline constexpr absl::string_view kReleaseIdPrefix = "release:";
inline constexpr size_t kReleasePublicKeySize = 32;

// Whether `wrapped` starts with a release id.
[[nodiscard]] bool IsReleaseSealed(absl::string_view wrapped);

// The id a node stores with keys sealed to `public_key` over a KEK whose id is
// `kek_id`: it changes when either does, so KEK rotation and a new release
// key both show as "not current" to Vault::RewrapKeys.
[[nodiscard]] std::string ReleaseId(absl::string_view public_key,
                                    absl::string_view kek_id);

// Seals `inner` to `public_key` (32 raw bytes) under `id`. Errors:
// InvalidArgument for a bad key or id; Internal on an OpenSSL failure.
[[nodiscard]] absl::StatusOr<std::string> SealToRelease(
    absl::string_view public_key, absl::string_view id,
    absl::string_view inner);

// The private half, held by the service (a CLOVER-SECRET-V1 file's 32 bytes
// are the X25519 private key).
class ReleaseKey {
 public:
  // Errors: Internal on an OpenSSL failure.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ReleaseKey>> FromSecret(
      const crypto::SecretKey& secret);
  ~ReleaseKey();

  // 32 raw bytes.
  const std::string& public_key() const { return public_key_; }

  // Opens a value SealToRelease made for this key. Errors: InvalidArgument if
  // it is malformed (not a release-sealed key); DataLoss if it was sealed to
  // another key or altered.
  [[nodiscard]] absl::StatusOr<std::string> Open(
      absl::string_view sealed) const;

 private:
  ReleaseKey() = default;
  crypto::SecretKey secret_{};
  std::string public_key_;
};

}  // namespace clover::release

#endif  // CLOVER_RELEASE_RELEASE_KEY_H_
