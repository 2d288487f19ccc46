#include "crypto/sha256.h"

#include <openssl/evp.h>

#include <cstdlib>

#include "absl/strings/string_view.h"

namespace clover::crypto {
namespace {

// Fetched once: an explicit fetch avoids the implicit per-call provider lookup.
const EVP_MD* Sha256Md() {
  static const EVP_MD* md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    // Without SHA-256 nothing in Clover can work; this is a broken OpenSSL
    // install.
    if (fetched == nullptr) std::abort();
    return fetched;
  }();
  return md;
}

}  // namespace

struct Sha256Hasher::Ctx {
  EVP_MD_CTX* ctx = nullptr;
};

Sha256Hasher::Sha256Hasher() : ctx_(std::make_unique<Ctx>()) {
  ctx_->ctx = EVP_MD_CTX_new();
  if (ctx_->ctx == nullptr) std::abort();  // out of memory
  Reset();
}

Sha256Hasher::~Sha256Hasher() { EVP_MD_CTX_free(ctx_->ctx); }

void Sha256Hasher::Reset() {
  if (EVP_DigestInit_ex2(ctx_->ctx, Sha256Md(), nullptr) != 1) std::abort();
}

void Sha256Hasher::Update(absl::string_view data) {
  Update(reinterpret_cast<const uint8_t*>(data.data()), data.size());
}

void Sha256Hasher::Update(const uint8_t* data, size_t len) {
  if (len == 0) return;
  EVP_DigestUpdate(ctx_->ctx, data, len);
}

Sha256Digest Sha256Hasher::Finish() {
  Sha256Digest out;
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_->ctx, out.data(), &len);
  Reset();
  return out;
}

Sha256Digest Sha256(const uint8_t* data, size_t len) {
  Sha256Digest out;
  unsigned int out_len = 0;
  if (EVP_Digest(data, len, out.data(), &out_len, Sha256Md(), nullptr) != 1) {
    std::abort();
  }
  return out;
}

Sha256Digest Sha256(absl::string_view data) {
  return Sha256(reinterpret_cast<const uint8_t*>(data.data()), data.size());
}

}  // namespace clover::crypto
