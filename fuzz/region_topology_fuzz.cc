// Any bytes as Patroni's GET /cluster answer (remote input a node reads every
// 10 s) and as a libpq DSN (ParseDsnHosts): an error or a result, never a
// crash; a parsed topology goes through the residency comparison.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/deployment.h"
#include "region/topology.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto members = clover::region::ParsePatroniCluster(text);
  if (members.ok()) {
    clover::Region region;
    region.id = "eu";
    region.dcs = {{"ie-dub-1", "IE", "http://a", {"127.0.0.1:5432"}},
                  {"no-ham-1", "NO", "http://b", {"[::1]:5433", "pg"}}};
    clover::region::ObservedTopology t;
    t.members = *members;
    for (const auto& m : *members) {
      t.replicas.push_back({m.name, m.host, m.role});
    }
    (void)clover::region::CheckTopology(region, t);
  }
  auto hosts = clover::ParseDsnHosts(text);
  if (hosts.ok()) {
    for (const auto& h : *hosts) {
      (void)clover::DbHostMatches({"127.0.0.1:5432", "[::1]", "/run/pg"}, h);
    }
  }
  return 0;
}
