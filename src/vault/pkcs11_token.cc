#include "vault/pkcs11_token.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "crypto/constant_time.h"
// The PKCS#11 v2.40 API as Debian's libp11-kit-dev ships it (self-contained:
// it defines CK_PTR and the function-pointer macros itself).
#include "p11-kit/pkcs11.h"

namespace clover::vault {

struct Pkcs11Token::Module {
  std::string path;
  CK_FUNCTION_LIST_PTR f = nullptr;
  ~Module();
};

namespace {

std::string RvName(CK_RV rv) {
  switch (rv) {
    case CKR_OK:
      return "CKR_OK";
    case CKR_GENERAL_ERROR:
      return "CKR_GENERAL_ERROR";
    case CKR_ARGUMENTS_BAD:
      return "CKR_ARGUMENTS_BAD";
    case CKR_ATTRIBUTE_SENSITIVE:
      return "CKR_ATTRIBUTE_SENSITIVE";
    case CKR_ATTRIBUTE_TYPE_INVALID:
      return "CKR_ATTRIBUTE_TYPE_INVALID";
    case CKR_OPERATION_ACTIVE:
      return "CKR_OPERATION_ACTIVE";
    case CKR_DEVICE_ERROR:
      return "CKR_DEVICE_ERROR";
    case CKR_DEVICE_REMOVED:
      return "CKR_DEVICE_REMOVED";
    case CKR_ENCRYPTED_DATA_INVALID:
      return "CKR_ENCRYPTED_DATA_INVALID";
    case CKR_ENCRYPTED_DATA_LEN_RANGE:
      return "CKR_ENCRYPTED_DATA_LEN_RANGE";
    case CKR_KEY_HANDLE_INVALID:
      return "CKR_KEY_HANDLE_INVALID";
    case CKR_MECHANISM_INVALID:
      return "CKR_MECHANISM_INVALID";
    case CKR_MECHANISM_PARAM_INVALID:
      return "CKR_MECHANISM_PARAM_INVALID";
    case CKR_OBJECT_HANDLE_INVALID:
      return "CKR_OBJECT_HANDLE_INVALID";
    case CKR_PIN_INCORRECT:
      return "CKR_PIN_INCORRECT";
    case CKR_PIN_INVALID:
      return "CKR_PIN_INVALID";
    case CKR_PIN_LEN_RANGE:
      return "CKR_PIN_LEN_RANGE";
    case CKR_PIN_LOCKED:
      return "CKR_PIN_LOCKED";
    case CKR_SESSION_CLOSED:
      return "CKR_SESSION_CLOSED";
    case CKR_SESSION_HANDLE_INVALID:
      return "CKR_SESSION_HANDLE_INVALID";
    case CKR_TOKEN_NOT_PRESENT:
      return "CKR_TOKEN_NOT_PRESENT";
    case CKR_USER_NOT_LOGGED_IN:
      return "CKR_USER_NOT_LOGGED_IN";
    case CKR_USER_PIN_NOT_INITIALIZED:
      return "CKR_USER_PIN_NOT_INITIALIZED";
    case CKR_CRYPTOKI_NOT_INITIALIZED:
      return "CKR_CRYPTOKI_NOT_INITIALIZED";
    default:
      return absl::StrCat("CKR 0x", absl::Hex(rv));
  }
}

absl::Status TokenError(absl::string_view what, CK_RV rv) {
  return absl::UnavailableError(
      absl::StrCat("PKCS#11 ", what, " failed: ", RvName(rv)));
}

// Every module loaded in the process, by path. C_Initialize may run only once
// per process: the first user of a module initialises it and the last one
// finalises it, both under modules_mu, so a new user never meets a module
// being finalised. The libraries stay mapped: some keep process-wide state
// that a second dlopen would not reset, and C_Finalize already released it.
struct Loaded {
  void* handle = nullptr;
  CK_FUNCTION_LIST_PTR f = nullptr;
  int users = 0;
  bool initialized_here = false;
};
absl::Mutex modules_mu(absl::kConstInit);
std::map<std::string, Loaded>& Registry()
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(modules_mu) {
  static auto* modules = new std::map<std::string, Loaded>();
  return *modules;
}

absl::StatusOr<std::shared_ptr<Pkcs11Token::Module>> LoadModule(
    const std::string& path) {
  absl::MutexLock lock(&modules_mu);
  Loaded& m = Registry()[path];
  if (m.handle == nullptr) {
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = dlerror();
      return absl::InvalidArgumentError(
          absl::StrCat("PKCS#11 module ", path,
                       " does not load: ", why == nullptr ? "" : why));
    }
    auto get = reinterpret_cast<CK_C_GetFunctionList>(
        dlsym(handle, "C_GetFunctionList"));
    CK_FUNCTION_LIST_PTR f = nullptr;
    if (get == nullptr || get(&f) != CKR_OK || f == nullptr) {
      dlclose(handle);
      return absl::InvalidArgumentError(absl::StrCat(
          "PKCS#11 module ", path, " has no usable C_GetFunctionList"));
    }
    m.handle = handle;
    m.f = f;
  }
  if (m.users == 0) {
    CK_C_INITIALIZE_ARGS args;
    std::memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;
    const CK_RV rv = m.f->C_Initialize(&args);
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
      return TokenError(absl::StrCat("C_Initialize of ", path), rv);
    }
    m.initialized_here = rv == CKR_OK;
  }
  ++m.users;
  auto out = std::make_shared<Pkcs11Token::Module>();
  out->path = path;
  out->f = m.f;
  return out;
}

