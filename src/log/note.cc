#include "log/note.h"

#include <openssl/crypto.h>

#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/status_macros.h"
#include "core/utf8.h"
#include "crypto/sha256.h"

namespace clover::log {
namespace {

constexpr absl::string_view kEmDash = "\xe2\x80\x94";
constexpr absl::string_view kCosignatureHeader = "cosignature/v1\n";

bool IsUnicodeSpace(uint32_t cp) {
  return cp == ' ' || (cp >= 0x09 && cp <= 0x0d) || cp == 0x85 || cp == 0xa0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

// Valid UTF-8 without control characters other than newline.
absl::Status CheckNoteBytes(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    uint32_t cp;
    const size_t n = DecodeUtf8(s, i, &cp);
    if (n == 0)
      return absl::InvalidArgumentError(
          absl::StrCat("note: invalid UTF-8 at byte ", i));
    if ((cp < 0x20 && cp != '\n') || cp == 0x7f) {
      return absl::InvalidArgumentError(
          absl::StrCat("note: control character at byte ", i));
    }
    i += n;
  }
  return absl::OkStatus();
}

absl::Status DecodeBase64Strict(absl::string_view b64, std::string& out) {
  if (!absl::Base64Unescape(b64, &out) || absl::Base64Escape(out) != b64) {
    return absl::InvalidArgumentError("not canonical standard base64");
  }
  return absl::OkStatus();
}

absl::string_view AsView(const uint8_t* p, size_t n) {
  return absl::string_view(reinterpret_cast<const char*>(p), n);
}

class Ed25519Signer final : public NoteSigner {
 public:
  Ed25519Signer(std::string name, uint8_t type, crypto::Ed25519PrivateKey key,
                const Clock& clock)
      : name_(std::move(name)),
        type_(type),
        key_(std::move(key)),
        clock_(clock),
        key_id_(NoteKeyId(name_, type_, key_.public_key().bytes())) {}
  const std::string& name() const override { return name_; }
  uint32_t key_id() const override { return key_id_; }
  absl::StatusOr<std::string> Sign(absl::string_view text) const override {
    if (type_ == kNoteTypeEd25519) {
      const auto sig = key_.Sign(text);
      return std::string(AsView(sig.data(), sig.size()));
    }
    const int64_t now = absl::ToUnixSeconds(clock_.Now());
    if (now < 0) return absl::FailedPreconditionError("clock is before 1970");
    const uint64_t ts = static_cast<uint64_t>(now);
    const std::string msg =
        absl::StrCat(kCosignatureHeader, "time ", ts, "\n", text);
    const auto sig = key_.Sign(msg);
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(ts >> (56 - 8 * i));
    out.append(reinterpret_cast<const char*>(sig.data()), sig.size());
    return out;
  }

 private:
  std::string name_;
  uint8_t type_;
  crypto::Ed25519PrivateKey key_;
  const Clock& clock_;
  uint32_t key_id_;
};

class Ed25519Verifier final : public NoteVerifier {
 public:
  Ed25519Verifier(std::string name, uint8_t type, crypto::Ed25519PublicKey key)
      : name_(std::move(name)),
        type_(type),
        key_(std::move(key)),
        key_id_(NoteKeyId(name_, type_, key_.bytes())) {}
  const std::string& name() const override { return name_; }
  uint32_t key_id() const override { return key_id_; }
  uint8_t type() const override { return type_; }
  bool Verify(absl::string_view text,
              absl::string_view signature) const override {
    if (type_ == kNoteTypeEd25519) return key_.Verify(text, signature);
    auto ts = CosignatureTimestamp(signature);
    if (!ts.ok()) return false;
    const std::string msg =
        absl::StrCat(kCosignatureHeader, "time ", *ts, "\n", text);
    return key_.Verify(msg, signature.substr(8));
  }

 private:
  std::string name_;
  uint8_t type_;
  crypto::Ed25519PublicKey key_;
  uint32_t key_id_;
};

absl::Status CheckNameAndType(absl::string_view name, uint8_t type) {
  if (!IsValidNoteKeyName(name)) {
    return absl::InvalidArgumentError(
        "note key name must be non-empty UTF-8 without spaces, '+' or control "
        "characters");
  }
  if (type != kNoteTypeEd25519 && type != kNoteTypeCosignature) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "unsupported note key type 0x%02x (want 0x01 or 0x04)", type));
  }
  return absl::OkStatus();
}

