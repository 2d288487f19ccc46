#include "crypto/aead.h"

#include <openssl/evp.h>

#include <climits>

#include "crypto/openssl_util.h"
#include "crypto/random.h"

namespace clover::crypto {
namespace {

using internal::CipherCtxPtr;
using internal::OpenSslError;
using internal::U8;

absl::Status CheckKey(absl::string_view key) {
  if (key.size() != kAeadKeySize) {
    return absl::InvalidArgumentError("AES-256-GCM key must be 32 bytes");
  }
  return absl::OkStatus();
}

// `key` may be null: then the context keeps the key it was initialised with.
absl::Status SealWith(EVP_CIPHER_CTX* ctx, const unsigned char* key,
                      absl::string_view plaintext, absl::string_view aad,
                      std::string* out) {
  if (plaintext.size() > static_cast<size_t>(INT_MAX) - 64 ||
      aad.size() > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError("AEAD input too large");
  }
  size_t base = out->size();
  out->resize(base + kAeadOverhead + plaintext.size());
  auto* p = reinterpret_cast<unsigned char*>(out->data()) + base;
  absl::Status s = RandomBytes(p, kAeadNonceSize);
  if (!s.ok()) return s;
  int len = 0;
  // The context already holds the cipher: naming it again would make OpenSSL
  // free and rebuild the provider's cipher state on every call.
  if (EVP_EncryptInit_ex(ctx, nullptr, nullptr, key, p) != 1) {
    return OpenSslError("GCM init");
  }
  if (!aad.empty() && EVP_EncryptUpdate(ctx, nullptr, &len, U8(aad),
                                        static_cast<int>(aad.size())) != 1) {
    return OpenSslError("GCM aad");
  }
  unsigned char* c = p + kAeadNonceSize;
  if (!plaintext.empty() &&
      EVP_EncryptUpdate(ctx, c, &len, U8(plaintext),
                        static_cast<int>(plaintext.size())) != 1) {
    return OpenSslError("GCM encrypt");
  }
  if (EVP_EncryptFinal_ex(ctx, c + plaintext.size(), &len) != 1)
    return OpenSslError("GCM final");
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kAeadTagSize,
                          c + plaintext.size()) != 1) {
    return OpenSslError("GCM tag");
  }
  return absl::OkStatus();
}

absl::Status OpenWith(EVP_CIPHER_CTX* ctx, const unsigned char* key,
                      absl::string_view sealed, absl::string_view aad,
                      std::string* out) {
  if (sealed.size() < kAeadOverhead ||
      sealed.size() > static_cast<size_t>(INT_MAX) ||
      aad.size() > static_cast<size_t>(INT_MAX)) {
    return absl::DataLossError("authentication failed");
  }
  const unsigned char* p = U8(sealed);
  size_t ct_len = sealed.size() - kAeadOverhead;
  int len = 0;
  if (EVP_DecryptInit_ex(ctx, nullptr, nullptr, key, p) != 1) {
    return OpenSslError("GCM init");
  }
  if (!aad.empty() && EVP_DecryptUpdate(ctx, nullptr, &len, U8(aad),
                                        static_cast<int>(aad.size())) != 1) {
    return OpenSslError("GCM aad");
  }
  out->resize(ct_len);
  auto* o = reinterpret_cast<unsigned char*>(out->data());
  if (ct_len > 0 && EVP_DecryptUpdate(ctx, o, &len, p + kAeadNonceSize,
                                      static_cast<int>(ct_len)) != 1) {
    return OpenSslError("GCM decrypt");
  }
  if (EVP_CIPHER_CTX_ctrl(
          ctx, EVP_CTRL_GCM_SET_TAG, kAeadTagSize,
          const_cast<unsigned char*>(p + kAeadNonceSize + ct_len)) != 1) {
    return OpenSslError("GCM tag");
  }
  if (EVP_DecryptFinal_ex(ctx, o + ct_len, &len) != 1) {
    internal::OpenSslError("GCM verify")
        .IgnoreError();  // clears the error queue
    out->assign(out->size(), '\0');
    out->clear();
    return absl::DataLossError("authentication failed");
  }
  return absl::OkStatus();
}

// A context with the cipher set up once and no key; null if OpenSSL fails.
CipherCtxPtr NewGcmContext(bool encrypt) {
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (ctx == nullptr ||
      EVP_CipherInit_ex(ctx.get(), internal::Aes256Gcm(), nullptr, nullptr,
                        nullptr, encrypt ? 1 : 0) != 1) {
    return nullptr;
  }
  return ctx;
}

// Per-thread contexts for the one-shot functions: each call only sets its key
// and nonce.
EVP_CIPHER_CTX* ThreadContext(bool encrypt) {
  thread_local CipherCtxPtr enc = NewGcmContext(true);
  thread_local CipherCtxPtr dec = NewGcmContext(false);
  return encrypt ? enc.get() : dec.get();
}

}  // namespace

struct Aes256Gcm::State {
  CipherCtxPtr enc;
  CipherCtxPtr dec;
};

Aes256Gcm::Aes256Gcm(std::unique_ptr<State> state) : state_(std::move(state)) {}
Aes256Gcm::~Aes256Gcm() = default;

absl::StatusOr<std::unique_ptr<Aes256Gcm>> Aes256Gcm::Create(
    absl::string_view key) {
  absl::Status s = CheckKey(key);
  if (!s.ok()) return s;
  auto state = std::make_unique<State>();
  state->enc.reset(EVP_CIPHER_CTX_new());
  state->dec.reset(EVP_CIPHER_CTX_new());
  if (state->enc == nullptr || state->dec == nullptr)
    return OpenSslError("EVP_CIPHER_CTX_new");
  if (EVP_EncryptInit_ex(state->enc.get(), internal::Aes256Gcm(), nullptr,
                         U8(key), nullptr) != 1 ||
      EVP_DecryptInit_ex(state->dec.get(), internal::Aes256Gcm(), nullptr,
                         U8(key), nullptr) != 1) {
    return OpenSslError("GCM key setup");
  }
  return std::unique_ptr<Aes256Gcm>(new Aes256Gcm(std::move(state)));
}

absl::Status Aes256Gcm::Seal(absl::string_view plaintext, absl::string_view aad,
                             std::string* out) {
  return SealWith(state_->enc.get(), nullptr, plaintext, aad, out);
}

absl::Status Aes256Gcm::Open(absl::string_view sealed, absl::string_view aad,
                             std::string* out) {
  return OpenWith(state_->dec.get(), nullptr, sealed, aad, out);
}

absl::Status AeadSeal(absl::string_view key, absl::string_view plaintext,
                      absl::string_view aad, std::string* out) {
  absl::Status s = CheckKey(key);
  if (!s.ok()) return s;
  EVP_CIPHER_CTX* ctx = ThreadContext(true);
  if (ctx == nullptr) return OpenSslError("EVP_CIPHER_CTX_new");
  return SealWith(ctx, U8(key), plaintext, aad, out);
}

absl::Status AeadOpen(absl::string_view key, absl::string_view sealed,
                      absl::string_view aad, std::string* out) {
  absl::Status s = CheckKey(key);
  if (!s.ok()) return s;
  EVP_CIPHER_CTX* ctx = ThreadContext(false);
  if (ctx == nullptr) return OpenSslError("EVP_CIPHER_CTX_new");
  return OpenWith(ctx, U8(key), sealed, aad, out);
}

}  // namespace clover::crypto
