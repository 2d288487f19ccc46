// Pseudonymisation keys. From the region's pseudonym root key, HKDF derives
// independent keys per (destination, purpose), so tokens handed to different
// destinations or purposes cannot be joined. `siv` tokens additionally use a
// key derived from the subject's data key, so crypto-shredding the data key
// makes them undecryptable.
//
// Root versions (vault/pseudonym_ring.h): version 1 is the key file
// (keys.pseudonym_key_file) and its tokens keep the formats below unchanged;
// a token made under version N >= 2 carries "v<N>." right after its prefix
// ("tok_v2.…", "stk_v2.…"; '.' is outside base64url, so no version-1 token
// can look tagged), and every key of it (K_hmac, K_ff1, K_loc and the siv
// mix) is derived from that version's root, with the version in the HKDF
// info. A version >= 2 siv key also mixes in a root-derived secret, so the
// whole token changes with the version, not only its locator.
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
#include <atomic>
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
// Root version of the key file; tokens of it carry no version tag.
inline constexpr uint32_t kFileRootVersion = 1;
// Highest root version a token may name.
inline constexpr uint32_t kMaxRootVersion = 999'999;

class SubjectTokenKeys;

// Keys of one (destination, purpose). Immutable after Derive; thread-safe (each
// operation leases a keyed context from a pool).
class TokenKeys {
 public:
  // Keys under root `version` (>= 1) of the pseudonym root key. Errors:
  // Internal on an OpenSSL failure; InvalidArgument for version 0.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<TokenKeys>> Derive(
      const crypto::SecretKey& root, absl::string_view destination,
      absl::string_view purpose, uint32_t version = kFileRootVersion);

  const std::string& destination() const { return destination_; }
  const std::string& purpose() const { return purpose_; }
  uint32_t version() const { return version_; }

  // "tok_" (+ "v<N>." for version N >= 2) + 22 base64url characters.
  // Deterministic per (root, destination, purpose, value).
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
  TokenKeys(std::string destination, std::string purpose, uint32_t version,
            std::string hmac_key, std::string ff1_key, std::string locator_key,
            std::string siv_mix);
  std::string destination_, purpose_;
  uint32_t version_;
  std::string siv_mix_;  // empty for version 1
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
  SubjectTokenKeys(const TokenHandle& locator, std::string siv_key,
                   uint32_t version);
  TokenHandle locator_;
  uint32_t version_;
  mutable ObjectPool<crypto::AesSiv> siv_;
};

// InvalidArgument with a marker payload: a siv token presented as a field
// other than the one it was issued for (the gateway answers 400
// field_mismatch and reveals nothing).
[[nodiscard]] absl::Status FieldMismatchError();
[[nodiscard]] bool IsFieldMismatch(const absl::Status& status);

// A parsed siv token.
struct SivTokenParts {
  uint32_t version = kFileRootVersion;  // root version it names
  TokenHandle locator;
  std::string sealed;  // SIV output: V || C
};
// Errors: InvalidArgument if `token` is not a well-formed siv token.
[[nodiscard]] absl::StatusOr<SivTokenParts> ParseSivToken(
    absl::string_view token);

// The root version a token's tag names after its "tok_" / "stk_" prefix
// (kFileRootVersion when untagged), and the rest of the token in `*body`.
// Errors: InvalidArgument for a malformed tag.
[[nodiscard]] absl::StatusOr<uint32_t> TokenRootVersion(
    absl::string_view after_prefix, absl::string_view* body);

// Caches TokenKeys per (root version, destination, purpose), at most
// `capacity` of them (least recently used go first; an evicted pair is
// derived again on its next use, with the same keys). Holds the root key of
// each version it was given; which versions may still be used is the
// PseudonymRing's decision (vault/pseudonym_ring.h), not this cache's.
// Thread-safe.
class TokenKeyRing {
 public:
  static constexpr size_t kDefaultCapacity = 1024;
  // `root` is version 1 (the key file), current until SetCurrent.
  explicit TokenKeyRing(const crypto::SecretKey& root,
                        size_t capacity = kDefaultCapacity);
  ~TokenKeyRing();
  TokenKeyRing(const TokenKeyRing&) = delete;
  TokenKeyRing& operator=(const TokenKeyRing&) = delete;

  // Keys of the current version. Errors: InvalidArgument for an empty
  // destination or purpose; Internal from OpenSSL.
  [[nodiscard]] absl::StatusOr<std::shared_ptr<const TokenKeys>> Get(
      absl::string_view destination, absl::string_view purpose);
  // Keys of `version`. Errors: as Get; NotFound if this ring holds no root of
  // that version.
  [[nodiscard]] absl::StatusOr<std::shared_ptr<const TokenKeys>> GetVersion(
      uint32_t version, absl::string_view destination,
      absl::string_view purpose);

  // Adds the root of `version` (>= 2; a version already held is kept).
  void AddRoot(uint32_t version, const crypto::SecretKey& root);
  // Makes `version` (held) the one Get uses. Errors: NotFound if not held.
  [[nodiscard]] absl::Status SetCurrent(uint32_t version);
  uint32_t current() const;
  // Whether the root of `version` is held.
  bool Holds(uint32_t version) const;
  // Wipes and drops the root of `version` (>= 2) and every cached key (rare:
  // a retirement).
  void Forget(uint32_t version);

  // Pairs cached now (at most the capacity).
  size_t CachedCount() const { return keys_.Size(); }

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint32_t, crypto::SecretKey> roots_ ABSL_GUARDED_BY(mu_);
  // Read on every token request: lock-free.
  std::atomic<uint32_t> current_{kFileRootVersion};
  ClockCache<std::shared_ptr<const TokenKeys>> keys_;
};

}  // namespace clover::vault

#endif  // CLOVER_VAULT_TOKEN_KEYS_H_
