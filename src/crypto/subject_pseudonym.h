// The keyed pseudonym under which log entries name a subject: the log holds no
// raw identifiers, yet the region (and an auditor given the key, e.g. for
// canaries) can recognise a subject's entries.
#ifndef CLOVER_CRYPTO_SUBJECT_PSEUDONYM_H_
#define CLOVER_CRYPTO_SUBJECT_PSEUDONYM_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/secret_key_file.h"

namespace clover::crypto {

// The log-subject key: HKDF-SHA-256 of the region's pseudonym root key with
// info "clover/log-subject/v1". Errors: Internal on an OpenSSL failure.
[[nodiscard]] absl::StatusOr<SecretKey> DeriveLogSubjectKey(
    const SecretKey& pseudonym_root);

// base64url (unpadded) of the first 16 bytes of HMAC-SHA-256(key, subject id):
// 22 characters. Thread-safe.
[[nodiscard]] std::string SubjectPseudonym(const SecretKey& key,
                                           absl::string_view subject);

}  // namespace clover::crypto

#endif  // CLOVER_CRYPTO_SUBJECT_PSEUDONYM_H_
