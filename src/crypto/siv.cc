#include "crypto/siv.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <climits>
#include <cstring>

#include "crypto/constant_time.h"
#include "crypto/openssl_util.h"

namespace clover::crypto {

using internal::CipherCtxPtr;
using internal::MacCtxPtr;
using internal::OpenSslError;
using internal::U8;

namespace {

// Doubling in GF(2^128) with the RFC 5297 polynomial, big-endian.
void Dbl(unsigned char b[16]) {
  unsigned char carry = b[0] >> 7;
  for (int i = 0; i < 15; ++i)
    b[i] = static_cast<unsigned char>((b[i] << 1) | (b[i + 1] >> 7));
  b[15] = static_cast<unsigned char>((b[15] << 1) ^ (carry ? 0x87 : 0));
}

void Xor(unsigned char* a, const unsigned char* b, size_t n) {
  for (size_t i = 0; i < n; ++i) a[i] ^= b[i];
}

const char* CbcName(size_t half) {
  return half == 16   ? "AES-128-CBC"
         : half == 24 ? "AES-192-CBC"
                      : "AES-256-CBC";
}

}  // namespace

struct AesSiv::State {
  MacCtxPtr cmac;
  CipherCtxPtr ctr;
  unsigned char d0[16];  // CMAC(K1, <zero>), the S2V starting value
};

AesSiv::AesSiv(std::unique_ptr<State> state) : state_(std::move(state)) {}
AesSiv::~AesSiv() {
  if (state_ != nullptr) SecureWipe(state_->d0, sizeof(state_->d0));
}

absl::StatusOr<std::unique_ptr<AesSiv>> AesSiv::Create(absl::string_view key) {
  if (key.size() != 32 && key.size() != 48 && key.size() != 64) {
    return absl::InvalidArgumentError("AES-SIV key must be 32, 48 or 64 bytes");
  }
  size_t half = key.size() / 2;
  auto state = std::make_unique<State>();
  state->cmac.reset(EVP_MAC_CTX_new(internal::CmacMac()));
  state->ctr.reset(EVP_CIPHER_CTX_new());
  if (state->cmac == nullptr || state->ctr == nullptr)
    return OpenSslError("SIV allocation");
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER,
                                       const_cast<char*>(CbcName(half)), 0),
      OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(state->cmac.get(), U8(key), half, params) != 1) {
    return OpenSslError("CMAC key setup");
  }
  if (EVP_EncryptInit_ex(state->ctr.get(), internal::AesCtr(half), nullptr,
                         U8(key) + half, nullptr) != 1) {
    return OpenSslError("CTR key setup");
  }
  static const unsigned char kZero[16] = {0};
  size_t len = 0;
  if (EVP_MAC_update(state->cmac.get(), kZero, sizeof(kZero)) != 1 ||
      EVP_MAC_final(state->cmac.get(), state->d0, &len, sizeof(state->d0)) !=
          1 ||
      len != 16) {
    return OpenSslError("CMAC");
  }
  return std::unique_ptr<AesSiv>(new AesSiv(std::move(state)));
}

absl::StatusOr<std::unique_ptr<AesSiv>> AesSiv::Clone() const {
  auto state = std::make_unique<State>();
  state->cmac.reset(EVP_MAC_CTX_dup(state_->cmac.get()));
  state->ctr.reset(EVP_CIPHER_CTX_new());
  if (state->cmac == nullptr || state->ctr == nullptr ||
      EVP_CIPHER_CTX_copy(state->ctr.get(), state_->ctr.get()) != 1) {
    return OpenSslError("SIV clone");
  }
  std::memcpy(state->d0, state_->d0, sizeof(state->d0));
  return std::unique_ptr<AesSiv>(new AesSiv(std::move(state)));
}

