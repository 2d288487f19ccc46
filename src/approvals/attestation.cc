#include "approvals/attestation.h"

#include <array>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/json_fields.h"
#include "core/rfc3339.h"
#include "core/status_macros.h"
#include "crypto/sha256.h"
#include "rapidjson/document.h"

namespace clover::approvals {
namespace {

constexpr size_t kMaxValue = 256;
// The items after the header, in order.
constexpr std::array<absl::string_view, 6> kItems = {
    "id", "request", "principal", "by", "approved", "expires"};

// Empty when `v` may be a value; else what is wrong with it.
std::string ValueFault(absl::string_view v) {
  if (v.empty()) return "empty value";
  if (v.size() > kMaxValue)
    return absl::StrCat("value longer than ", kMaxValue, " bytes");
  for (unsigned char c : v) {
    if (c <= 0x20 || c == 0x7f)
      return "value with a space or control character";
  }
  return "";
}

bool IsLowerHex64(absl::string_view v) {
  if (v.size() != 64) return false;
  for (char c : v) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Only the "Z" form: a signed statement has one spelling of each time.
absl::StatusOr<absl::Time> ParseUtc(absl::string_view v) {
  absl::StatusOr<absl::Time> t = ParseRfc3339(v);
  if (v.empty() || v.back() != 'Z' || !t.ok()) {
    return absl::InvalidArgumentError("not an RFC 3339 UTC time ('...Z')");
  }
  return t;
}

absl::Status LineError(size_t line, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("approval attestation line ", line, ": ", what));
}

}  // namespace

std::string RequestSha256(absl::string_view record) {
  const crypto::Sha256Digest d = crypto::Sha256(record);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

absl::StatusOr<std::string> AttestationText(const Attestation& a) {
  const std::array<std::string, 6> values = {
      a.id,
      a.request_sha256,
      a.principal,
      a.by,
      a.approved == absl::InfinitePast() ? "" : FormatRfc3339Millis(a.approved),
      a.expires == absl::InfinitePast() ? "" : FormatRfc3339Millis(a.expires)};
  std::string text = absl::StrCat(kAttestationHeader, "\n");
  for (size_t i = 0; i < kItems.size(); ++i) {
    if (std::string fault = ValueFault(values[i]); !fault.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("approval attestation '", kItems[i], "': ", fault));
    }
    absl::StrAppend(&text, kItems[i], " ", values[i], "\n");
  }
  // The writer holds itself to what the parser checks.
  CLOVER_RETURN_IF_ERROR(ParseAttestationText(text).status());
  return text;
}

absl::StatusOr<Attestation> ParseAttestationText(absl::string_view text) {
  if (text.size() > kMaxAttestationBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "approval attestation: longer than ", kMaxAttestationBytes, " bytes"));
  }
  if (text.empty() || text.back() != '\n') {
    return absl::InvalidArgumentError(
        "approval attestation: the text does not end with a newline");
  }
  text.remove_suffix(1);
  const std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  if (lines[0] != kAttestationHeader) {
    return LineError(1, absl::StrCat("expected '", kAttestationHeader, "'"));
  }
  Attestation a;
  for (size_t i = 0; i < kItems.size(); ++i) {
    const size_t n = i + 2;  // line number
    if (n > lines.size()) {
      return LineError(
          n, absl::StrCat("missing; expected '", kItems[i], " <value>'"));
    }
    const absl::string_view line = lines[n - 1];
    const size_t sp = line.find(' ');
    if (sp == absl::string_view::npos || line.substr(0, sp) != kItems[i]) {
      return LineError(n, absl::StrCat("expected '", kItems[i], " <value>'"));
    }
    const absl::string_view v = line.substr(sp + 1);
    if (std::string fault = ValueFault(v); !fault.empty())
      return LineError(n, absl::StrCat("'", kItems[i], "': ", fault));
    switch (i) {
      case 0:
        a.id = std::string(v);
        break;
      case 1:
        if (!IsLowerHex64(v)) {
          return LineError(
              n, "'request': not 64 lower-case hex digits (a SHA-256)");
        }
        a.request_sha256 = std::string(v);
        break;
      case 2:
        a.principal = std::string(v);
        break;
      case 3:
        a.by = std::string(v);
        break;
      case 4:
      case 5: {
        absl::StatusOr<absl::Time> t = ParseUtc(v);
        if (!t.ok()) {
          return LineError(
              n, absl::StrCat("'", kItems[i], "': ", t.status().message()));
        }
        (i == 4 ? a.approved : a.expires) = *t;
        break;
      }
    }
  }
  if (lines.size() > kItems.size() + 1) {
    return LineError(kItems.size() + 2, "unexpected line after 'expires'");
  }
  if (a.expires <= a.approved) {
    return LineError(kItems.size() + 1, "'expires' is not after 'approved'");
  }
  return a;
}

