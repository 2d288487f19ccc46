#include "log/checkpoint.h"

#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "core/status_macros.h"

namespace clover::log {

std::string FormatCheckpoint(const Checkpoint& c) {
  std::string out = absl::StrCat(
      c.origin, "\n", c.size, "\n",
      absl::Base64Escape(absl::string_view(
          reinterpret_cast<const char*>(c.root.data()), c.root.size())),
      "\n");
  for (const auto& e : c.extensions) absl::StrAppend(&out, e, "\n");
  return out;
}

absl::StatusOr<Checkpoint> ParseCheckpoint(absl::string_view text) {
  if (text.empty() || text.back() != '\n') {
    return absl::InvalidArgumentError("checkpoint: text must end in a newline");
  }
  text.remove_suffix(1);
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  if (lines.size() < 3)
    return absl::InvalidArgumentError("checkpoint: fewer than 3 lines");
  Checkpoint c;
  if (lines[0].empty())
    return absl::InvalidArgumentError("checkpoint: empty origin line");
  c.origin = std::string(lines[0]);
  absl::string_view size = lines[1];
  if (size.empty() || size.size() > 20 || (size.size() > 1 && size[0] == '0')) {
    return absl::InvalidArgumentError(
        "checkpoint: line 2 must be a tree size without leading zeros");
  }
  uint64_t v = 0;
  for (char ch : size) {
    if (ch < '0' || ch > '9') {
      return absl::InvalidArgumentError(
          "checkpoint: line 2 tree size is not decimal");
    }
    const uint64_t d = static_cast<uint64_t>(ch - '0');
    if (v > (UINT64_MAX - d) / 10) {
      return absl::InvalidArgumentError(
          "checkpoint: line 2 tree size out of range");
    }
    v = v * 10 + d;
  }
  c.size = v;
  std::string root;
  if (!absl::Base64Unescape(lines[2], &root) || root.size() != kHashSize ||
      absl::Base64Escape(root) != lines[2]) {
    return absl::InvalidArgumentError(
        "checkpoint: line 3 must be base64 of a 32-byte root hash");
  }
  std::memcpy(c.root.data(), root.data(), kHashSize);
  for (size_t i = 3; i < lines.size(); ++i) {
    if (lines[i].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("checkpoint: empty extension line ", i + 1));
    }
    c.extensions.emplace_back(lines[i]);
  }
  return c;
}

absl::StatusOr<Checkpoint> OpenCheckpoint(
    absl::string_view note, absl::string_view origin,
    std::span<const NoteVerifier* const> verifiers) {
  CLOVER_ASSIGN_OR_RETURN(OpenedNote opened, OpenNote(note, verifiers));
  CLOVER_ASSIGN_OR_RETURN(Checkpoint c, ParseCheckpoint(opened.text));
  if (!origin.empty() && c.origin != origin) {
    return absl::UnauthenticatedError(
        absl::StrCat("checkpoint origin '", c.origin, "' is not the expected '",
                     origin, "'"));
  }
  return c;
}

}  // namespace clover::log
