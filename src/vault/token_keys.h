// Pseudonymisation keys. From the region's pseudonym root key, HKDF derives
// independent keys per (destination, purpose), so tokens handed to different
// destinations or purposes cannot be joined. `siv` tokens additionally use a
// key derived from the subject's data key, so crypto-shredding the data key
// makes them undecryptable.
//
// Token formats:
//   hmac  "tok_" + base64url(HMAC-SHA-256(K_hmac(d,p), value)[0:16]) (one-way)
//   siv   "stk_" + base64url(AES-256(K_loc(d,p), handle) ||
//                            AES-256-SIV(K_siv(data key, d, p), value,
//                                        ad = field name))
//                            (reversible)
// where `handle` is a random 128-bit per-subject value that the vault's token
// index maps back to the subject; erasure deletes that mapping and the data
// key. The field name is the SIV's associated data, so a token opens only as
// the field it was issued for: a `name` token presented as another field does
// not verify. (Tokens made before the field was bound, without associated
// data, verify as no field and cannot be reversed.)
#ifndef CLOVER_VAULT_TOKEN_KEYS_H_
#define CLOVER_VAULT_TOKEN_KEYS_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "crypto/aes_block.h"
#include "crypto/ff1.h"
#include "crypto/hmac.h"
#include "crypto/secret_key_file.h"
#include "crypto/siv.h"
#include "vault/clock_cache.h"
#include "vault/object_pool.h"

namespace clover::vault {

inline constexpr size_t kHandleSize = 16;
using TokenHandle = std::array<uint8_t, kHandleSize>;
inline constexpr absl::string_view kHmacTokenPrefix = "tok_";
inline constexpr absl::string_view kSivTokenPrefix = "stk_";

class SubjectTokenKeys;

// Keys of one (destination, purpose). Immutable after Derive; thread-safe (each
// operation leases a keyed context from a pool).
class TokenKeys {
 public:
  // Errors: Internal on an OpenSSL failure.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<TokenKeys>> Derive(
      const crypto::SecretKey& root, absl::string_view destination,
      absl::string_view purpose);

  const std::string& destination() const { return destination_; }
  const std::string& purpose() const { return purpose_; }

  // "tok_" + 22 base64url characters. Deterministic per (root, destination,
  // purpose, value).
  [[nodiscard]] absl::StatusOr<std::string> HmacToken(
      absl::string_view value) const;
  // Raw keyed PRF output, for format-preserving fallbacks.
  [[nodiscard]] absl::StatusOr<crypto::HmacSha256Tag> Prf(
      absl::string_view label, absl::string_view value) const;

  // FF1 over decimal digits with `tweak`. Errors: those of crypto::Ff1.
  [[nodiscard]] absl::StatusOr<std::string> Ff1Digits(absl::string_view digits,
                                                      absl::string_view tweak,
                                                      bool encrypt) const;

  // Encrypts / decrypts a subject's handle into / from the 16-byte token
  // locator.
  [[nodiscard]] absl::StatusOr<TokenHandle> Locator(
      const TokenHandle& handle) const;
  [[nodiscard]] absl::StatusOr<TokenHandle> HandleOfLocator(
      const TokenHandle& locator) const;

  // The siv keys of one subject under this (destination, purpose).
  [[nodiscard]] absl::StatusOr<std::unique_ptr<SubjectTokenKeys>> ForSubject(
      const crypto::SecretKey& data_key, const TokenHandle& handle) const;

 private:
  TokenKeys(std::string destination, std::string purpose, std::string hmac_key,
            std::string ff1_key, std::string locator_key);
  std::string destination_, purpose_;
  mutable ObjectPool<crypto::HmacSha256> hmac_;
  mutable ObjectPool<crypto::Ff1> ff1_;
  mutable ObjectPool<crypto::AesBlockCipher> locator_;
};

// One subject's siv keys for one (destination, purpose). Thread-safe.
class SubjectTokenKeys {
 public:
  // The token of `value` of field `field` (bound to it as associated data).
  // Errors: Internal on an OpenSSL failure.
  [[nodiscard]] absl::StatusOr<std::string> SivToken(
      absl::string_view field, absl::string_view value) const;
  // Decrypts the SIV part of a token issued for `field`. Errors: DataLoss if
  // it does not authenticate (another key, another field, or altered).
  [[nodiscard]] absl::StatusOr<std::string> OpenSiv(
      absl::string_view field, absl::string_view sealed) const;

 private:
  friend class TokenKeys;
  SubjectTokenKeys(const TokenHandle& locator, std::string siv_key);
  TokenHandle locator_;
  mutable ObjectPool<crypto::AesSiv> siv_;
};

// InvalidArgument with a marker payload: a siv token presented as a field
// other than the one it was issued for (the gateway answers 400
// field_mismatch and reveals nothing).
[[nodiscard]] absl::Status FieldMismatchError();
[[nodiscard]] bool IsFieldMismatch(const absl::Status& status);

// A parsed siv token.
struct SivTokenParts {
  TokenHandle locator;
  std::string sealed;  // SIV output: V || C
};
// Errors: InvalidArgument if `token` is not a well-formed siv token.
[[nodiscard]] absl::StatusOr<SivTokenParts> ParseSivToken(
    absl::string_view token);

// Caches TokenKeys per (destination, purpose), at most `capacity` of them
// (least recently used go first; an evicted pair is derived again on its next
// use, with the same keys). Thread-safe.
class TokenKeyRing {
 public:
  static constexpr size_t kDefaultCapacity = 1024;
  explicit TokenKeyRing(const crypto::SecretKey& root,
                        size_t capacity = kDefaultCapacity);
  ~TokenKeyRing();
  TokenKeyRing(const TokenKeyRing&) = delete;
  TokenKeyRing& operator=(const TokenKeyRing&) = delete;

  // Errors: InvalidArgument for an empty destination or purpose; Internal from
  // OpenSSL.
  [[nodiscard]] absl::StatusOr<std::shared_ptr<const TokenKeys>> Get(
      absl::string_view destination, absl::string_view purpose);

  // Pairs cached now (at most the capacity).
  size_t CachedCount() const { return keys_.Size(); }

 private:
  crypto::SecretKey root_;
  ClockCache<std::shared_ptr<const TokenKeys>> keys_;
};

}  // namespace clover::vault

#endif  // CLOVER_VAULT_TOKEN_KEYS_H_