struct KeyParts {
  std::string name;
  uint32_t key_id;
  uint8_t type;
  std::string material;  // 32 bytes
};

// Parses "name+hexid+base64(type||32 bytes)".
absl::StatusOr<KeyParts> ParseKeyParts(absl::string_view s,
                                       absl::string_view what) {
  // Base64 may contain '+', names and ids may not: split at the first two only.
  std::vector<absl::string_view> parts =
      absl::StrSplit(s, absl::MaxSplits('+', 2));
  if (parts.size() != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": want name+keyid+base64 key"));
  }
  KeyParts k;
  k.name = std::string(parts[0]);
  if (parts[1].size() != 8 || !absl::SimpleHexAtoi(parts[1], &k.key_id)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": key id must be 8 hex digits"));
  }
  std::string raw;
  if (!DecodeBase64Strict(parts[2], raw).ok() || raw.size() != 33) {
    OPENSSL_cleanse(raw.data(), raw.size());
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": key must be base64 of a type byte and 32 key bytes"));
  }
  k.type = static_cast<uint8_t>(raw[0]);
  k.material = raw.substr(1);
  OPENSSL_cleanse(raw.data(), raw.size());
  if (absl::Status st = CheckNameAndType(k.name, k.type); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", st.message()));
  }
  return k;
}

}  // namespace

uint32_t NoteKeyId(absl::string_view name, uint8_t type,
                   const crypto::Ed25519PublicKeyBytes& public_key) {
  crypto::Sha256Hasher h;
  h.Update(name);
  h.Update(static_cast<uint8_t>('\n'));
  h.Update(type);
  h.Update(public_key.data(), public_key.size());
  const auto d = h.Finish();
  return (uint32_t{d[0]} << 24) | (uint32_t{d[1]} << 16) |
         (uint32_t{d[2]} << 8) | d[3];
}

bool IsValidNoteKeyName(absl::string_view name) {
  if (name.empty() || name.size() > 1024) return false;
  size_t i = 0;
  while (i < name.size()) {
    uint32_t cp;
    const size_t n = DecodeUtf8(name, i, &cp);
    if (n == 0 || cp < 0x20 || cp == 0x7f || cp == '+' || IsUnicodeSpace(cp))
      return false;
    i += n;
  }
  return true;
}

absl::StatusOr<std::unique_ptr<NoteSigner>> NewNoteSigner(
    std::string name, uint8_t type, crypto::Ed25519PrivateKey key,
    const Clock& clock) {
  CLOVER_RETURN_IF_ERROR(CheckNameAndType(name, type));
  return std::make_unique<Ed25519Signer>(std::move(name), type, std::move(key),
                                         clock);
}

absl::StatusOr<std::unique_ptr<NoteVerifier>> NewNoteVerifier(
    std::string name, uint8_t type, crypto::Ed25519PublicKey key) {
  CLOVER_RETURN_IF_ERROR(CheckNameAndType(name, type));
  return std::make_unique<Ed25519Verifier>(std::move(name), type,
                                           std::move(key));
}

absl::StatusOr<std::unique_ptr<NoteSigner>> ParseSignerKey(
    absl::string_view skey, const Clock& clock) {
  while (!skey.empty() && (skey.back() == '\n' || skey.back() == '\r'))
    skey.remove_suffix(1);
  if (!absl::ConsumePrefix(&skey, "PRIVATE+KEY+")) {
    return absl::InvalidArgumentError(
        "signer key must start with PRIVATE+KEY+");
  }
  CLOVER_ASSIGN_OR_RETURN(KeyParts k, ParseKeyParts(skey, "signer key"));
  auto key = crypto::Ed25519PrivateKey::FromSeed(k.material);
  OPENSSL_cleanse(k.material.data(), k.material.size());
  if (!key.ok())
    return absl::InvalidArgumentError("signer key: bad Ed25519 seed");
  if (NoteKeyId(k.name, k.type, key->public_key().bytes()) != k.key_id) {
    return absl::InvalidArgumentError(
        "signer key: key id does not match the key");
  }
  return NewNoteSigner(std::move(k.name), k.type, *std::move(key), clock);
}

