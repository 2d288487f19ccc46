#include "crypto/aes_block.h"

#include <openssl/evp.h>

#include "crypto/openssl_util.h"

namespace clover::crypto {

using internal::CipherCtxPtr;
using internal::OpenSslError;

struct AesBlockCipher::State {
  CipherCtxPtr enc;
  CipherCtxPtr dec;
};

AesBlockCipher::AesBlockCipher(std::unique_ptr<State> state)
    : state_(std::move(state)) {}
AesBlockCipher::~AesBlockCipher() = default;

absl::StatusOr<std::unique_ptr<AesBlockCipher>> AesBlockCipher::Create(
    absl::string_view key) {
  if (key.size() != 16 && key.size() != 24 && key.size() != 32) {
    return absl::InvalidArgumentError("AES key must be 16, 24 or 32 bytes");
  }
  auto state = std::make_unique<State>();
  state->enc.reset(EVP_CIPHER_CTX_new());
  state->dec.reset(EVP_CIPHER_CTX_new());
  if (state->enc == nullptr || state->dec == nullptr)
    return OpenSslError("EVP_CIPHER_CTX_new");
  const EVP_CIPHER* ecb = internal::AesEcb(key.size());
  if (EVP_EncryptInit_ex(state->enc.get(), ecb, nullptr, internal::U8(key),
                         nullptr) != 1 ||
      EVP_DecryptInit_ex(state->dec.get(), ecb, nullptr, internal::U8(key),
                         nullptr) != 1) {
    return OpenSslError("AES key setup");
  }
  EVP_CIPHER_CTX_set_padding(state->enc.get(), 0);
  EVP_CIPHER_CTX_set_padding(state->dec.get(), 0);
  return std::unique_ptr<AesBlockCipher>(new AesBlockCipher(std::move(state)));
}

absl::Status AesBlockCipher::Encrypt(const uint8_t* in, uint8_t* out,
                                     size_t blocks) {
  int len = 0;
  if (EVP_EncryptUpdate(state_->enc.get(), out, &len, in,
                        static_cast<int>(blocks * kAesBlockSize)) != 1) {
    return OpenSslError("AES encrypt");
  }
  return absl::OkStatus();
}

absl::Status AesBlockCipher::Decrypt(const uint8_t* in, uint8_t* out,
                                     size_t blocks) {
  int len = 0;
  if (EVP_DecryptUpdate(state_->dec.get(), out, &len, in,
                        static_cast<int>(blocks * kAesBlockSize)) != 1) {
    return OpenSslError("AES decrypt");
  }
  return absl::OkStatus();
}

}  // namespace clover::crypto
