// Log entries as the auditor (DOM) and the access index (SAX) read them from a
// log they do not trust, key-release log entries and the judgement of a
// release against a decision entry, legacy-migration deletion attestations
// (as parsed and as the auditor's check takes them in), pseudonym-key
// entries, and tlog-proof texts.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "audit/legacy_check.h"
#include "audit/release_check.h"
#include "audit/tlog_proof.h"
#include "entry/entry_subjects.h"
#include "entry/erasure_attestation.h"
#include "entry/legacy_deletion.h"
#include "entry/log_entry.h"
#include "entry/pseudonym_key_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  clover::entry::LogEntry entry;
  (void)clover::entry::ParseLogEntry(text, &entry);
  // An erasure attestation that parses writes back to an entry that parses
  // to the same thing.
  auto attestation = clover::entry::ParseErasurePurge(text);
  if (attestation.ok()) {
    auto again = clover::entry::ParseErasurePurge(
        clover::entry::ErasurePurgeJson(*attestation));
    if (!again.ok() || again->erased_root != attestation->erased_root ||
        again->destroyed_epochs != attestation->destroyed_epochs ||
        again->cut_log_size != attestation->cut_log_size)
      std::abort();
  }
  // A deletion attestation that parses writes back to one that parses to the
  // same counts, hashes and indexes.
  auto deletion = clover::entry::ParseLegacyDeletion(text);
  if (deletion.ok()) {
    auto again = clover::entry::ParseLegacyDeletion(
        clover::entry::LegacyDeletionJson(*deletion));
    if (!again.ok() || again->records != deletion->records ||
        again->batch != deletion->batch ||
        again->key_hashes.size() != deletion->key_hashes.size() ||
        again->write_indexes != deletion->write_indexes)
      std::abort();
  }
  // A pseudonym-key entry that parses writes back to one that parses to the
  // same event.
  auto key_event = clover::entry::ParsePseudonymKey(text);
  if (key_event.ok()) {
    auto again = clover::entry::ParsePseudonymKey(
        clover::entry::PseudonymKeyJson(*key_event));
    if (!again.ok() || again->event != key_event->event ||
        again->key != key_event->key ||
        again->supersedes != key_event->supersedes)
      std::abort();
  }
  // The auditor's check takes any entry in: kept, or a finding.
  {
    clover::audit::LegacyCheck check({});
    clover::kv::KvBatch batch;
    std::vector<clover::audit::LegacyCheck::Found> found;
    check.Observe("log", 7, std::string(text), absl::UnixEpoch(), batch,
                  &found);
    if (found.size() + check.Summaries().size() != 1) std::abort();
  }
  // A release entry judged against the same text as its decision.
  auto release = clover::audit::ParseReleaseEntry(text);
  if (release.ok()) {
    (void)clover::audit::JudgeRelease(
        *release,
        [text](const std::string&, uint64_t) -> absl::StatusOr<std::string> {
          return std::string(text);
        },
        absl::Minutes(1));
  }
  std::vector<std::string> subjects;
  (void)clover::entry::SubjectsOf(text, subjects);
  auto proof = clover::audit::ParseTlogProof(text);
  if (proof.ok()) {
    auto again =
        clover::audit::ParseTlogProof(clover::audit::FormatTlogProof(*proof));
    if (!again.ok() || again->index != proof->index ||
        again->proof != proof->proof)
      std::abort();
  }
  return 0;
}
