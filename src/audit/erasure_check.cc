#include "audit/erasure_check.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace clover::audit {

std::string ErasureCheckKey(absl::string_view origin) {
  return absl::StrCat("erasurecheck/", origin);
}

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

// Lines: "erasure-check 1", "armed 0|1", "epoch <id>" per attested epoch
// (sorted), "pending <index> <unix µs> <reported 0|1> <pseudonym>" in log
// order. Epoch ids and pseudonyms come from the log's JSON and hold no space
// or newline as the node writes them; one that does is not stored (an epoch:
// counted once per process as before) or ends the state (a pseudonym: the
// check re-arms at the next attestation, as for a resuming auditor).
std::string ErasureCheck::Encode(absl::string_view origin) const {
  auto it = logs_.find(origin);
  if (it == logs_.end()) return "";
  const PerLog& log = it->second;
  const auto plain = [](absl::string_view s) {
    return !s.empty() && s.find_first_of(" \n") == absl::string_view::npos;
  };
  bool armed = log.armed;
  std::string out = "erasure-check 1\n";
  std::vector<std::string> epochs(log.attested_epochs.begin(),
                                  log.attested_epochs.end());
  std::sort(epochs.begin(), epochs.end());
  std::string body;
  for (const std::string& e : epochs) {
    if (plain(e)) absl::StrAppend(&body, "epoch ", e, "\n");
  }
  for (const Pending& p : log.pending) {
    if (!plain(p.pseudonym)) {
      armed = false;
      break;
    }
    absl::StrAppend(&body, "pending ", p.index, " ", absl::ToUnixMicros(p.time),
                    " ", p.reported ? 1 : 0, " ", p.pseudonym, "\n");
  }
  absl::StrAppend(&out, "armed ", armed ? 1 : 0, "\n", body);
  return out;
}

absl::Status ErasureCheck::Restore(absl::string_view origin,
                                   absl::string_view state) {
  PerLog log;
  log.started = true;
  const auto bad = [&](absl::string_view line) {
    return absl::DataLossError(absl::StrCat(
        "erasure-check state of log '", origin, "': bad line '", line, "'"));
  };
  bool header = false;
  for (absl::string_view line :
       absl::StrSplit(state, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ');
    if (!header) {
      if (line != "erasure-check 1") return bad(line);
      header = true;
    } else if (f.size() == 2 && f[0] == "armed" &&
               (f[1] == "0" || f[1] == "1")) {
      log.armed = f[1] == "1";
    } else if (f.size() == 2 && f[0] == "epoch") {
      log.attested_epochs.insert(std::string(f[1]));
    } else if (f.size() == 5 && f[0] == "pending") {
      Pending p;
      int64_t micros;
      if (!absl::SimpleAtoi(f[1], &p.index) ||
          !absl::SimpleAtoi(f[2], &micros) || (f[3] != "0" && f[3] != "1")) {
        return bad(line);
      }
      p.time = absl::FromUnixMicros(micros);
      p.reported = f[3] == "1";
      p.pseudonym = std::string(f[4]);
      log.pending.push_back(std::move(p));
    } else {
      return bad(line);
    }
  }
  if (!header) return bad("");
  logs_[origin] = std::move(log);
  return absl::OkStatus();
}

}  // namespace clover::audit
