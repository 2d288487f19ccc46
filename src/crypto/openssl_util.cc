#include "crypto/openssl_util.h"

#include <openssl/err.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"

namespace clover::crypto::internal {
namespace {

const EVP_CIPHER* FetchCipher(const char* name) {
  EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, name, nullptr);
  if (cipher == nullptr) std::abort();
  return cipher;
}

EVP_MAC* FetchMac(const char* name) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, name, nullptr);
  if (mac == nullptr) std::abort();
  return mac;
}

}  // namespace

absl::Status OpenSslError(absl::string_view what) {
  unsigned long code = ERR_get_error();
  std::string reason;
  if (code != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    reason = buf;
  }
  ERR_clear_error();
  if (reason.empty())
    return absl::InternalError(
        absl::StrCat("OpenSSL: ", std::string(what), " failed"));
  return absl::InternalError(
      absl::StrCat("OpenSSL: ", std::string(what), " failed: ", reason));
}

const EVP_CIPHER* AesEcb(size_t key_bytes) {
  static const EVP_CIPHER* c128 = FetchCipher("AES-128-ECB");
  static const EVP_CIPHER* c192 = FetchCipher("AES-192-ECB");
  static const EVP_CIPHER* c256 = FetchCipher("AES-256-ECB");
  return key_bytes == 16 ? c128 : key_bytes == 24 ? c192 : c256;
}

const EVP_CIPHER* AesCtr(size_t key_bytes) {
  static const EVP_CIPHER* c128 = FetchCipher("AES-128-CTR");
  static const EVP_CIPHER* c192 = FetchCipher("AES-192-CTR");
  static const EVP_CIPHER* c256 = FetchCipher("AES-256-CTR");
  return key_bytes == 16 ? c128 : key_bytes == 24 ? c192 : c256;
}

const EVP_CIPHER* Aes256Gcm() {
  static const EVP_CIPHER* c = FetchCipher("AES-256-GCM");
  return c;
}

EVP_MAC* HmacMac() {
  static EVP_MAC* mac = FetchMac("HMAC");
  return mac;
}

EVP_MAC* CmacMac() {
  static EVP_MAC* mac = FetchMac("CMAC");
  return mac;
}

}  // namespace clover::crypto::internal
