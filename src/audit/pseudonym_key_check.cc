#include "audit/pseudonym_key_check.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace clover::audit {

void PseudonymKeyCheck::Observe(absl::string_view origin, uint64_t index,
                                const entry::PseudonymKeyEvent& e,
                                std::vector<Finding>* out) {
  Region& r = regions_[e.region];
  const uint32_t key = entry::PseudonymKeyVersion(e.key);
  std::string wrong;
  if (e.event == "rotate") {
    const uint32_t old = entry::PseudonymKeyVersion(e.supersedes);
    auto [it, fresh] =
        r.rotations.try_emplace(key, std::pair{old, e.overlap_end});
    if (key != old + 1) {
      wrong = absl::StrCat("a rotation to ", e.key, " supersedes ",
                           e.supersedes, ", not v", key - 1);
    } else if (!fresh && it->second != std::pair{old, e.overlap_end}) {
      wrong = absl::StrCat("a rotation to ", e.key,
                           " disagrees with one announced before (v",
                           it->second.first, ", overlap to ",
                           absl::FormatTime(it->second.second), ")");
    } else {
      r.superseded.try_emplace(old, e.overlap_end);
    }
  } else {
    auto rotated = r.superseded.find(key);
    auto [it, fresh] = r.retired.try_emplace(key, e.overlap_end);
    if (rotated == r.superseded.end()) {
      wrong = absl::StrCat("the retirement of ", e.key,
                           " follows no announced rotation superseding it");
    } else if (rotated->second != e.overlap_end) {
      wrong = absl::StrCat("the retirement of ", e.key, " at ",
                           absl::FormatTime(e.overlap_end),
                           " is not the end of the overlap its rotation "
                           "announced (",
                           absl::FormatTime(rotated->second), ")");
    } else if (!fresh && it->second != e.overlap_end) {
      wrong = absl::StrCat("the retirement of ", e.key, " was announced at ",
                           absl::FormatTime(it->second), " before");
    }
  }
  if (wrong.empty()) return;
  Finding fd;
  fd.detector = std::string(kDetectorPseudonymKey);
  fd.severity = Severity::kHigh;
  fd.key = absl::StrCat(kDetectorPseudonymKey, "/", e.region, "/", e.key, "/",
                        e.event);
  fd.summary = absl::StrCat("region '", e.region, "', log '", origin,
                            "' entry ", index, " (node '", e.node,
                            "'): the pseudonym key history is broken: ", wrong);
  fd.time = e.time;
  fd.origin = std::string(origin);
  fd.indices = {index};
  out->push_back(std::move(fd));
}

}  // namespace clover::audit
