#include "crypto/subject_pseudonym.h"

#include <cstdlib>
#include <memory>

#include "absl/strings/escaping.h"
#include "crypto/constant_time.h"
#include "crypto/hkdf.h"
#include "crypto/hmac.h"

namespace clover::crypto {

absl::StatusOr<SecretKey> DeriveLogSubjectKey(const SecretKey& pseudonym_root) {
  auto okm = HkdfSha256(
      absl::string_view(reinterpret_cast<const char*>(pseudonym_root.data()),
                        pseudonym_root.size()),
      "", "clover/log-subject/v1", kSecretKeySize);
  if (!okm.ok()) return okm.status();
  SecretKey key;
  std::copy(okm->begin(), okm->end(), key.begin());
  return key;
}

namespace {

absl::string_view View(const SecretKey& key) {
  return absl::string_view(reinterpret_cast<const char*>(key.data()),
                           key.size());
}

// This thread's keyed HMAC for the last key it was asked about: the gateway
// names a subject on every request, and a one-shot HMAC redoes the key
// schedule (and OpenSSL's algorithm fetch) each time.
struct ThreadMac {
  SecretKey key{};
  std::unique_ptr<HmacSha256> mac;
  ~ThreadMac() { SecureWipe(key.data(), key.size()); }
};

}  // namespace

std::string SubjectPseudonym(const SecretKey& key, absl::string_view subject) {
  thread_local ThreadMac cached;
  if (cached.mac == nullptr ||
      !ConstantTimeEquals(View(cached.key), View(key))) {
    auto mac = HmacSha256::Create(View(key));
    cached.mac = mac.ok() ? *std::move(mac) : nullptr;
    if (cached.mac != nullptr) cached.key = key;
  }
  const absl::string_view data(subject.data(), subject.size());
  absl::StatusOr<HmacSha256Tag> tag = cached.mac != nullptr
                                          ? cached.mac->Compute(data)
                                          : HmacSha256Once(View(key), data);
  // HMAC fails only when OpenSSL cannot allocate; a pseudonym made of
  // anything else would name the wrong subject in the log.
  if (!tag.ok()) std::abort();
  return absl::WebSafeBase64Escape(
      absl::string_view(reinterpret_cast<const char*>(tag->data()), 16));
}

}  // namespace clover::crypto
