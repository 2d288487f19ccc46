#include "crypto/subject_pseudonym.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "absl/strings/escaping.h"
#include "crypto/hkdf.h"

namespace clover::crypto {

absl::StatusOr<SecretKey> DeriveLogSubjectKey(const SecretKey& pseudonym_root) {
  auto okm = HkdfSha256(
      std::string_view(reinterpret_cast<const char*>(pseudonym_root.data()),
                       pseudonym_root.size()),
      "", "clover/log-subject/v1", kSecretKeySize);
  if (!okm.ok()) return okm.status();
  SecretKey key;
  std::copy(okm->begin(), okm->end(), key.begin());
  return key;
}

std::string SubjectPseudonym(const SecretKey& key, absl::string_view subject) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(subject.data()), subject.size(),
       mac, &len);
  std::string out = absl::WebSafeBase64Escape(
      absl::string_view(reinterpret_cast<const char*>(mac), 16));
  return out;
}

}  // namespace clover::crypto
