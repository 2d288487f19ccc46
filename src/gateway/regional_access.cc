#include "gateway/regional_access.h"

#include <string>
#include <utility>
#include <vector>

#include "gateway/node.h"
#include "kv/postgres_kv_store.h"

namespace clover::gateway {

absl::StatusOr<RegionalAccess> OpenRegionalAccess(
    const Deployment& deployment) {
  if (!deployment.node.has_value()) {
    return absl::InvalidArgumentError("field 'node': required");
  }
  const NodeConfig& n = *deployment.node;
  const StorageConfig& st = deployment.storage;
  kv::PostgresKvOptions pg;
  pg.retry = st.postgres_retry;
  pg.max_connections = 2;
  auto kv = kv::OpenPostgresKvStore(st.postgres_dsn,
                                    RegionalStateTable(n.region), pg);
  if (!kv.ok()) return kv.status();
  RegionalAccess out;
  out.kv = *std::move(kv);
  out.index =
      std::make_unique<RegionalAccessIndexStore>(*out.kv, n.region, n.dc);
  std::vector<std::string> peers;
  if (const Region* r = deployment.FindRegion(n.region)) {
    for (const DataCenter& dc : r->dcs) {
      if (dc.id != n.dc) peers.push_back(dc.id);
    }
  }
  PeerLogsOptions o;
  o.read_retry = st.postgres_retry;
  out.peer_logs =
      std::make_unique<PeerLogs>(st.postgres_dsn, std::move(peers), o);
  return out;
}

}  // namespace clover::gateway
