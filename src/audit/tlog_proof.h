// C2SP tlog-proof (c2sp.org/tlog-proof@v1): an offline-verifiable proof that an
// entry is in a log, made of the entry index, its RFC 6962 inclusion proof and
// the (cosigned) checkpoint note it is proven against. Incident evidence is
// written in this form.
#ifndef CLOVER_AUDIT_TLOG_PROOF_H_
#define CLOVER_AUDIT_TLOG_PROOF_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "log/merkle.h"
#include "log/note.h"

namespace clover::audit {

struct TlogProof {
  std::string extra;  // decoded opaque extra data, may be empty
  uint64_t index = 0;
  std::vector<log::Hash> proof;
  std::string checkpoint;  // the signed note, verbatim
};

[[nodiscard]] std::string FormatTlogProof(const TlogProof& p);
// Errors: InvalidArgument naming the line at fault.
[[nodiscard]] absl::StatusOr<TlogProof> ParseTlogProof(absl::string_view text);

// Verifies that `entry` is at the proof's index in the checkpointed tree, the
// checkpoint being signed by one of `log_verifiers` for `origin`; when
// `witness_verifiers` is non-empty, at least one of them must also have
// cosigned it. Errors: InvalidArgument (syntax), Unauthenticated (signatures),
// DataLoss (proof does not verify).
[[nodiscard]] absl::Status VerifyTlogProof(
    absl::string_view text, absl::string_view entry, absl::string_view origin,
    std::span<const log::NoteVerifier* const> log_verifiers,
    std::span<const log::NoteVerifier* const> witness_verifiers = {});

}  // namespace clover::audit

#endif  // CLOVER_AUDIT_TLOG_PROOF_H_
