#include "audit/tlog_proof.h"

#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/json_fields.h"
#include "core/rfc3339.h"
#include "core/status_macros.h"
#include "log/checkpoint.h"

namespace clover::audit {
namespace {

constexpr absl::string_view kHeader = "c2sp.org/tlog-proof@v1";

// Next line without its newline; false at the end of the text (or a missing
// newline).
bool NextLine(absl::string_view& rest, absl::string_view* line) {
  size_t nl = rest.find('\n');
  if (nl == absl::string_view::npos) return false;
  *line = rest.substr(0, nl);
  rest.remove_prefix(nl + 1);
  return true;
}

absl::Status Bad(int line, absl::string_view msg) {
  return absl::InvalidArgumentError(
      absl::StrCat("tlog-proof line ", line, ": ", msg));
}

}  // namespace

std::string FormatTlogProof(const TlogProof& p) {
  std::string out = absl::StrCat(kHeader, "\n");
  if (!p.extra.empty())
    absl::StrAppend(&out, "extra ", absl::Base64Escape(p.extra), "\n");
  absl::StrAppend(&out, "index ", p.index, "\n");
  for (const log::Hash& h : p.proof) {
    absl::StrAppend(&out,
                    absl::Base64Escape(absl::string_view(
                        reinterpret_cast<const char*>(h.data()), h.size())),
                    "\n");
  }
  absl::StrAppend(&out, "\n", p.checkpoint);
  return out;
}

absl::StatusOr<TlogProof> ParseTlogProof(absl::string_view text) {
  TlogProof p;
  absl::string_view rest = text;
  absl::string_view line;
  int n = 1;
  if (!NextLine(rest, &line) || line != kHeader)
    return Bad(n, "expected c2sp.org/tlog-proof@v1");
  if (!NextLine(rest, &line)) return Bad(n + 1, "truncated");
  ++n;
  if (absl::StartsWith(line, "extra ")) {
    if (!absl::Base64Unescape(line.substr(6), &p.extra))
      return Bad(n, "bad base64 extra data");
    if (!NextLine(rest, &line)) return Bad(n + 1, "truncated");
    ++n;
  }
  absl::string_view idx = line;
  if (!absl::ConsumePrefix(&idx, "index ") || idx.empty() ||
      (idx.size() > 1 && idx[0] == '0') || !absl::SimpleAtoi(idx, &p.index) ||
      idx.find_first_not_of("0123456789") != idx.npos) {
    return Bad(n, "expected 'index N' with no leading zeros");
  }
  while (true) {
    if (!NextLine(rest, &line))
      return Bad(n + 1, "missing blank line before the checkpoint");
    ++n;
    if (line.empty()) break;
    std::string raw;
    if (p.proof.size() >= 64) return Bad(n, "too many proof hashes");
    if (!absl::Base64Unescape(line, &raw) || raw.size() != log::kHashSize ||
        absl::Base64Escape(raw) != line) {
      return Bad(n, "not the base64 of a 32-byte hash");
    }
    log::Hash h;
    std::memcpy(h.data(), raw.data(), h.size());
    p.proof.push_back(h);
  }
  if (rest.empty()) return Bad(n + 1, "missing checkpoint");
  p.checkpoint = std::string(rest);
  return p;
}

absl::Status VerifyTlogProof(
    absl::string_view text, absl::string_view entry, absl::string_view origin,
    std::span<const log::NoteVerifier* const> log_verifiers,
    std::span<const log::NoteVerifier* const> witness_verifiers) {
  CLOVER_ASSIGN_OR_RETURN(TlogProof p, ParseTlogProof(text));
  CLOVER_ASSIGN_OR_RETURN(
      log::Checkpoint cp,
      log::OpenCheckpoint(p.checkpoint, origin, log_verifiers));
  if (!witness_verifiers.empty()) {
    absl::StatusOr<log::OpenedNote> w =
        log::OpenNote(p.checkpoint, witness_verifiers);
    if (!w.ok()) {
      return absl::UnauthenticatedError(
          absl::StrCat("checkpoint not cosigned by a trusted witness: ",
                       w.status().message()));
    }
  }
  if (p.index >= cp.size) {
    return absl::InvalidArgumentError(
        absl::StrCat("index ", p.index,
                     " is outside the checkpointed tree of size ", cp.size));
  }
  return log::VerifyInclusion(p.index, cp.size, log::LeafHash(entry), p.proof,
                              cp.root);
}

}  // namespace clover::audit
