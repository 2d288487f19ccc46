// What a node on the region's database (storage.driver: postgres) needs for
// the region's access reports: its own DC's index in the region's table
// (gateway/regional_access_index.h), on connections of its own so that index
// writes and report scans never queue a request's approval or budget call,
// and the other DCs' logs, read-only (gateway/peer_logs.h).
#ifndef CLOVER_GATEWAY_REGIONAL_ACCESS_H_
#define CLOVER_GATEWAY_REGIONAL_ACCESS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "config/deployment.h"
#include "gateway/peer_logs.h"
#include "gateway/regional_access_index.h"
#include "kv/kv_store.h"

namespace clover::gateway {

struct RegionalAccess {
  std::unique_ptr<kv::KvStore> kv;  // the region's table
  std::unique_ptr<RegionalAccessIndexStore> index;
  std::unique_ptr<PeerLogs> peer_logs;
};

// For a deployment with a node section and storage.driver postgres. Errors:
// the store's when the region's table cannot be opened.
[[nodiscard]] absl::StatusOr<RegionalAccess> OpenRegionalAccess(
    const Deployment& deployment);

}  // namespace clover::gateway

#endif  // CLOVER_GATEWAY_REGIONAL_ACCESS_H_
