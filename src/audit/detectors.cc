#include "audit/detectors.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace clover::audit {

Detectors::Detectors(DetectorOptions options) : options_(std::move(options)) {
  canaries_.insert(options_.canary_pseudonyms.begin(),
                   options_.canary_pseudonyms.end());
  canary_planters_.insert(options_.canary_planters.begin(),
                          options_.canary_planters.end());
}

bool Detectors::RevealedRaw(const entry::DecisionEntry& e,
                            const entry::FieldEntry& fe) {
  if (e.action == "write" || e.action == "erase") return false;
  if (fe.effect == policy::Effect::kAllow) return true;
  return fe.effect == policy::Effect::kApproval && !e.approval.empty();
}

uint64_t Detectors::Slide(BulkState& b, absl::Duration window,
                          const entry::DecisionEntry& e, uint64_t index) {
  const absl::Time horizon = e.time - window;
  while (!b.window.empty() && std::get<0>(b.window.front()) < horizon) {
    auto& [t, subj, n, idx] = b.window.front();
    auto it = b.counts.find(subj);
    if (it != b.counts.end() && --it->second == 0) {
      b.counts.erase(it);
      b.distinct -= n;
    }
    b.window.pop_front();
  }
  // An export names a count, not pseudonyms: key it by its index so it never
  // merges.
  std::string subj = e.subject.empty() ? absl::StrCat("#", index) : e.subject;
  const uint64_t n = e.subject.empty() ? e.subject_count : 1;
  uint64_t& c = b.counts[subj];
  if (c++ == 0) b.distinct += n;
  b.window.emplace_back(e.time, std::move(subj), n, index);
  return b.distinct;
}

void Detectors::Observe(absl::string_view origin, uint64_t index,
                        const entry::DecisionEntry& e,
                        std::vector<Finding>* out) {
  auto finding = [&](absl::string_view detector, Severity sev, std::string key,
                     std::string summary) -> Finding& {
    Finding& f = out->emplace_back();
    f.detector = std::string(detector);
    f.severity = sev;
    f.key = absl::StrCat(detector, "/", origin, "/", key);
    f.summary = std::move(summary);
    f.time = e.time;
    f.origin = std::string(origin);
    return f;
  };

  const bool planting =
      e.action == "write" && canary_planters_.contains(e.principal_id);
  if (!e.subject.empty() && canaries_.contains(e.subject) && !planting) {
    Finding& f =
        finding(kDetectorCanary, Severity::kCritical,
                absl::StrCat(e.subject, "/", e.principal_id),
                absl::StrCat("canary subject touched by '", e.principal_id,
                             "' (", e.action, ", purpose ", e.purpose,
                             ", destination ", e.destination, ")"));
    f.indices.push_back(index);
  }

  if (options_.restricted_transfer && !e.subject_jurisdiction.empty() &&
      e.destination != e.subject_jurisdiction) {
    for (const entry::FieldEntry& fe : e.fields) {
      if (fe.restricted && RevealedRaw(e, fe)) {
        Finding& f = finding(
            kDetectorRestrictedTransfer, Severity::kHigh,
            absl::StrCat(e.principal_id, "/", e.destination, "/", fe.name),
            absl::StrCat("raw restricted field '", fe.name, "' (", fe.category,
                         ") of a '", e.subject_jurisdiction,
                         "' subject released to '", e.destination, "' for '",
                         e.principal_id, "' (", e.action,
                         fe.effect == policy::Effect::kAllow
                             ? std::string(")")
                             : absl::StrCat(", approval ", e.approval, ")")));
        f.indices.push_back(index);
      }
    }
  }

  // Bulk access: distinct subjects per principal in a sliding window.
  if (std::find(options_.bulk_actions.begin(), options_.bulk_actions.end(),
                e.action) != options_.bulk_actions.end() &&
      std::find(options_.bulk_principal_kinds.begin(),
                options_.bulk_principal_kinds.end(),
                e.principal_kind) != options_.bulk_principal_kinds.end()) {
    BulkState& b = bulk_[e.principal_id];
    Slide(b, options_.bulk_window, e, index);
    if (b.distinct > options_.bulk_subjects) {
      Finding& f =
          finding(kDetectorBulkAccess, Severity::kHigh, e.principal_id,
                  absl::StrCat("'", e.principal_id, "' accessed ", b.distinct,
                               " distinct subjects within ",
                               absl::FormatDuration(options_.bulk_window),
                               " (threshold ", options_.bulk_subjects, ")"));
      // Evidence: the oldest entries of the window and the one that crossed the
      // threshold.
      for (const auto& item : b.window) {
        if (f.indices.size() + 1 >= options_.max_indices) break;
        f.indices.push_back(std::get<3>(item));
      }
      if (f.indices.empty() || f.indices.back() != index)
        f.indices.push_back(index);
    }
  }

  // Bulk erasure, by principals of every kind: each erasure attempt counts.
  if (e.action == "erase") {
    BulkState& b = erasures_[e.principal_id];
    if (Slide(b, options_.bulk_erase_window, e, index) >
        options_.bulk_erase_subjects) {
      Finding& f = finding(
          kDetectorBulkErasure, Severity::kCritical, e.principal_id,
          absl::StrCat("'", e.principal_id, "' erased (or tried to erase) ",
                       b.distinct, " distinct subjects within ",
                       absl::FormatDuration(options_.bulk_erase_window),
                       " (threshold ", options_.bulk_erase_subjects, ")"));
      for (const auto& item : b.window) {
        if (f.indices.size() + 1 >= options_.max_indices) break;
        f.indices.push_back(std::get<3>(item));
      }
      if (f.indices.empty() || f.indices.back() != index)
        f.indices.push_back(index);
    }
  }

  // Denial bursts.
  bool denied = false;
  for (const entry::FieldEntry& fe : e.fields)
    denied |= fe.effect == policy::Effect::kDeny;
  if (denied) {
    DenialState& d = denials_[e.principal_id];
    const absl::Time horizon = e.time - options_.denial_window;
    while (!d.window.empty() && d.window.front().first < horizon)
      d.window.pop_front();
    d.window.emplace_back(e.time, index);
    if (d.window.size() > options_.denial_burst) {
      Finding& f =
          finding(kDetectorDenialBurst, Severity::kMedium, e.principal_id,
                  absl::StrCat("'", e.principal_id, "' was denied ",
                               d.window.size(), " times within ",
                               absl::FormatDuration(options_.denial_window),
                               " (threshold ", options_.denial_burst, ")"));
      for (const auto& [t, idx] : d.window) {
        if (f.indices.size() + 1 >= options_.max_indices) break;
        f.indices.push_back(idx);
      }
      if (f.indices.back() != index) f.indices.push_back(index);
    }
  }
}

bool StallDetector::Observe(absl::Time now, uint64_t tree_size,
                            int64_t traffic) {
  if (!started_ || tree_size > size_) {
    started_ = true;
    size_ = tree_size;
    grown_at_ = now;
    traffic_at_growth_ = traffic;
    return false;
  }
  if (traffic < 0 || traffic_at_growth_ < 0) {
    traffic_at_growth_ = traffic;
    return false;
  }
  return traffic > traffic_at_growth_ && now - grown_at_ >= after_;
}

}  // namespace clover::audit
