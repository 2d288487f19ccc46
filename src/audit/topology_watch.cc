#include "audit/topology_watch.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/logger.h"
#include "core/status_macros.h"

namespace clover::audit {
namespace {

// "member us-east-1" -> "us-east-1".
absl::string_view NameOf(absl::string_view who) {
  const size_t space = who.find(' ');
  return space == absl::string_view::npos ? who : who.substr(space + 1);
}

bool Declared(const Region& region, absl::string_view name) {
  for (const DataCenter& dc : region.dcs) {
    if (dc.id == name) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<region::ObservedTopology> ObserveRegion(
    const RegionTopologyConfig& config, absl::Duration timeout) {
  absl::StatusOr<region::ObservedTopology> t =
      region::ObserveTopology(config.patroni_urls, config.dsn, timeout);
  if (!t.ok()) {
    return absl::Status(
        t.status().code(),
        absl::StrCat("region ", config.region.id, ": ", t.status().message()));
  }
  return t;
}

TopologyWatch::TopologyWatch(std::vector<RegionTopologyConfig> regions,
                             absl::Duration timeout, Observer observe)
    : regions_(std::move(regions)),
      observe_(std::move(observe)),
      current_(regions_.size()) {
  if (!observe_) {
    observe_ = [timeout](const RegionTopologyConfig& c) {
      return ObserveRegion(c, timeout);
    };
  }
}

std::vector<Finding> TopologyWatch::Check(absl::Time now) {
  std::vector<Finding> out;
  for (size_t i = 0; i < regions_.size(); ++i) {
    const RegionTopologyConfig& rc = regions_[i];
    absl::StatusOr<region::ObservedTopology> t = observe_(rc);
    if (!t.ok()) {
      logging::Warn(
          "topology check: cannot read the topology",
          {{"region", rc.region.id}, {"cause", t.status().ToString()}});
      continue;
    }
    ++checks_;
    const std::string declared = absl::StrJoin(
        rc.region.dcs, ", ",
        [](std::string* s, const DataCenter& dc) { s->append(dc.id); });
    absl::flat_hash_set<std::string> now_violating;
    for (const region::TopologyViolation& v :
         region::CheckTopology(rc.region, *t)) {
      if (!now_violating.insert(v.who).second) continue;
      if (current_[i].contains(v.who)) continue;  // same episode
      const bool declared_dc = Declared(rc.region, NameOf(v.who));
      Finding fd;
      fd.detector = std::string(kDetectorTopologyViolation);
      fd.severity = Severity::kHigh;
      fd.key = absl::StrCat(kDetectorTopologyViolation, "/", rc.region.id, "/",
                            v.who);
      fd.summary = absl::StrCat("region ", rc.region.id, ": ", v.ToString());
      fd.time = now;
      Evidence e;
      e.note = absl::StrCat(v.who, " (",
                            declared_dc ? "a declared DC" : "not a declared DC",
                            " of region ", rc.region.id,
                            "; declared: ", declared, "): ", v.reason);
      fd.evidence.push_back(std::move(e));
      out.push_back(std::move(fd));
    }
    for (const std::string& who : current_[i]) {
      if (!now_violating.contains(who)) {
        logging::Info("topology back within the region",
                      {{"region", rc.region.id}, {"member", who}});
      }
    }
    current_[i] = std::move(now_violating);
  }
  return out;
}

}  // namespace clover::audit