absl::StatusOr<std::unique_ptr<NoteVerifier>> ParseVerifierKey(
    absl::string_view vkey) {
  while (!vkey.empty() && (vkey.back() == '\n' || vkey.back() == '\r'))
    vkey.remove_suffix(1);
  CLOVER_ASSIGN_OR_RETURN(KeyParts k, ParseKeyParts(vkey, "verifier key"));
  auto key = crypto::Ed25519PublicKey::FromBytes(k.material);
  if (!key.ok())
    return absl::InvalidArgumentError("verifier key: bad Ed25519 public key");
  if (NoteKeyId(k.name, k.type, key->bytes()) != k.key_id) {
    return absl::InvalidArgumentError(
        "verifier key: key id does not match the key");
  }
  return NewNoteVerifier(std::move(k.name), k.type, *std::move(key));
}

std::string FormatSignerKey(absl::string_view name, uint8_t type,
                            const crypto::Ed25519PrivateKey& key) {
  std::string raw(1, static_cast<char>(type));
  raw.append(reinterpret_cast<const char*>(key.seed().data()),
             key.seed().size());
  std::string out = absl::StrFormat(
      "PRIVATE+KEY+%s+%08x+%s", name,
      NoteKeyId(name, type, key.public_key().bytes()), absl::Base64Escape(raw));
  OPENSSL_cleanse(raw.data(), raw.size());
  return out;
}

std::string FormatVerifierKey(absl::string_view name, uint8_t type,
                              const crypto::Ed25519PublicKey& key) {
  std::string raw(1, static_cast<char>(type));
  raw.append(reinterpret_cast<const char*>(key.bytes().data()),
             key.bytes().size());
  return absl::StrFormat("%s+%08x+%s", name, NoteKeyId(name, type, key.bytes()),
                         absl::Base64Escape(raw));
}

absl::StatusOr<std::string> VerifierKeyFromSignerKey(absl::string_view skey) {
  while (!skey.empty() && (skey.back() == '\n' || skey.back() == '\r'))
    skey.remove_suffix(1);
  if (!absl::ConsumePrefix(&skey, "PRIVATE+KEY+")) {
    return absl::InvalidArgumentError(
        "signer key must start with PRIVATE+KEY+");
  }
  CLOVER_ASSIGN_OR_RETURN(KeyParts k, ParseKeyParts(skey, "signer key"));
  auto key = crypto::Ed25519PrivateKey::FromSeed(k.material);
  OPENSSL_cleanse(k.material.data(), k.material.size());
  if (!key.ok())
    return absl::InvalidArgumentError("signer key: bad Ed25519 seed");
  return FormatVerifierKey(k.name, k.type, key->public_key());
}

std::string NoteSignature::Line() const {
  std::string raw(4, '\0');
  for (int i = 0; i < 4; ++i)
    raw[i] = static_cast<char>(key_id >> (24 - 8 * i));
  raw += signature;
  return absl::StrCat(kEmDash, " ", name, " ", absl::Base64Escape(raw), "\n");
}

absl::StatusOr<ParsedNote> ParseNote(absl::string_view note) {
  if (note.size() > kMaxNoteSize)
    return absl::InvalidArgumentError("note: too large");
  CLOVER_RETURN_IF_ERROR(CheckNoteBytes(note));
  const size_t split = note.rfind("\n\n");
  if (split == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        "note: no blank line before the signatures");
  }
  ParsedNote out;
  out.text = std::string(note.substr(0, split + 1));
  absl::string_view sigs = note.substr(split + 2);
  if (sigs.empty())
    return absl::InvalidArgumentError("note: no signature lines");
  if (sigs.back() != '\n') {
    return absl::InvalidArgumentError(
        "note: last signature line does not end in a newline");
  }
  sigs.remove_suffix(1);
  for (absl::string_view line : absl::StrSplit(sigs, '\n')) {
    if (out.signatures.size() == kMaxNoteSignatures) {
      return absl::InvalidArgumentError("note: too many signatures");
    }
    if (!absl::ConsumePrefix(&line, kEmDash) ||
        !absl::ConsumePrefix(&line, " ")) {
      return absl::InvalidArgumentError(
          "note: signature line must start with an em dash and a space");
    }
    const size_t sp = line.find(' ');
    if (sp == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          "note: signature line has no signature");
    }
    NoteSignature sig;
    sig.name = std::string(line.substr(0, sp));
    if (!IsValidNoteKeyName(sig.name)) {
      return absl::InvalidArgumentError(
          "note: invalid key name in signature line");
    }
    std::string raw;
    if (!DecodeBase64Strict(line.substr(sp + 1), raw).ok() || raw.size() < 5) {
      return absl::InvalidArgumentError(
          absl::StrCat("note: signature by ", sig.name,
                       " is not base64 of key id and signature"));
    }
    sig.key_id = (uint32_t{static_cast<uint8_t>(raw[0])} << 24) |
                 (uint32_t{static_cast<uint8_t>(raw[1])} << 16) |
                 (uint32_t{static_cast<uint8_t>(raw[2])} << 8) |
                 static_cast<uint8_t>(raw[3]);
    sig.signature = raw.substr(4);
    out.signatures.push_back(std::move(sig));
  }
  return out;
}

