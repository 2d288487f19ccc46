// C2SP signed-note: signing and opening notes, Ed25519 note keys (type 0x01),
// timestamped Ed25519 cosignatures (C2SP tlog-cosignature, type 0x04), and the
// key string formats
//   signer:   PRIVATE+KEY+<name>+<hex key id>+base64(<type> || 32-byte seed)
//   verifier: <name>+<hex key id>+base64(<type> || 32-byte public key)
// Used for log checkpoints, witness cosignatures and signed policy bundles.
#ifndef CLOVER_LOG_NOTE_H_
#define CLOVER_LOG_NOTE_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/clock.h"
#include "crypto/ed25519.h"

namespace clover::log {

inline constexpr uint8_t kNoteTypeEd25519 = 0x01;
inline constexpr uint8_t kNoteTypeCosignature = 0x04;
inline constexpr size_t kMaxNoteSize = 1 << 20;
inline constexpr size_t kMaxNoteSignatures =
    64;  // the spec requires accepting at least 16

// Signs note texts. Implementations are thread-safe.
class NoteSigner {
 public:
  virtual ~NoteSigner() = default;
  [[nodiscard]] virtual const std::string& name() const = 0;
  [[nodiscard]] virtual uint32_t key_id() const = 0;
  // The signature bytes (without the key id prefix) over `text`.
  [[nodiscard]] virtual absl::StatusOr<std::string> Sign(
      absl::string_view text) const = 0;
};

// Verifies note signatures. Implementations are thread-safe.
class NoteVerifier {
 public:
  virtual ~NoteVerifier() = default;
  [[nodiscard]] virtual const std::string& name() const = 0;
  [[nodiscard]] virtual uint32_t key_id() const = 0;
  // The key type (kNoteTypeEd25519 or kNoteTypeCosignature).
  [[nodiscard]] virtual uint8_t type() const { return kNoteTypeEd25519; }
  // True iff `signature` (without key id) is valid for `text`.
  [[nodiscard]] virtual bool Verify(absl::string_view text,
                                    absl::string_view signature) const = 0;
};

// SHA-256(name || 0x0A || type || public key)[:4], big-endian.
[[nodiscard]] uint32_t NoteKeyId(
    absl::string_view name, uint8_t type,
    const crypto::Ed25519PublicKeyBytes& public_key);
// Non-empty, valid UTF-8, no Unicode spaces, no '+', no control characters.
[[nodiscard]] bool IsValidNoteKeyName(absl::string_view name);

// Ed25519 note signer (type 0x01) or tlog-cosignature/v1 signer (type 0x04; the
// signature is an 8-byte big-endian timestamp from `clock` followed by the
// Ed25519 signature). Errors: InvalidArgument for a bad name or type.
[[nodiscard]] absl::StatusOr<std::unique_ptr<NoteSigner>> NewNoteSigner(
    std::string name, uint8_t type, crypto::Ed25519PrivateKey key,
    const Clock& clock = SystemClock());
[[nodiscard]] absl::StatusOr<std::unique_ptr<NoteVerifier>> NewNoteVerifier(
    std::string name, uint8_t type, crypto::Ed25519PublicKey key);

// Key strings. Parse errors are InvalidArgument and never echo key material.
[[nodiscard]] absl::StatusOr<std::unique_ptr<NoteSigner>> ParseSignerKey(
    absl::string_view skey, const Clock& clock = SystemClock());
[[nodiscard]] absl::StatusOr<std::unique_ptr<NoteVerifier>> ParseVerifierKey(
    absl::string_view vkey);
[[nodiscard]] std::string FormatSignerKey(absl::string_view name, uint8_t type,
                                          const crypto::Ed25519PrivateKey& key);
[[nodiscard]] std::string FormatVerifierKey(
    absl::string_view name, uint8_t type, const crypto::Ed25519PublicKey& key);
// The verifier key string matching a signer key string.
[[nodiscard]] absl::StatusOr<std::string> VerifierKeyFromSignerKey(
    absl::string_view skey);

struct NoteSignature {
  std::string name;
  uint32_t key_id = 0;
  std::string signature;  // without the key id

  // "— name base64(keyid||sig)\n"
  [[nodiscard]] std::string Line() const;
};

// A note split into its text and signature lines, not yet verified.
struct ParsedNote {
  std::string text;  // includes the final newline
  std::vector<NoteSignature> signatures;
};

// Syntax only: UTF-8, no control characters but newline, text ending in
// newline, a blank line, then 1..64 well-formed signature lines. Errors:
// InvalidArgument naming the fault.
[[nodiscard]] absl::StatusOr<ParsedNote> ParseNote(absl::string_view note);

// Signs `text` (must end in a newline and satisfy the note syntax) with every
// signer. Errors: InvalidArgument for bad text or no signers; signer errors.
[[nodiscard]] absl::StatusOr<std::string> SignNote(
    absl::string_view text, std::span<const NoteSigner* const> signers);
// Signs `text` with one signer key string (PRIVATE+KEY+name+id+data).
// Errors: InvalidArgument "not a note signing key ..." (the key itself is
// never quoted), or SignNote's.
[[nodiscard]] absl::StatusOr<std::string> SignNoteWithKey(
    absl::string_view text, absl::string_view signer_key);

struct OpenedNote {
  std::string text;
  std::vector<NoteSignature> verified;  // signatures by known keys, all valid
  std::vector<NoteSignature> unknown;  // signatures by keys not given (ignored)
};

// Parses `note` and verifies it against `verifiers` per signed-note: unknown
// keys are ignored, a known key whose signature fails rejects the whole note,
// and at least one known signature must verify. Errors: InvalidArgument
// (syntax), Unauthenticated (bad or missing signatures).
[[nodiscard]] absl::StatusOr<OpenedNote> OpenNote(
    absl::string_view note, std::span<const NoteVerifier* const> verifiers);

// Adds signature lines (e.g. witness cosignatures) to an existing note, keeping
// existing ones and skipping duplicates by (name, key id). Errors:
// InvalidArgument.
[[nodiscard]] absl::StatusOr<std::string> AddNoteSignatures(
    absl::string_view note, std::span<const NoteSignature> signatures);

// The timestamp of a type-0x04 cosignature. Errors: InvalidArgument if
// malformed.
[[nodiscard]] absl::StatusOr<uint64_t> CosignatureTimestamp(
    absl::string_view signature);

}  // namespace clover::log

#endif  // CLOVER_LOG_NOTE_H_
