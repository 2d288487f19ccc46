// Internal helpers shared by the OpenSSL wrappers: error conversion and owning
// handles. Not part of the public crypto API.
#ifndef CLOVER_CRYPTO_OPENSSL_UTIL_H_
#define CLOVER_CRYPTO_OPENSSL_UTIL_H_

#include <openssl/evp.h>

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace clover::crypto::internal {

// Internal error naming `what` plus OpenSSL's queued reason (never key
// material); clears the OpenSSL error queue so later calls start clean.
absl::Status OpenSslError(absl::string_view what);

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
struct MacCtxDeleter {
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter>;

// Ciphers and MACs fetched once per process: explicit fetches avoid the
// implicit provider lookup OpenSSL 3 does on every EVP_*Init with a legacy
// EVP_aes_*() handle. Abort on a broken OpenSSL installation (nothing in Clover
// can work without them).
const EVP_CIPHER* AesEcb(size_t key_bytes);  // 16, 24 or 32
const EVP_CIPHER* AesCtr(size_t key_bytes);
const EVP_CIPHER* Aes256Gcm();
EVP_MAC* HmacMac();
EVP_MAC* CmacMac();

inline const unsigned char* U8(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace clover::crypto::internal

#endif  // CLOVER_CRYPTO_OPENSSL_UTIL_H_