absl::Status AesSiv::S2V(std::initializer_list<absl::string_view> ad,
                         absl::string_view plaintext, unsigned char v[16]) {
  EVP_MAC_CTX* cmac = state_->cmac.get();
  unsigned char d[16];
  std::memcpy(d, state_->d0, 16);
  unsigned char mac[16];
  size_t len = 0;
  for (absl::string_view s : ad) {
    // A null key re-initialises CMAC with its stored key schedule.
    if (EVP_MAC_init(cmac, nullptr, 0, nullptr) != 1 ||
        (!s.empty() && EVP_MAC_update(cmac, U8(s), s.size()) != 1) ||
        EVP_MAC_final(cmac, mac, &len, sizeof(mac)) != 1) {
      return OpenSslError("CMAC");
    }
    Dbl(d);
    Xor(d, mac, 16);
  }
  if (EVP_MAC_init(cmac, nullptr, 0, nullptr) != 1) return OpenSslError("CMAC");
  unsigned char t[16];
  if (plaintext.size() >= 16) {
    size_t head = plaintext.size() - 16;
    if (head > 0 && EVP_MAC_update(cmac, U8(plaintext), head) != 1)
      return OpenSslError("CMAC");
    std::memcpy(t, plaintext.data() + head, 16);
    Xor(t, d, 16);  // xorend
  } else {
    Dbl(d);
    std::memset(t, 0, 16);
    if (!plaintext.empty()) std::memcpy(t, plaintext.data(), plaintext.size());
    t[plaintext.size()] = 0x80;
    Xor(t, d, 16);
  }
  if (EVP_MAC_update(cmac, t, 16) != 1 ||
      EVP_MAC_final(cmac, v, &len, 16) != 1 || len != 16) {
    return OpenSslError("CMAC");
  }
  SecureWipe(t, sizeof(t));
  return absl::OkStatus();
}

absl::Status AesSiv::Ctr(const unsigned char v[16], absl::string_view in,
                         unsigned char* out) {
  if (in.empty()) return absl::OkStatus();
  unsigned char q[16];
  std::memcpy(q, v, 16);
  q[8] &= 0x7f;
  q[12] &= 0x7f;
  int len = 0;
  if (EVP_EncryptInit_ex(state_->ctr.get(), nullptr, nullptr, nullptr, q) !=
          1 ||
      EVP_EncryptUpdate(state_->ctr.get(), out, &len, U8(in),
                        static_cast<int>(in.size())) != 1) {
    return OpenSslError("CTR");
  }
  return absl::OkStatus();
}

absl::Status AesSiv::Seal(std::initializer_list<absl::string_view> ad,
                          absl::string_view plaintext, std::string* out) {
  if (ad.size() > 126)
    return absl::InvalidArgumentError("AES-SIV: too many AD strings");
  if (plaintext.size() > static_cast<size_t>(INT_MAX) - 32) {
    return absl::InvalidArgumentError("AES-SIV: input too large");
  }
  size_t base = out->size();
  out->resize(base + 16 + plaintext.size());
  auto* p = reinterpret_cast<unsigned char*>(out->data()) + base;
  absl::Status s = S2V(ad, plaintext, p);
  if (!s.ok()) return s;
  return Ctr(p, plaintext, p + 16);
}

absl::Status AesSiv::Open(std::initializer_list<absl::string_view> ad,
                          absl::string_view sealed, std::string* out) {
  if (ad.size() > 126 || sealed.size() < 16 ||
      sealed.size() > static_cast<size_t>(INT_MAX) - 32) {
    return absl::DataLossError("authentication failed");
  }
  const unsigned char* v = U8(sealed);
  out->resize(sealed.size() - 16);
  auto* p = reinterpret_cast<unsigned char*>(out->data());
  absl::Status s = Ctr(v, sealed.substr(16), p);
  if (!s.ok()) return s;
  unsigned char check[16];
  s = S2V(ad, *out, check);
  if (!s.ok()) return s;
  if (!ConstantTimeEquals(absl::string_view(reinterpret_cast<char*>(check), 16),
                          sealed.substr(0, 16))) {
    SecureWipe(out->data(), out->size());
    out->clear();
    return absl::DataLossError("authentication failed");
  }
  return absl::OkStatus();
}

}  // namespace clover::crypto
