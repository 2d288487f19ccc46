#include "audit/erasure_check.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace clover::audit {

ErasureCheck::ErasureCheck(ErasureCheckOptions options)
    : options_(std::move(options)) {}

void ErasureCheck::Begin(absl::string_view origin, uint64_t first_index) {
  PerLog& log = logs_[origin];
  if (log.started) return;
  log.started = true;
  log.armed = first_index == 0;
}

void ErasureCheck::ObserveDecision(absl::string_view origin, uint64_t index,
                                   const entry::DecisionEntry& e) {
  // A refused erasure, or one of a subject already gone, logs records 0: it
  // erased nothing.
  if (e.action != "erase" || e.records == 0 || e.subject.empty()) return;
  logs_[origin].pending.push_back({index, e.subject, e.time});
}

void ErasureCheck::ObserveAttestation(absl::string_view origin, uint64_t index,
                                      const entry::ErasurePurge& a,
                                      std::vector<Finding>* out) {
  PerLog& log = logs_[origin];
  if (!log.attested_epochs.insert(a.new_epoch).second) return;
  std::vector<std::string> covered;
  std::vector<uint64_t> indices = {index};
  while (!log.pending.empty() && log.pending.front().index < a.cut_log_size) {
    covered.push_back(std::move(log.pending.front().pseudonym));
    if (indices.size() < options_.max_indices) {
      indices.push_back(log.pending.front().index);
    }
    log.pending.pop_front();
  }
  if (!log.armed) {
    log.armed = true;
    return;
  }
  std::vector<std::string> unique = covered;
  std::sort(unique.begin(), unique.end());
  unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
  const std::string root = entry::ErasedSubjectsRoot(unique);
  if (unique.size() == a.erased && root == a.erased_root) return;
  Finding fd;
  fd.detector = std::string(kDetectorErasureMismatch);
  fd.severity = Severity::kCritical;
  fd.key = absl::StrCat(kDetectorErasureMismatch, "/", origin, "/", a.node, "/",
                        a.new_epoch);
  fd.summary = absl::StrCat(
      "node '", a.node, "' (log '", origin, "'), entry ", index,
      ": its erasure attestation (destroyed ",
      a.destroyed_epochs.empty() ? "no epoch" : a.destroyed_epochs.front(),
      ") covers ", a.erased, " subjects with root ", a.erased_root,
      ", but the log holds ", unique.size(),
      " erasures before its cut at size ", a.cut_log_size, " with root ", root);
  fd.time = a.time;
  fd.origin = std::string(origin);
  fd.indices = std::move(indices);
  out->push_back(std::move(fd));
}

void ErasureCheck::CheckOverdue(absl::string_view origin, absl::Time now,
                                std::vector<Finding>* out) {
  auto it = logs_.find(origin);
  if (it == logs_.end()) return;
  const absl::Time deadline = now - options_.window - options_.slack;
  Finding fd;
  uint64_t overdue = 0;
  for (Pending& p : it->second.pending) {
    if (p.time > deadline) break;  // log order is (about) time order
    if (p.reported) continue;
    p.reported = true;
    ++overdue;
    if (fd.indices.size() < options_.max_indices) fd.indices.push_back(p.index);
  }
  if (overdue == 0) return;
  fd.detector = std::string(kDetectorErasureUnpurged);
  fd.severity = Severity::kHigh;
  fd.key = absl::StrCat(kDetectorErasureUnpurged, "/", origin);
  fd.summary = absl::StrCat(
      "log '", origin, "': ", overdue,
      " logged erasures have no erasure attestation after ",
      absl::FormatDuration(options_.window + options_.slack),
      " (the node has not purged its erasure epochs: the erased records "
      "remain recoverable from its disk with the KEK)");
  fd.time = now;
  fd.origin = std::string(origin);
  out->push_back(std::move(fd));
}

size_t ErasureCheck::pending(absl::string_view origin) const {
  auto it = logs_.find(origin);
  return it == logs_.end() ? 0 : it->second.pending.size();
}

}  // namespace clover::audit
