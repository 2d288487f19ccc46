#include "vault/token_keys.h"

#include <cstring>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "crypto/constant_time.h"
#include "crypto/hkdf.h"

namespace clover::vault {
namespace {

constexpr size_t kHmacTokenBytes = 16;

// Key bytes captured by pool factories; wiped when the last factory goes away.
struct SecretBytes {
  explicit SecretBytes(std::string b) : bytes(std::move(b)) {}
  ~SecretBytes() { crypto::SecureWipe(bytes.data(), bytes.size()); }
  std::string bytes;
};

absl::string_view KeyView(const crypto::SecretKey& k) {
  return absl::string_view(reinterpret_cast<const char*>(k.data()), k.size());
}

// Appends unpadded base64url of `len` bytes; hot path of hmac tokens (no
// temporaries).
void AppendBase64Url(const uint8_t* p, size_t len, std::string* out) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  size_t i = 0;
  for (; i + 3 <= len; i += 3) {
    uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    out->push_back(kAlphabet[v >> 18]);
    out->push_back(kAlphabet[(v >> 12) & 63]);
    out->push_back(kAlphabet[(v >> 6) & 63]);
    out->push_back(kAlphabet[v & 63]);
  }
  if (len - i == 1) {
    uint32_t v = uint32_t{p[i]} << 16;
    out->push_back(kAlphabet[v >> 18]);
    out->push_back(kAlphabet[(v >> 12) & 63]);
  } else if (len - i == 2) {
    uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8);
    out->push_back(kAlphabet[v >> 18]);
    out->push_back(kAlphabet[(v >> 12) & 63]);
    out->push_back(kAlphabet[(v >> 6) & 63]);
  }
}

}  // namespace

TokenKeys::TokenKeys(std::string destination, std::string purpose,
                     uint32_t version, std::string hmac_key,
                     std::string ff1_key, std::string locator_key,
                     std::string siv_mix)
    : destination_(std::move(destination)),
      purpose_(std::move(purpose)),
      version_(version),
      siv_mix_(std::move(siv_mix)),
      hmac_([k = std::make_shared<SecretBytes>(std::move(hmac_key))] {
        return crypto::HmacSha256::Create(k->bytes);
      }),
      ff1_([k = std::make_shared<SecretBytes>(std::move(ff1_key))] {
        return crypto::Ff1::Create(k->bytes, crypto::kFf1Digits);
      }),
      locator_([k = std::make_shared<SecretBytes>(std::move(locator_key))] {
        return crypto::AesBlockCipher::Create(k->bytes);
      }) {}

absl::StatusOr<std::unique_ptr<TokenKeys>> TokenKeys::Derive(
    const crypto::SecretKey& root, absl::string_view destination,
    absl::string_view purpose, uint32_t version) {
  if (version == 0 || version > kMaxRootVersion) {
    return absl::InvalidArgumentError("pseudonym root version out of range");
  }
  // Version 1 keeps the derivation tokens were made with before rotation
  // existed, so they stay valid; later versions name themselves in the info.
  const bool v1 = version == kFileRootVersion;
  std::string tag = absl::StrCat(version);
  absl::StatusOr<std::string> okm =
      v1 ? crypto::HkdfSha256(
               KeyView(root), "clover/token-keys/v1",
               crypto::HkdfInfo({"clover/token-keys/v1", destination, purpose}),
               96)
         : crypto::HkdfSha256(KeyView(root), "clover/token-keys/v2",
                              crypto::HkdfInfo({"clover/token-keys/v2", tag,
                                                destination, purpose}),
                              128);
  if (!okm.ok()) return okm.status();
  SecretBytes material(std::move(*okm));
  absl::string_view m = material.bytes;
  auto keys = std::unique_ptr<TokenKeys>(
      new TokenKeys(std::string(destination), std::string(purpose), version,
                    std::string(m.substr(0, 32)), std::string(m.substr(32, 32)),
                    std::string(m.substr(64, 32)),
                    v1 ? std::string() : std::string(m.substr(96, 32))));
  // Fail now, not on first use, if OpenSSL cannot key these.
  auto h = keys->hmac_.Acquire();
  if (!h.ok()) return h.status();
  auto f = keys->ff1_.Acquire();
  if (!f.ok()) return f.status();
  auto l = keys->locator_.Acquire();
  if (!l.ok()) return l.status();
  return keys;
}

absl::StatusOr<std::string> TokenKeys::HmacToken(
    absl::string_view value) const {
  auto mac = hmac_.Acquire();
  if (!mac.ok()) return mac.status();
  absl::StatusOr<crypto::HmacSha256Tag> tag = (*mac)->Compute(value);
  if (!tag.ok()) return tag.status();
  std::string out;
  out.reserve(kHmacTokenPrefix.size() + 30);
  out.append(kHmacTokenPrefix.data(), kHmacTokenPrefix.size());
  if (version_ != kFileRootVersion) absl::StrAppend(&out, "v", version_, ".");
  AppendBase64Url(tag->data(), kHmacTokenBytes, &out);
  return out;
}

