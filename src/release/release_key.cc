#include "release/release_key.h"

#include <openssl/evp.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "crypto/aead.h"
#include "crypto/hkdf.h"
#include "crypto/sha256.h"

namespace clover::release {
namespace {

constexpr absl::string_view kLabel = "clover/release/v1";

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, CtxFree>;

absl::Status OpenSslFailure(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, " failed (OpenSSL)"));
}

absl::StatusOr<std::string> PublicOf(EVP_PKEY* key) {
  std::string out(kReleasePublicKeySize, '\0');
  size_t len = out.size();
  if (EVP_PKEY_get_raw_public_key(
          key, reinterpret_cast<unsigned char*>(out.data()), &len) != 1 ||
      len != kReleasePublicKeySize) {
    return OpenSslFailure("X25519 public key");
  }
  return out;
}

// The AEAD key of one sealed value.
absl::StatusOr<std::string> SharedKey(EVP_PKEY* own, EVP_PKEY* peer,
                                      absl::string_view ephemeral_public,
                                      absl::string_view release_public) {
  PkeyCtx ctx(EVP_PKEY_CTX_new(own, nullptr));
  if (ctx == nullptr || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), peer) != 1) {
    return OpenSslFailure("X25519 derive");
  }
  std::string shared(32, '\0');
  size_t len = shared.size();
  if (EVP_PKEY_derive(ctx.get(),
                      reinterpret_cast<unsigned char*>(shared.data()),
                      &len) != 1 ||
      len != 32) {
    return OpenSslFailure("X25519 derive");
  }
  auto key =
      crypto::HkdfSha256(shared, absl::StrCat(ephemeral_public, release_public),
                         kLabel, crypto::kAeadKeySize);
  std::fill(shared.begin(), shared.end(), '\0');
  return key;
}

Pkey RawPublic(absl::string_view raw) {
  return Pkey(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_X25519, nullptr,
      reinterpret_cast<const unsigned char*>(raw.data()), raw.size()));
}

}  // namespace

bool IsReleaseSealed(absl::string_view wrapped) {
  if (wrapped.empty()) return false;
  const size_t n = static_cast<uint8_t>(wrapped[0]);
  return wrapped.size() > n &&
         absl::StartsWith(wrapped.substr(1, n), kReleaseIdPrefix);
}

std::string ReleaseId(absl::string_view public_key, absl::string_view kek_id) {
  crypto::Sha256Hasher h;
  h.Update(absl::StrCat(kLabel, "/id"));
  h.Update(public_key);
  h.Update(kek_id);
  crypto::Sha256Digest d = h.Finish();
  return absl::StrCat(kReleaseIdPrefix,
                      absl::BytesToHexString(absl::string_view(
                          reinterpret_cast<const char*>(d.data()), 8)));
}

absl::StatusOr<std::string> SealToRelease(absl::string_view public_key,
                                          absl::string_view id,
                                          absl::string_view inner) {
  if (public_key.size() != kReleasePublicKeySize) {
    return absl::InvalidArgumentError("release public key must be 32 bytes");
  }
  if (id.empty() || id.size() > 255) {
    return absl::InvalidArgumentError("release id must be 1 to 255 bytes");
  }
  Pkey peer = RawPublic(public_key);
  if (peer == nullptr) return OpenSslFailure("X25519 public key");
  PkeyCtx gen(EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, nullptr));
  EVP_PKEY* raw = nullptr;
  if (gen == nullptr || EVP_PKEY_keygen_init(gen.get()) != 1 ||
      EVP_PKEY_keygen(gen.get(), &raw) != 1) {
    return OpenSslFailure("X25519 keygen");
  }
  Pkey ephemeral(raw);
  CLOVER_ASSIGN_OR_RETURN(std::string eph_public, PublicOf(ephemeral.get()));
  CLOVER_ASSIGN_OR_RETURN(
      std::string key,
      SharedKey(ephemeral.get(), peer.get(), eph_public, public_key));
  std::string out;
  out.push_back(static_cast<char>(id.size()));
  out.append(id.data(), id.size());
  out.append(eph_public);
  std::string sealed;
  absl::Status st =
      crypto::AeadSeal(key, inner, absl::StrCat(kLabel, id), &sealed);
  std::fill(key.begin(), key.end(), '\0');
  CLOVER_RETURN_IF_ERROR(st);
  out.append(sealed);
  return out;
}

absl::StatusOr<std::unique_ptr<ReleaseKey>> ReleaseKey::FromSecret(
    const crypto::SecretKey& secret) {
  std::unique_ptr<ReleaseKey> k(new ReleaseKey());
  k->secret_ = secret;
  Pkey own(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, secret.data(),
                                        secret.size()));
  if (own == nullptr) return OpenSslFailure("X25519 private key");
  CLOVER_ASSIGN_OR_RETURN(k->public_key_, PublicOf(own.get()));
  return k;
}

ReleaseKey::~ReleaseKey() {
  std::fill(secret_.begin(), secret_.end(), uint8_t{0});
}

absl::StatusOr<std::string> ReleaseKey::Open(absl::string_view sealed) const {
  if (!IsReleaseSealed(sealed)) {
    return absl::InvalidArgumentError("not a release-sealed key");
  }
  const size_t n = static_cast<uint8_t>(sealed[0]);
  const absl::string_view id = sealed.substr(1, n);
  absl::string_view rest = sealed.substr(1 + n);
  if (rest.size() < kReleasePublicKeySize + crypto::kAeadOverhead) {
    return absl::InvalidArgumentError("release-sealed key is truncated");
  }
  const absl::string_view eph_public = rest.substr(0, kReleasePublicKeySize);
  Pkey own(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr,
                                        secret_.data(), secret_.size()));
  Pkey peer = RawPublic(eph_public);
  if (own == nullptr || peer == nullptr) {
    return absl::DataLossError("release-sealed key: bad ephemeral key");
  }
  CLOVER_ASSIGN_OR_RETURN(std::string key, SharedKey(own.get(), peer.get(),
                                                     eph_public, public_key_));
  std::string inner;
  absl::Status st = crypto::AeadOpen(key, rest.substr(kReleasePublicKeySize),
                                     absl::StrCat(kLabel, id), &inner);
  std::fill(key.begin(), key.end(), '\0');
  if (!st.ok()) {
    return absl::DataLossError(
        "release-sealed key does not open under this region's release key");
  }
  return inner;
}

}  // namespace clover::release
