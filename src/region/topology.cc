#include "region/topology.h"

#include <arpa/inet.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/json_parse.h"
#include "core/logger.h"
#include "core/postgres_connection.h"
#include "core/status_macros.h"
#include "net/http_client.h"
#include "rapidjson/document.h"

namespace clover::region {
namespace {

const DataCenter* FindDc(const Region& region, absl::string_view id) {
  for (const DataCenter& dc : region.dcs) {
    if (dc.id == id) return &dc;
  }
  return nullptr;
}

bool IsIpLiteral(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// The IP addresses among a DC's db_hosts (the host part of each entry).
std::vector<std::string> DeclaredAddresses(const DataCenter& dc) {
  std::vector<std::string> out;
  for (const std::string& e : dc.db_hosts) {
    std::string host = e;
    if (!e.empty() && e.front() == '[') {
      host = e.substr(1, e.find(']') - 1);
    } else if (std::count(e.begin(), e.end(), ':') == 1) {
      host = e.substr(0, e.find(':'));
    }
    if (IsIpLiteral(host)) out.push_back(host);
  }
  return out;
}

}  // namespace

std::vector<TopologyViolation> CheckTopology(const Region& region,
                                             const ObservedTopology& observed) {
  std::vector<TopologyViolation> out;
  const std::string dcs = absl::StrJoin(
      region.dcs, ", ",
      [](std::string* s, const DataCenter& dc) { s->append(dc.id); });
  for (const ObservedMember& m : observed.members) {
    const std::string who = absl::StrCat("member ", m.name);
    const DataCenter* dc = FindDc(region, m.name);
    if (dc == nullptr) {
      out.push_back({who, absl::StrCat("is not a data centre of region ",
                                       region.id, " (", dcs, "); at ", m.host,
                                       ":", m.port, ", role ", m.role)});
      continue;
    }
    if (!dc->db_hosts.empty() &&
        !DbHostMatches(dc->db_hosts, {m.host, absl::StrCat(m.port)})) {
      out.push_back(
          {who, absl::StrCat("runs at ", m.host, ":", m.port,
                             ", not a declared db_hosts entry of ", dc->id)});
    }
  }
  for (const ObservedReplica& r : observed.replicas) {
    const std::string who = absl::StrCat("replica ", r.application_name);
    const DataCenter* dc = FindDc(region, r.application_name);
    if (dc == nullptr) {
      out.push_back(
          {who, absl::StrCat(
                    "streams from the leader (", r.sync_state, ", from ",
                    r.client_addr.empty() ? "a local socket" : r.client_addr,
                    ") but is not a data centre of region ", region.id, " (",
                    dcs, ")")});
      continue;
    }
    std::vector<std::string> addresses = DeclaredAddresses(*dc);
    if (!r.client_addr.empty() && !addresses.empty() &&
        std::find(addresses.begin(), addresses.end(), r.client_addr) ==
            addresses.end()) {
      out.push_back(
          {who, absl::StrCat("connects from ", r.client_addr,
                             ", not a declared address of ", dc->id, " (",
                             absl::StrJoin(addresses, ", "), ")")});
    }
  }
  return out;
}

absl::StatusOr<std::vector<ObservedMember>> ParsePatroniCluster(
    absl::string_view body) {
  rapidjson::Document doc;
  if (absl::Status s = ParseJson(body, &doc); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("patroni /cluster: ", s.message()));
  }
  if (!doc.IsObject() || !doc.HasMember("members") ||
      !doc["members"].IsArray()) {
    return absl::InvalidArgumentError("patroni /cluster: no members array");
  }
  std::vector<ObservedMember> out;
  for (const auto& m : doc["members"].GetArray()) {
    if (!m.IsObject()) {
      return absl::InvalidArgumentError(
          "patroni /cluster: a member is not an object");
    }
    auto str = [&](const char* key) {
      return m.HasMember(key) && m[key].IsString()
                 ? std::string(m[key].GetString())
                 : std::string();
    };
    ObservedMember o;
    o.name = str("name");
    if (o.name.empty()) {
      return absl::InvalidArgumentError(
          "patroni /cluster: a member has no name");
    }
    o.host = str("host");
    o.port = m.HasMember("port") && m["port"].IsInt() ? m["port"].GetInt() : 0;
    o.role = str("role");
    o.state = str("state");
    out.push_back(std::move(o));
  }
  return out;
}

namespace {

// "http://user:secret@host:8008" -> "http://host:8008": a Patroni URL may
// carry credentials, which no error message repeats.
std::string WithoutUserinfo(absl::string_view url) {
  const size_t scheme = url.find("://");
  const size_t from = scheme == absl::string_view::npos ? 0 : scheme + 3;
  const size_t at = url.find('@', from);
  const size_t slash = url.find('/', from);
  if (at == absl::string_view::npos ||
      (slash != absl::string_view::npos && at > slash)) {
    return std::string(url);
  }
  return absl::StrCat(url.substr(0, from), url.substr(at + 1));
}

}  // namespace

absl::StatusOr<ObservedTopology> ObserveTopology(
    const std::vector<std::string>& patroni_urls, const std::string& dsn,
    absl::Duration timeout) {
  ObservedTopology t;
  net::HttpClient http;
  std::string last_error = "no storage.patroni_urls";
  bool answered = false;
  for (const std::string& base : patroni_urls) {
    const std::string url = absl::StrCat(base, "/cluster");
    net::HttpCall call;
    call.url = url;
    call.timeout = timeout;
    call.max_answer_bytes = size_t{1} << 20;
    absl::StatusOr<net::HttpAnswer> a = http.Send(call);
    if (!a.ok()) {
      last_error =
          absl::StrCat(WithoutUserinfo(base), ": ", a.status().message());
      continue;
    }
    if (a->status != 200) {
      last_error =
          absl::StrCat(WithoutUserinfo(base), ": answered ", a->status);
      continue;
    }
    CLOVER_ASSIGN_OR_RETURN(t.members, ParsePatroniCluster(a->body));
    answered = true;
    break;
  }
  if (!answered) {
    return absl::UnavailableError(
        absl::StrCat("no Patroni REST API answers: ", last_error));
  }
  if (dsn.empty()) return t;
  // A read-write session (the region's DSN asks for one): the leader, whose
  // pg_stat_replication lists the replicas streaming from it.
  CLOVER_ASSIGN_OR_RETURN(std::unique_ptr<pg::Connection> c,
                          pg::Connection::Open(dsn));
  CLOVER_RETURN_IF_ERROR(
      c->Prepare("clover_topology",
                 "SELECT coalesce(application_name, ''), "
                 "coalesce(host(client_addr), ''), coalesce(sync_state, '') "
                 "FROM pg_stat_replication ORDER BY application_name",
                 {}));
  CLOVER_ASSIGN_OR_RETURN(pg::Result r,
                          c->Query(pg::Statement{"clover_topology", {}},
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

TopologyMonitor::TopologyMonitor(Region region, Observer observe,
                                 absl::Duration interval,
                                 std::function<void(uint64_t)> on_violations)
    : region_(std::move(region)),
      observe_(std::move(observe)),
      interval_(interval),
      on_violations_(std::move(on_violations)) {
  thread_ = std::thread([this] {
    do {
      CheckOnce();
    } while (!stop_.WaitForNotificationWithTimeout(interval_));
  });
}

TopologyMonitor::~TopologyMonitor() {
  stop_.Notify();
  thread_.join();
}

std::string TopologyMonitor::Violations() const {
  absl::MutexLock lock(&mu_);
  return violations_;
}

void TopologyMonitor::CheckOnce() {
  absl::StatusOr<ObservedTopology> t = observe_();
  if (!t.ok()) {
    logging::Warn("topology check: cannot read the topology",
                  {{"region", region_.id}, {"cause", t.status().ToString()}});
    return;
  }
  std::vector<TopologyViolation> v = CheckTopology(region_, *t);
  std::string text =
      absl::StrJoin(v, "; ", [](std::string* s, const TopologyViolation& x) {
        s->append(x.ToString());
      });
  for (const TopologyViolation& x : v) {
    logging::Error(absl::StrCat("topology violation in region ", region_.id,
                                ": ", x.ToString()),
                   {{"region", region_.id}});
  }
  if (!v.empty() && on_violations_) on_violations_(v.size());
  {
    absl::MutexLock lock(&mu_);
    if (v.empty() && !violations_.empty()) {
      logging::Info("topology back within the region's DCs",
                    {{"region", region_.id}});
    }
    violations_ = std::move(text);
  }
  checks_.fetch_add(1);
}

}  // namespace clover::region