std::string Trimmed(const CK_UTF8CHAR* padded, size_t n) {
  std::string s(reinterpret_cast<const char*>(padded), n);
  return std::string(absl::StripTrailingAsciiWhitespace(s));
}

CK_BBOOL kTrue = CK_TRUE;
CK_BBOOL kFalse = CK_FALSE;

// Returns the session to the pool on scope exit.
class SessionLease {
 public:
  SessionLease(std::function<void(CK_SESSION_HANDLE, CK_RV)> release,
               CK_SESSION_HANDLE s)
      : release_(std::move(release)), s_(s) {}
  ~SessionLease() { release_(s_, rv_); }
  CK_SESSION_HANDLE get() const { return s_; }
  // The last result: a session the token called invalid is not reused.
  CK_RV Note(CK_RV rv) {
    if (rv != CKR_OK) rv_ = rv;
    return rv;
  }

 private:
  std::function<void(CK_SESSION_HANDLE, CK_RV)> release_;
  CK_SESSION_HANDLE s_;
  CK_RV rv_ = CKR_OK;
};

}  // namespace

Pkcs11Token::Module::~Module() {
  absl::MutexLock lock(&modules_mu);
  Loaded& m = Registry()[path];
  if (--m.users == 0 && m.initialized_here) {
    m.f->C_Finalize(nullptr);
    m.initialized_here = false;
  }
}

Pkcs11Token::Pkcs11Token(std::shared_ptr<Module> module, std::string token,
                         unsigned long slot)
    : module_(std::move(module)), token_(std::move(token)), slot_(slot) {}

Pkcs11Token::~Pkcs11Token() {
  // Closing our sessions (never C_Logout or C_CloseAllSessions): another
  // Pkcs11Token of this process on the same token keeps its login.
  absl::MutexLock lock(&mu_);
  for (unsigned long s : idle_) module_->f->C_CloseSession(s);
  if (login_session_ != 0) module_->f->C_CloseSession(login_session_);
}

