// A PKCS#11 token (a hardware security module; SoftHSM2 in tests and demos)
// holding AES-256 keys that never leave it: keys are generated in the token
// as sensitive, non-extractable objects, and every AES-GCM operation with them
// runs in the token.
//
// The module is loaded with dlopen + C_GetFunctionList and initialised once per
// process (CKF_OS_LOCKING_OK), shared by every Pkcs11Token that names it and
// finalised when the last one closes. Sessions come from a pool (a PKCS#11
// session must not be used by two threads at once), so a Pkcs11Token is
// thread-safe. One session stays open for the token's lifetime: it holds the
// user login, which every session of the process shares.
//
// The PIN is read from a file, used for C_Login and wiped; it is never in a log
// line or an error message.
#ifndef CLOVER_VAULT_PKCS11_TOKEN_H_
#define CLOVER_VAULT_PKCS11_TOKEN_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace clover::vault {

class Pkcs11Token {
 public:
  using ObjectHandle = unsigned long;  // CK_OBJECT_HANDLE

  // Loads `module` (a path, or a library name dlopen finds), finds the
  // initialised token labelled `token` and logs in as its user with the PIN
  // in `pin_file` (trailing whitespace ignored). Errors: InvalidArgument if
  // the module does not load or is not PKCS#11; NotFound if no slot holds
  // that token (the message lists the labels it saw); FailedPrecondition if
  // the PIN file is unreadable, empty or accessible by group or others;
  // PermissionDenied if the token refuses the PIN (wrong or locked);
  // Unavailable for other token errors.
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<Pkcs11Token>> Open(
      const std::string& module, const std::string& token,
      const std::string& pin_file);
  ~Pkcs11Token();
  Pkcs11Token(const Pkcs11Token&) = delete;
  Pkcs11Token& operator=(const Pkcs11Token&) = delete;

  const std::string& label() const { return token_; }

  // The secret-key object labelled `label`. Errors: NotFound if none;
  // FailedPrecondition if several; Unavailable.
  [[nodiscard]] absl::StatusOr<ObjectHandle> FindKey(absl::string_view label);
  // Generates a persistent AES-256 key labelled `label` in the token:
  // CKA_SENSITIVE, not CKA_EXTRACTABLE, usable only to encrypt and decrypt.
  // Errors: AlreadyExists if a key has that label; Unavailable.
  [[nodiscard]] absl::StatusOr<ObjectHandle> GenerateKey(
      absl::string_view label);
  // C_DestroyObject. Errors: Unavailable.
  [[nodiscard]] absl::Status DestroyObject(ObjectHandle key);

  // AES-256-GCM in the token with a 12-byte `nonce` and a 128-bit tag;
  // appends ciphertext || tag to `out`. Errors: Unavailable.
  [[nodiscard]] absl::Status GcmEncrypt(ObjectHandle key,
                                        absl::string_view nonce,
                                        absl::string_view aad,
                                        absl::string_view plaintext,
                                        std::string* out);
  // The inverse; appends the plaintext to `out`. Errors: DataLoss if the
  // ciphertext fails authentication; Unavailable.
  [[nodiscard]] absl::Status GcmDecrypt(ObjectHandle key,
                                        absl::string_view nonce,
                                        absl::string_view aad,
                                        absl::string_view ciphertext,
                                        std::string* out);

  // What the token says of a key (tests and `clover keys`): its custody
  // attributes, and whether C_GetAttributeValue(CKA_VALUE) returned bytes.
  struct KeyCustody {
    bool token = false;       // CKA_TOKEN: persistent
    bool sensitive = false;   // CKA_SENSITIVE
    bool extractable = true;  // CKA_EXTRACTABLE
    bool value_readable = true;
  };
  [[nodiscard]] absl::StatusOr<KeyCustody> Custody(ObjectHandle key);

  // Labels of the secret-key objects whose label starts with `prefix`.
  [[nodiscard]] absl::StatusOr<std::vector<std::string>> KeyLabels(
      absl::string_view prefix);

  struct Module;  // a loaded PKCS#11 module (pkcs11_token.cc)

 private:
  Pkcs11Token(std::shared_ptr<Module> module, std::string token,
              unsigned long slot);

  // A session from the pool (opened if none is idle); returned with
  // Release, or dropped if the token reported it invalid.
  [[nodiscard]] absl::StatusOr<unsigned long> AcquireSession();
  void Release(unsigned long session, unsigned long rv);

  const std::shared_ptr<Module> module_;
  const std::string token_;
  const unsigned long slot_;
  unsigned long login_session_ = 0;
  absl::Mutex mu_;
  std::vector<unsigned long> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace clover::vault

#endif  // CLOVER_VAULT_PKCS11_TOKEN_H_
