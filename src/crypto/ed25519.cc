#include "crypto/ed25519.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <cstring>

#include "absl/strings/string_view.h"

namespace clover::crypto {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

}  // namespace

struct Ed25519PublicKey::Pkey {
  std::unique_ptr<EVP_PKEY, PkeyFree> pkey;
};
struct Ed25519PrivateKey::Pkey {
  std::unique_ptr<EVP_PKEY, PkeyFree> pkey;
};

absl::StatusOr<Ed25519PublicKey> Ed25519PublicKey::FromBytes(
    absl::string_view key) {
  if (key.size() != kEd25519PublicKeySize) {
    return absl::InvalidArgumentError("ed25519 public key must be 32 bytes");
  }
  Ed25519PublicKeyBytes bytes;
  std::memcpy(bytes.data(), key.data(), bytes.size());
  return FromBytes(bytes);
}

absl::StatusOr<Ed25519PublicKey> Ed25519PublicKey::FromBytes(
    const Ed25519PublicKeyBytes& key) {
  auto pkey = std::make_shared<Pkey>();
  pkey->pkey.reset(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                               key.data(), key.size()));
  if (pkey->pkey == nullptr) {
    return absl::InvalidArgumentError("invalid ed25519 public key");
  }
  return Ed25519PublicKey(std::move(pkey), key);
}

bool Ed25519PublicKey::Verify(absl::string_view message,
                              absl::string_view signature) const {
  if (signature.size() != kEd25519SignatureSize) return false;
  // A context per call keeps Verify thread-safe; the EVP_PKEY itself is shared
  // read-only.
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr) return false;
  if (EVP_DigestVerifyInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr,
                              pkey_->pkey.get(), nullptr) != 1) {
    return false;
  }
  return EVP_DigestVerify(
             ctx.get(),
             reinterpret_cast<const unsigned char*>(signature.data()),
             signature.size(),
             reinterpret_cast<const unsigned char*>(message.data()),
             message.size()) == 1;
}

absl::StatusOr<Ed25519PrivateKey> Ed25519PrivateKey::Generate() {
  Ed25519Seed seed;
  if (RAND_bytes(seed.data(), static_cast<int>(seed.size())) != 1) {
    return absl::InternalError("OpenSSL RAND_bytes failed");
  }
  auto key = FromSeed(absl::string_view(
      reinterpret_cast<const char*>(seed.data()), seed.size()));
  OPENSSL_cleanse(seed.data(), seed.size());
  return key;
}

absl::StatusOr<Ed25519PrivateKey> Ed25519PrivateKey::FromSeed(
    absl::string_view seed) {
  if (seed.size() != kEd25519SeedSize) {
    return absl::InvalidArgumentError("ed25519 seed must be 32 bytes");
  }
  auto pkey = std::make_shared<Pkey>();
  pkey->pkey.reset(EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr,
      reinterpret_cast<const unsigned char*>(seed.data()), seed.size()));
  if (pkey->pkey == nullptr)
    return absl::InternalError("OpenSSL could not load ed25519 seed");
  Ed25519PublicKeyBytes pub;
  size_t pub_len = pub.size();
  if (EVP_PKEY_get_raw_public_key(pkey->pkey.get(), pub.data(), &pub_len) !=
          1 ||
      pub_len != pub.size()) {
    return absl::InternalError("OpenSSL could not derive ed25519 public key");
  }
  auto public_key = Ed25519PublicKey::FromBytes(pub);
  if (!public_key.ok()) return public_key.status();
  Ed25519Seed seed_bytes;
  std::memcpy(seed_bytes.data(), seed.data(), seed_bytes.size());
  return Ed25519PrivateKey(std::move(pkey), seed_bytes, *std::move(public_key));
}

Ed25519Signature Ed25519PrivateKey::Sign(absl::string_view message) const {
  Ed25519Signature sig;
  MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t sig_len = sig.size();
  // Ed25519 signing cannot fail for a loaded key except on allocation failure.
  if (ctx == nullptr ||
      EVP_DigestSignInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr,
                            pkey_->pkey.get(), nullptr) != 1 ||
      EVP_DigestSign(ctx.get(), sig.data(), &sig_len,
                     reinterpret_cast<const unsigned char*>(message.data()),
                     message.size()) != 1) {
    std::abort();
  }
  return sig;
}

}  // namespace clover::crypto