absl::StatusOr<std::string> SignAttestation(const Attestation& a,
                                            absl::string_view signer_key) {
  CLOVER_ASSIGN_OR_RETURN(std::string text, AttestationText(a));
  return log::SignNoteWithKey(text, signer_key);
}

absl::StatusOr<std::string> AttestApproval(absl::string_view approval_json,
                                           absl::string_view by,
                                           absl::Duration duration,
                                           absl::string_view signer_key,
                                           absl::Time now) {
  rapidjson::Document d;
  CLOVER_RETURN_IF_ERROR(ParseJsonObject(approval_json, d, "approval"));
  // GET returns the approval itself; POST answers wrap it in "approval".
  const rapidjson::Value* obj = &d;
  if (d.HasMember("approval") && d["approval"].IsObject()) obj = &d["approval"];
  Attestation a;
  std::string state;
  CLOVER_RETURN_IF_ERROR(GetString(*obj, "id", true, &a.id));
  CLOVER_RETURN_IF_ERROR(
      GetString(*obj, "request_sha256", true, &a.request_sha256));
  CLOVER_RETURN_IF_ERROR(GetString(*obj, "principal", true, &a.principal));
  CLOVER_RETURN_IF_ERROR(GetString(*obj, "state", false, &state));
  if (!state.empty() && state != "pending") {
    return absl::InvalidArgumentError(absl::StrCat(
        "approval '", a.id, "' is ", state.substr(0, 16), ", not pending"));
  }
  if (duration <= absl::ZeroDuration() || duration == absl::InfiniteDuration())
    return absl::InvalidArgumentError("the duration must be positive");
  a.by = std::string(by);
  // Whole milliseconds, as the text carries them.
  a.approved = absl::FromUnixMillis(absl::ToUnixMillis(now));
  a.expires = a.approved + duration;
  return SignAttestation(a, signer_key);
}

absl::StatusOr<AttestationVerifier> AttestationVerifier::Create(
    std::span<const std::string> keys) {
  AttestationVerifier out;
  for (size_t i = 0; i < keys.size(); ++i) {
    absl::StatusOr<std::unique_ptr<log::NoteVerifier>> v =
        log::ParseVerifierKey(keys[i]);
    if (!v.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("attestation key [", i, "]: ", v.status().message()));
    }
    if ((*v)->type() != log::kNoteTypeEd25519) {
      return absl::InvalidArgumentError(absl::StrCat(
          "attestation key [", i, "]: not an Ed25519 note key (type 0x01)"));
    }
    out.verifiers_.push_back(*std::move(v));
  }
  return out;
}

absl::StatusOr<Attestation> AttestationVerifier::Open(
    absl::string_view note) const {
  if (note.size() > kMaxAttestationBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "approval attestation: longer than ", kMaxAttestationBytes, " bytes"));
  }
  std::vector<const log::NoteVerifier*> vs;
  vs.reserve(verifiers_.size());
  for (const auto& v : verifiers_) vs.push_back(v.get());
  absl::StatusOr<log::OpenedNote> opened = log::OpenNote(note, vs);
  if (!opened.ok()) {
    return absl::Status(
        opened.status().code(),
        absl::StrCat("approval attestation: ", opened.status().message()));
  }
  return ParseAttestationText(opened->text);
}

absl::Status CheckAttestationFor(const Attestation& att, absl::string_view id,
                                 absl::string_view request_sha256,
                                 absl::string_view principal,
                                 absl::string_view approver, absl::Time now) {
  auto mismatch = [](absl::string_view item, absl::string_view got,
                     absl::string_view want) {
    return absl::PermissionDeniedError(
        absl::StrCat("the attestation's '", item, "' is '", got.substr(0, 64),
                     "', not '", want.substr(0, 64), "'"));
  };
  if (att.id != id) return mismatch("id", att.id, id);
  if (request_sha256.empty() || att.request_sha256 != request_sha256)
    return mismatch("request", att.request_sha256, request_sha256);
  if (att.principal != principal)
    return mismatch("principal", att.principal, principal);
  if (att.by != approver) return mismatch("by", att.by, approver);
  if (now != absl::InfinitePast() &&
      absl::AbsDuration(now - att.approved) > kMaxAttestationSkew) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the attestation's 'approved' time ", FormatRfc3339Millis(att.approved),
        " is more than ", absl::FormatDuration(kMaxAttestationSkew),
        " from this node's clock (", FormatRfc3339Millis(now), ")"));
  }
  return absl::OkStatus();
}

}  // namespace clover::approvals
