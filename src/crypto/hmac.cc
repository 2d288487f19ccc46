#include "crypto/hmac.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "crypto/openssl_util.h"

namespace clover::crypto {

using internal::MacCtxPtr;
using internal::OpenSslError;
using internal::U8;

struct HmacSha256::State {
  MacCtxPtr ctx;
};

HmacSha256::HmacSha256(std::unique_ptr<State> state)
    : state_(std::move(state)) {}
HmacSha256::~HmacSha256() = default;

absl::StatusOr<std::unique_ptr<HmacSha256>> HmacSha256::Create(
    absl::string_view key) {
  if (key.empty())
    return absl::InvalidArgumentError("HMAC key must not be empty");
  MacCtxPtr ctx(EVP_MAC_CTX_new(internal::HmacMac()));
  if (ctx == nullptr) return OpenSslError("EVP_MAC_CTX_new");
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(ctx.get(), U8(key), key.size(), params) != 1) {
    return OpenSslError("HMAC init");
  }
  auto state = std::make_unique<State>();
  state->ctx = std::move(ctx);
  return std::unique_ptr<HmacSha256>(new HmacSha256(std::move(state)));
}

absl::StatusOr<HmacSha256Tag> HmacSha256::Compute(absl::string_view data) {
  return Compute(data, absl::string_view());
}

absl::StatusOr<HmacSha256Tag> HmacSha256::Compute(absl::string_view a,
                                                  absl::string_view b) {
  EVP_MAC_CTX* ctx = state_->ctx.get();
  // A null key re-initialises from the stored pad states: no key schedule.
  if (EVP_MAC_init(ctx, nullptr, 0, nullptr) != 1)
    return OpenSslError("HMAC reinit");
  if (!a.empty() && EVP_MAC_update(ctx, U8(a), a.size()) != 1)
    return OpenSslError("HMAC");
  if (!b.empty() && EVP_MAC_update(ctx, U8(b), b.size()) != 1)
    return OpenSslError("HMAC");
  HmacSha256Tag tag;
  size_t len = 0;
  if (EVP_MAC_final(ctx, tag.data(), &len, tag.size()) != 1 ||
      len != tag.size()) {
    return OpenSslError("HMAC final");
  }
  return tag;
}

absl::StatusOr<std::unique_ptr<HmacSha256>> HmacSha256::Clone() const {
  MacCtxPtr ctx(EVP_MAC_CTX_dup(state_->ctx.get()));
  if (ctx == nullptr) return OpenSslError("EVP_MAC_CTX_dup");
  auto state = std::make_unique<State>();
  state->ctx = std::move(ctx);
  return std::unique_ptr<HmacSha256>(new HmacSha256(std::move(state)));
}

absl::StatusOr<HmacSha256Tag> HmacSha256Once(absl::string_view key,
                                             absl::string_view data) {
  HmacSha256Tag tag;
  size_t len = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(),
                key.size(), U8(data), data.size(), tag.data(), tag.size(),
                &len) == nullptr ||
      len != tag.size()) {
    return OpenSslError("HMAC");
  }
  return tag;
}

}  // namespace clover::crypto