absl::StatusOr<std::shared_ptr<Pkcs11Token>> Pkcs11Token::Open(
    const std::string& module, const std::string& token,
    const std::string& pin_file) {
  absl::StatusOr<std::shared_ptr<Module>> m = LoadModule(module);
  if (!m.ok()) return m.status();
  CK_FUNCTION_LIST_PTR f = (*m)->f;
  CK_ULONG count = 0;
  CK_RV rv = f->C_GetSlotList(CK_TRUE, nullptr, &count);
  if (rv != CKR_OK) return TokenError("C_GetSlotList", rv);
  std::vector<CK_SLOT_ID> slots(count);
  rv = f->C_GetSlotList(CK_TRUE, slots.data(), &count);
  if (rv != CKR_OK) return TokenError("C_GetSlotList", rv);
  slots.resize(count);
  std::vector<std::string> seen;
  std::optional<CK_SLOT_ID> slot;
  for (CK_SLOT_ID s : slots) {
    CK_TOKEN_INFO info;
    if (f->C_GetTokenInfo(s, &info) != CKR_OK) continue;
    if ((info.flags & CKF_TOKEN_INITIALIZED) == 0) continue;
    std::string label = Trimmed(info.label, sizeof(info.label));
    if (label == token) {
      slot = s;
      break;
    }
    seen.push_back(std::move(label));
  }
  if (!slot.has_value()) {
    return absl::NotFoundError(absl::StrCat(
        "PKCS#11 module ", module, " has no initialised token labelled '",
        token, "' (tokens: [", absl::StrJoin(seen, ", "), "])"));
  }
  struct stat st;
  if (stat(pin_file.c_str(), &st) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read PIN file ", pin_file));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("PIN file ", pin_file,
                     " must not be accessible by group or others (chmod 600)"));
  }
  std::string pin;
  {
    std::ifstream in(pin_file, std::ios::binary);
    if (!in) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot read PIN file ", pin_file));
    }
    pin.assign(std::istreambuf_iterator<char>(in),
               std::istreambuf_iterator<char>());
  }
  while (!pin.empty() && absl::ascii_isspace(pin.back())) {
    crypto::SecureWipe(&pin.back(), 1);
    pin.pop_back();
  }
  if (pin.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("PIN file ", pin_file, " is empty"));
  }
  auto t = std::shared_ptr<Pkcs11Token>(new Pkcs11Token(*m, token, *slot));
  rv = f->C_OpenSession(*slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr,
                        nullptr, &t->login_session_);
  if (rv != CKR_OK) {
    crypto::SecureWipe(pin.data(), pin.size());
    return TokenError(absl::StrCat("C_OpenSession on token '", token, "'"), rv);
  }
  rv = f->C_Login(t->login_session_, CKU_USER,
                  reinterpret_cast<CK_UTF8CHAR_PTR>(pin.data()), pin.size());
  crypto::SecureWipe(pin.data(), pin.size());
  if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_INVALID ||
      rv == CKR_PIN_LEN_RANGE || rv == CKR_PIN_LOCKED ||
      rv == CKR_PIN_EXPIRED || rv == CKR_USER_PIN_NOT_INITIALIZED) {
    return absl::PermissionDeniedError(
        absl::StrCat("PKCS#11 token '", token, "' refused the user PIN in ",
                     pin_file, " (", RvName(rv), ")"));
  }
  if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
    return TokenError(absl::StrCat("C_Login on token '", token, "'"), rv);
  }
  return t;
}

absl::StatusOr<unsigned long> Pkcs11Token::AcquireSession() {
  {
    absl::MutexLock lock(&mu_);
    if (!idle_.empty()) {
      unsigned long s = idle_.back();
      idle_.pop_back();
      return s;
    }
  }
  CK_SESSION_HANDLE s = 0;
  CK_RV rv = module_->f->C_OpenSession(
      slot_, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s);
  if (rv != CKR_OK) return TokenError("C_OpenSession", rv);
  return s;
}

