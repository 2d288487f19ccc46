#include "audit/topology_watch.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/postgres_connection.h"
#include "core/status_macros.h"
#include "net/http_client.h"
#include "spdlog/spdlog.h"

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
  region::ObservedTopology t;
  net::HttpClient http;
  std::string last_error = "no Patroni URL configured";
  bool answered = false;
  for (const std::string& base : config.patroni_urls) {
    const std::string url = absl::StrCat(base, "/cluster");
    net::HttpCall call;
    call.url = url;
    call.timeout = timeout;
    call.max_answer_bytes = size_t{1} << 20;
    absl::StatusOr<net::HttpAnswer> a = http.Send(call);
    if (!a.ok()) {
      last_error = std::string(a.status().message());  // names no credentials
      continue;
    }
    if (a->status != 200) {
      last_error = absl::StrCat("GET /cluster answered ", a->status);
      continue;
    }
    CLOVER_ASSIGN_OR_RETURN(t.members, region::ParsePatroniCluster(a->body));
    answered = true;
    break;
  }
  if (!answered) {
    return absl::UnavailableError(
        absl::StrCat("region ", config.region.id,
                     ": no Patroni REST API answers (last: ", last_error, ")"));
  }
  if (config.dsn.empty()) return t;
  // The DSN names a read-write session (target_session_attrs=read-write):
  // the leader, whose pg_stat_replication lists who streams from it.
  CLOVER_ASSIGN_OR_RETURN(std::unique_ptr<pg::Connection> c,
                          pg::Connection::Open(config.dsn));
  CLOVER_RETURN_IF_ERROR(
      c->Prepare("clover_audit_topology",
                 "SELECT coalesce(application_name, ''), "
                 "coalesce(host(client_addr), ''), coalesce(sync_state, '') "
                 "FROM pg_stat_replication ORDER BY application_name",
                 {}));
  CLOVER_ASSIGN_OR_RETURN(pg::Result r,
                          c->Query(pg::Statement{"clover_audit_topology", {}},
                                   "read pg_stat_replication"));
  for (int row = 0; row < PQntuples(r.get()); ++row) {
    auto col = [&](int i) {
      return std::string(PQgetvalue(r.get(), row, i),
                         PQgetlength(r.get(), row, i));
    };
    t.replicas.push_back({col(0), col(1), col(2)});
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
      spdlog::warn("topology check of region {}: cannot read the topology: {}",
                   rc.region.id, std::string(t.status().message()));
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
        spdlog::info("topology of region {}: {} is back within the region",
                     rc.region.id, who);
      }
    }
    current_[i] = std::move(now_violating);
  }
  return out;
}

}  // namespace clover::audit