absl::StatusOr<std::string> SignNoteWithKey(absl::string_view text,
                                            absl::string_view signer_key) {
  absl::StatusOr<std::unique_ptr<NoteSigner>> signer =
      ParseSignerKey(std::string(signer_key));
  if (!signer.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a note signing key (PRIVATE+KEY+name+id+data): ",
                     signer.status().message()));
  }
  const NoteSigner* signers[] = {signer->get()};
  return SignNote(text, signers);
}

absl::StatusOr<std::string> SignNote(
    absl::string_view text, std::span<const NoteSigner* const> signers) {
  if (signers.empty()) return absl::InvalidArgumentError("note: no signers");
  if (text.empty() || text.back() != '\n') {
    return absl::InvalidArgumentError("note: text must end in a newline");
  }
  if (text.size() > kMaxNoteSize / 2)
    return absl::InvalidArgumentError("note: text too large");
  CLOVER_RETURN_IF_ERROR(CheckNoteBytes(text));
  std::string out(text);
  out += '\n';
  for (const NoteSigner* s : signers) {
    CLOVER_ASSIGN_OR_RETURN(std::string sig, s->Sign(text));
    out += NoteSignature{s->name(), s->key_id(), std::move(sig)}.Line();
  }
  return out;
}

absl::StatusOr<OpenedNote> OpenNote(
    absl::string_view note, std::span<const NoteVerifier* const> verifiers) {
  CLOVER_ASSIGN_OR_RETURN(ParsedNote parsed, ParseNote(note));
  OpenedNote out;
  out.text = std::move(parsed.text);
  for (NoteSignature& sig : parsed.signatures) {
    const NoteVerifier* match = nullptr;
    for (const NoteVerifier* v : verifiers) {
      if (v->key_id() == sig.key_id && v->name() == sig.name) {
        match = v;
        break;
      }
    }
    if (match == nullptr) {
      out.unknown.push_back(std::move(sig));
      continue;
    }
    if (!match->Verify(out.text, sig.signature)) {
      return absl::UnauthenticatedError(absl::StrFormat(
          "note: invalid signature by %s (key id %08x)", sig.name, sig.key_id));
    }
    out.verified.push_back(std::move(sig));
  }
  if (out.verified.empty()) {
    return absl::UnauthenticatedError("note: no signature from a known key");
  }
  return out;
}

absl::StatusOr<std::string> AddNoteSignatures(
    absl::string_view note, std::span<const NoteSignature> signatures) {
  CLOVER_ASSIGN_OR_RETURN(ParsedNote parsed, ParseNote(note));
  std::string out = parsed.text + "\n";
  for (const auto& s : parsed.signatures) out += s.Line();
  size_t count = parsed.signatures.size();
  for (const auto& s : signatures) {
    bool dup = false;
    for (const auto& e : parsed.signatures)
      dup |= e.name == s.name && e.key_id == s.key_id;
    if (dup) continue;
    if (!IsValidNoteKeyName(s.name)) {
      return absl::InvalidArgumentError(
          "note: invalid key name in added signature");
    }
    if (++count > kMaxNoteSignatures)
      return absl::InvalidArgumentError("note: too many signatures");
    out += s.Line();
  }
  return out;
}

absl::StatusOr<uint64_t> CosignatureTimestamp(absl::string_view signature) {
  if (signature.size() != 8 + crypto::kEd25519SignatureSize) {
    return absl::InvalidArgumentError("cosignature must be 72 bytes");
  }
  uint64_t ts = 0;
  for (int i = 0; i < 8; ++i)
    ts = (ts << 8) | static_cast<uint8_t>(signature[i]);
  if (ts > static_cast<uint64_t>(INT64_MAX)) {
    return absl::InvalidArgumentError("cosignature timestamp exceeds 2^63-1");
  }
  return ts;
}

}  // namespace clover::log