void Pkcs11Token::Release(unsigned long session, unsigned long rv) {
  if (rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED ||
      rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT) {
    return;  // dead: never reused
  }
  if (rv == CKR_OPERATION_ACTIVE || rv == CKR_DEVICE_ERROR) {
    // An operation a failure left open would refuse the next one.
    module_->f->C_CloseSession(session);
    return;
  }
  absl::MutexLock lock(&mu_);
  if (idle_.size() < 64) {
    idle_.push_back(session);
    return;
  }
  module_->f->C_CloseSession(session);
}

#define CLOVER_PKCS11_SESSION(lease)                          \
  absl::StatusOr<unsigned long> lease##_s = AcquireSession(); \
  if (!lease##_s.ok()) return lease##_s.status();             \
  SessionLease lease(                                         \
      [this](CK_SESSION_HANDLE s, CK_RV rv) { Release(s, rv); }, *lease##_s)

absl::StatusOr<Pkcs11Token::ObjectHandle> Pkcs11Token::FindKey(
    absl::string_view label) {
  CLOVER_PKCS11_SESSION(session);
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  std::string l(label);
  CK_ATTRIBUTE query[] = {
      {CKA_CLASS, &cls, sizeof(cls)},
      {CKA_LABEL, l.data(), l.size()},
  };
  CK_FUNCTION_LIST_PTR f = module_->f;
  CK_RV rv = session.Note(f->C_FindObjectsInit(session.get(), query, 2));
  if (rv != CKR_OK) return TokenError("C_FindObjectsInit", rv);
  CK_OBJECT_HANDLE found[2];
  CK_ULONG n = 0;
  rv = session.Note(f->C_FindObjects(session.get(), found, 2, &n));
  session.Note(f->C_FindObjectsFinal(session.get()));
  if (rv != CKR_OK) return TokenError("C_FindObjects", rv);
  if (n == 0) {
    return absl::NotFoundError(absl::StrCat(
        "PKCS#11 token '", token_, "' has no secret key labelled '", l, "'"));
  }
  if (n > 1) {
    return absl::FailedPreconditionError(
        absl::StrCat("PKCS#11 token '", token_,
                     "' has several secret keys labelled '", l, "'"));
  }
  return found[0];
}

absl::StatusOr<Pkcs11Token::ObjectHandle> Pkcs11Token::GenerateKey(
    absl::string_view label) {
  absl::StatusOr<ObjectHandle> existing = FindKey(label);
  if (existing.ok()) {
    return absl::AlreadyExistsError(absl::StrCat(
        "PKCS#11 token '", token_, "' already has a key labelled '",
        std::string(label), "'"));
  }
  if (!absl::IsNotFound(existing.status())) return existing.status();
  CLOVER_PKCS11_SESSION(session);
  CK_MECHANISM mech = {CKM_AES_KEY_GEN, nullptr, 0};
  CK_ULONG len = 32;
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE type = CKK_AES;
  std::string l(label);
  CK_ATTRIBUTE tmpl[] = {
      {CKA_CLASS, &cls, sizeof(cls)},
      {CKA_KEY_TYPE, &type, sizeof(type)},
      {CKA_VALUE_LEN, &len, sizeof(len)},
      {CKA_LABEL, l.data(), l.size()},
      {CKA_ID, l.data(), l.size()},
      {CKA_TOKEN, &kTrue, sizeof(kTrue)},
      {CKA_PRIVATE, &kTrue, sizeof(kTrue)},
      {CKA_SENSITIVE, &kTrue, sizeof(kTrue)},
      {CKA_EXTRACTABLE, &kFalse, sizeof(kFalse)},
      {CKA_ENCRYPT, &kTrue, sizeof(kTrue)},
      {CKA_DECRYPT, &kTrue, sizeof(kTrue)},
      {CKA_WRAP, &kFalse, sizeof(kFalse)},
      {CKA_UNWRAP, &kFalse, sizeof(kFalse)},
      {CKA_SIGN, &kFalse, sizeof(kFalse)},
      {CKA_VERIFY, &kFalse, sizeof(kFalse)},
      {CKA_DERIVE, &kFalse, sizeof(kFalse)},
  };
  CK_OBJECT_HANDLE key = 0;
  CK_RV rv = session.Note(module_->f->C_GenerateKey(
      session.get(), &mech, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &key));
  if (rv != CKR_OK) return TokenError("C_GenerateKey", rv);
  return key;
}

absl::Status Pkcs11Token::DestroyObject(ObjectHandle key) {
  CLOVER_PKCS11_SESSION(session);
  CK_RV rv = session.Note(module_->f->C_DestroyObject(session.get(), key));
  if (rv != CKR_OK) return TokenError("C_DestroyObject", rv);
  return absl::OkStatus();
}

namespace {

// AES-GCM with a 128-bit tag over `nonce` and `aad` (which must outlive the
// operation: the token reads them through the pointers).
CK_GCM_PARAMS GcmParams(absl::string_view nonce, absl::string_view aad) {
  CK_GCM_PARAMS params;
  std::memset(&params, 0, sizeof(params));
  params.pIv = reinterpret_cast<CK_BYTE_PTR>(const_cast<char*>(nonce.data()));
  params.ulIvLen = nonce.size();
  params.ulIvBits = nonce.size() * 8;
  params.pAAD = reinterpret_cast<CK_BYTE_PTR>(const_cast<char*>(aad.data()));
  params.ulAADLen = aad.size();
  params.ulTagBits = 128;
  return params;
}

}  // namespace

absl::Status Pkcs11Token::GcmEncrypt(ObjectHandle key, absl::string_view nonce,
                                     absl::string_view aad,
                                     absl::string_view plaintext,
                                     std::string* out) {
  CLOVER_PKCS11_SESSION(session);
  CK_GCM_PARAMS params = GcmParams(nonce, aad);
  CK_MECHANISM mech = {CKM_AES_GCM, &params, sizeof(params)};
  CK_FUNCTION_LIST_PTR f = module_->f;
  CK_RV rv = session.Note(f->C_EncryptInit(session.get(), &mech, key));
  if (rv != CKR_OK) return TokenError("C_EncryptInit (AES-GCM)", rv);
  const size_t at = out->size();
  CK_ULONG n = plaintext.size() + 16;
  out->resize(at + n);
  rv = session.Note(f->C_Encrypt(
      session.get(),
      reinterpret_cast<CK_BYTE_PTR>(const_cast<char*>(plaintext.data())),
      plaintext.size(), reinterpret_cast<CK_BYTE_PTR>(out->data() + at), &n));
  if (rv != CKR_OK) {
    out->resize(at);
    return TokenError("C_Encrypt (AES-GCM)", rv);
  }
  out->resize(at + n);
  return absl::OkStatus();
}

absl::Status Pkcs11Token::GcmDecrypt(ObjectHandle key, absl::string_view nonce,
                                     absl::string_view aad,
                                     absl::string_view ciphertext,
                                     std::string* out) {
  if (ciphertext.size() < 16)
    return absl::DataLossError("ciphertext is shorter than its tag");
  CLOVER_PKCS11_SESSION(session);
  CK_GCM_PARAMS params = GcmParams(nonce, aad);
  CK_MECHANISM mech = {CKM_AES_GCM, &params, sizeof(params)};
  CK_FUNCTION_LIST_PTR f = module_->f;
  CK_RV rv = session.Note(f->C_DecryptInit(session.get(), &mech, key));
  if (rv != CKR_OK) return TokenError("C_DecryptInit (AES-GCM)", rv);
  const size_t at = out->size();
  CK_ULONG n = ciphertext.size();
  out->resize(at + n);
  rv = session.Note(f->C_Decrypt(
      session.get(),
      reinterpret_cast<CK_BYTE_PTR>(const_cast<char*>(ciphertext.data())),
      ciphertext.size(), reinterpret_cast<CK_BYTE_PTR>(out->data() + at), &n));
  // A failed tag check is CKR_ENCRYPTED_DATA_INVALID per PKCS#11 v3.0;
  // SoftHSM2 (2.6) says CKR_GENERAL_ERROR, which C_Decrypt of a valid
  // session and key has no other cause for. It ends the operation; the
  // session stays usable.
  if (rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_ENCRYPTED_DATA_LEN_RANGE ||
      rv == CKR_GENERAL_ERROR) {
    session.Note(CKR_OK);
    crypto::SecureWipe(out->data() + at, out->size() - at);
    out->resize(at);
    return absl::DataLossError("AES-GCM authentication failed in the token");
  }
  if (rv != CKR_OK) {
    crypto::SecureWipe(out->data() + at, out->size() - at);
    out->resize(at);
    return TokenError("C_Decrypt (AES-GCM)", rv);
  }
  out->resize(at + n);
  return absl::OkStatus();
}

absl::StatusOr<Pkcs11Token::KeyCustody> Pkcs11Token::Custody(ObjectHandle key) {
  CLOVER_PKCS11_SESSION(session);
  CK_BBOOL token = CK_FALSE, sensitive = CK_FALSE, extractable = CK_TRUE;
  CK_ATTRIBUTE attrs[] = {
      {CKA_TOKEN, &token, sizeof(token)},
      {CKA_SENSITIVE, &sensitive, sizeof(sensitive)},
      {CKA_EXTRACTABLE, &extractable, sizeof(extractable)},
  };
  CK_FUNCTION_LIST_PTR f = module_->f;
  CK_RV rv = session.Note(f->C_GetAttributeValue(session.get(), key, attrs, 3));
  if (rv != CKR_OK) return TokenError("C_GetAttributeValue", rv);
  KeyCustody c;
  c.token = token == CK_TRUE;
  c.sensitive = sensitive == CK_TRUE;
  c.extractable = extractable == CK_TRUE;
  unsigned char value[64];
  CK_ATTRIBUTE v = {CKA_VALUE, value, sizeof(value)};
  rv = f->C_GetAttributeValue(session.get(), key, &v, 1);
  c.value_readable = rv == CKR_OK && v.ulValueLen != CK_UNAVAILABLE_INFORMATION;
  crypto::SecureWipe(value, sizeof(value));
  return c;
}

absl::StatusOr<std::vector<std::string>> Pkcs11Token::KeyLabels(
    absl::string_view prefix) {
  CLOVER_PKCS11_SESSION(session);
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_ATTRIBUTE query[] = {{CKA_CLASS, &cls, sizeof(cls)}};
  CK_FUNCTION_LIST_PTR f = module_->f;
  CK_RV rv = session.Note(f->C_FindObjectsInit(session.get(), query, 1));
  if (rv != CKR_OK) return TokenError("C_FindObjectsInit", rv);
  std::vector<CK_OBJECT_HANDLE> handles;
  while (true) {
    CK_OBJECT_HANDLE batch[64];
    CK_ULONG n = 0;
    rv = session.Note(f->C_FindObjects(session.get(), batch, 64, &n));
    if (rv != CKR_OK || n == 0) break;
    handles.insert(handles.end(), batch, batch + n);
  }
  session.Note(f->C_FindObjectsFinal(session.get()));
  if (rv != CKR_OK) return TokenError("C_FindObjects", rv);
  std::vector<std::string> labels;
  for (CK_OBJECT_HANDLE h : handles) {
    char buf[256];
    CK_ATTRIBUTE a = {CKA_LABEL, buf, sizeof(buf)};
    if (f->C_GetAttributeValue(session.get(), h, &a, 1) != CKR_OK) continue;
    std::string label(buf, a.ulValueLen);
    if (absl::StartsWith(label, prefix)) {
      labels.push_back(std::move(label));
    }
  }
  return labels;
}

}  // namespace clover::vault