absl::StatusOr<crypto::HmacSha256Tag> TokenKeys::Prf(
    absl::string_view label, absl::string_view value) const {
  auto mac = hmac_.Acquire();
  if (!mac.ok()) return mac.status();
  // A label followed by NUL cannot collide with a plain HmacToken input of a
  // field value that has no NUL (field values never contain control
  // characters).
  std::string prefix(label);
  prefix.push_back('\0');
  return (*mac)->Compute(prefix, value);
}

absl::StatusOr<std::string> TokenKeys::Ff1Digits(absl::string_view digits,
                                                 absl::string_view tweak,
                                                 bool encrypt) const {
  auto ff1 = ff1_.Acquire();
  if (!ff1.ok()) return ff1.status();
  return encrypt ? (*ff1)->Encrypt(digits, tweak)
                 : (*ff1)->Decrypt(digits, tweak);
}

absl::StatusOr<TokenHandle> TokenKeys::Locator(
    const TokenHandle& handle) const {
  auto aes = locator_.Acquire();
  if (!aes.ok()) return aes.status();
  TokenHandle out;
  absl::Status s = (*aes)->Encrypt(handle.data(), out.data());
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<TokenHandle> TokenKeys::HandleOfLocator(
    const TokenHandle& locator) const {
  auto aes = locator_.Acquire();
  if (!aes.ok()) return aes.status();
  TokenHandle out;
  absl::Status s = (*aes)->Decrypt(locator.data(), out.data());
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::unique_ptr<SubjectTokenKeys>> TokenKeys::ForSubject(
    const crypto::SecretKey& data_key, const TokenHandle& handle) const {
  absl::StatusOr<TokenHandle> locator = Locator(handle);
  if (!locator.ok()) return locator.status();
  absl::StatusOr<std::string> siv_key;
  if (version_ == kFileRootVersion) {
    siv_key = crypto::HkdfSha256(
        KeyView(data_key), "clover/siv-token/v1",
        crypto::HkdfInfo({"clover/siv-token/v1", destination_, purpose_}), 64);
  } else {
    // Both secrets: the data key (crypto-shredding still ends the token) and
    // the root version's mix (a rotation changes the sealed part too).
    SecretBytes ikm(absl::StrCat(KeyView(data_key), siv_mix_));
    siv_key = crypto::HkdfSha256(
        ikm.bytes, "clover/siv-token/v2",
        crypto::HkdfInfo({"clover/siv-token/v2", absl::StrCat(version_),
                          destination_, purpose_}),
        64);
  }
  if (!siv_key.ok()) return siv_key.status();
  auto keys = std::unique_ptr<SubjectTokenKeys>(
      new SubjectTokenKeys(*locator, std::move(*siv_key), version_));
  auto probe = keys->siv_.Acquire();
  if (!probe.ok()) return probe.status();
  return keys;
}

SubjectTokenKeys::SubjectTokenKeys(const TokenHandle& locator,
                                   std::string siv_key, uint32_t version)
    : locator_(locator),
      version_(version),
      siv_([k = std::make_shared<SecretBytes>(std::move(siv_key))] {
        return crypto::AesSiv::Create(k->bytes);
      }) {}

absl::StatusOr<std::string> SubjectTokenKeys::SivToken(
    absl::string_view field, absl::string_view value) const {
  auto siv = siv_.Acquire();
  if (!siv.ok()) return siv.status();
  std::string raw(reinterpret_cast<const char*>(locator_.data()),
                  locator_.size());
  absl::Status s = (*siv)->Seal({field}, value, &raw);
  if (!s.ok()) return s;
  std::string out;
  out.reserve(kSivTokenPrefix.size() + 8 + (raw.size() * 4 + 2) / 3);
  out.append(kSivTokenPrefix.data(), kSivTokenPrefix.size());
  if (version_ != kFileRootVersion) absl::StrAppend(&out, "v", version_, ".");
  AppendBase64Url(reinterpret_cast<const uint8_t*>(raw.data()), raw.size(),
                  &out);
  return out;
}

absl::StatusOr<std::string> SubjectTokenKeys::OpenSiv(
    absl::string_view field, absl::string_view sealed) const {
  auto siv = siv_.Acquire();
  if (!siv.ok()) return siv.status();
  std::string out;
  absl::Status s = (*siv)->Open({field}, sealed, &out);
  if (!s.ok()) return s;
  return out;
}

namespace {
constexpr char kFieldMismatchPayload[] = "clover.dev/field-mismatch";
}  // namespace

absl::Status FieldMismatchError() {
  absl::Status s =
      absl::InvalidArgumentError("the token was issued for another field");
  s.SetPayload(kFieldMismatchPayload, absl::Cord("1"));
  return s;
}

bool IsFieldMismatch(const absl::Status& status) {
  return status.code() == absl::StatusCode::kInvalidArgument &&
         status.GetPayload(kFieldMismatchPayload).has_value();
}

absl::StatusOr<uint32_t> TokenRootVersion(absl::string_view after_prefix,
                                          absl::string_view* body) {
  *body = after_prefix;
  size_t dot = after_prefix.find('.');
  if (dot == absl::string_view::npos) return kFileRootVersion;
  absl::string_view tag = after_prefix.substr(0, dot);
  uint32_t version = 0;
  // "v" and 1-6 digits without a leading zero; version 1 is never tagged, so
  // each token has one spelling.
  if (tag.size() < 2 || tag.size() > 7 || tag[0] != 'v' || tag[1] == '0') {
    return absl::InvalidArgumentError("token has a malformed version tag");
  }
  for (char c : tag.substr(1)) {
    if (c < '0' || c > '9') {
      return absl::InvalidArgumentError("token has a malformed version tag");
    }
    version = version * 10 + static_cast<uint32_t>(c - '0');
  }
  if (version == kFileRootVersion) {
    return absl::InvalidArgumentError("token has a malformed version tag");
  }
  *body = after_prefix.substr(dot + 1);
  return version;
}

absl::StatusOr<SivTokenParts> ParseSivToken(absl::string_view token) {
  if (token.size() > 16384 ||
      token.substr(0, kSivTokenPrefix.size()) != kSivTokenPrefix) {
    return absl::InvalidArgumentError("not a siv token (expected prefix stk_)");
  }
  std::string raw;
  absl::string_view b64;
  absl::StatusOr<uint32_t> version =
      TokenRootVersion(token.substr(kSivTokenPrefix.size()), &b64);
  if (!version.ok()) return version.status();
  if (!absl::WebSafeBase64Unescape(absl::string_view(b64.data(), b64.size()),
                                   &raw) ||
      raw.size() < kHandleSize + crypto::kSivTagSize) {
    return absl::InvalidArgumentError("siv token is malformed");
  }
  SivTokenParts parts;
  parts.version = *version;
  std::memcpy(parts.locator.data(), raw.data(), kHandleSize);
  parts.sealed = raw.substr(kHandleSize);
  return parts;
}

TokenKeyRing::TokenKeyRing(const crypto::SecretKey& root, size_t capacity)
    : keys_(capacity) {
  roots_.emplace(kFileRootVersion, root);
}
TokenKeyRing::~TokenKeyRing() {
  absl::MutexLock lock(&mu_);
  for (auto& [version, root] : roots_) {
    crypto::SecureWipe(root.data(), root.size());
  }
}

absl::StatusOr<std::shared_ptr<const TokenKeys>> TokenKeyRing::Get(
    absl::string_view destination, absl::string_view purpose) {
  return GetVersion(current(), destination, purpose);
}

absl::StatusOr<std::shared_ptr<const TokenKeys>> TokenKeyRing::GetVersion(
    uint32_t version, absl::string_view destination,
    absl::string_view purpose) {
  if (destination.empty() || purpose.empty()) {
    return absl::InvalidArgumentError(
        "token keys need a destination and a purpose");
  }
  std::string id =
      crypto::HkdfInfo({absl::StrCat(version), destination, purpose});
  if (std::optional<std::shared_ptr<const TokenKeys>> hit = keys_.Get(id)) {
    return *std::move(hit);
  }
  crypto::SecretKey root;
  {
    absl::MutexLock lock(&mu_);
    auto it = roots_.find(version);
    if (it == roots_.end()) {
      return absl::NotFoundError(absl::StrCat(
          "no pseudonym root key of version ", version, " is held"));
    }
    root = it->second;
  }
  absl::StatusOr<std::unique_ptr<TokenKeys>> keys =
      TokenKeys::Derive(root, destination, purpose, version);
  crypto::SecureWipe(root.data(), root.size());
  if (!keys.ok()) return keys.status();
  std::shared_ptr<const TokenKeys> shared = std::move(*keys);
  // Two threads deriving the same pair at once derive equal keys: either may
  // stay cached.
  keys_.Put(id, shared);
  return shared;
}

void TokenKeyRing::AddRoot(uint32_t version, const crypto::SecretKey& root) {
  absl::MutexLock lock(&mu_);
  roots_.emplace(version, root);
}

absl::Status TokenKeyRing::SetCurrent(uint32_t version) {
  absl::MutexLock lock(&mu_);
  if (!roots_.contains(version)) {
    return absl::NotFoundError(
        absl::StrCat("no pseudonym root key of version ", version, " is held"));
  }
  current_.store(version, std::memory_order_release);
  return absl::OkStatus();
}

uint32_t TokenKeyRing::current() const {
  return current_.load(std::memory_order_acquire);
}

bool TokenKeyRing::Holds(uint32_t version) const {
  absl::MutexLock lock(&mu_);
  return roots_.contains(version);
}

void TokenKeyRing::Forget(uint32_t version) {
  {
    absl::MutexLock lock(&mu_);
    auto it = roots_.find(version);
    if (it == roots_.end() || version == current_.load()) return;
    crypto::SecureWipe(it->second.data(), it->second.size());
    roots_.erase(it);
  }
  keys_.Clear();
}

}  // namespace clover::vault
