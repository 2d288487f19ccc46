// The witness over HTTP, one implementation for both the auditor's witness
// and the stand-alone one (`clover witness --config FILE`):
//   POST /add-checkpoint   C2SP tlog-witness (Witness::HandleAddCheckpoint)
//   GET  /v1/checkpoints   the latest cosigned checkpoint per log (public)
//   GET  /healthz
// The stand-alone witness keeps its state in <data_dir>/store (a KvStore,
// synced before each answer, so a cosigned size survives kill -9). Evidence
// against a log (two signed checkpoints of one size with different roots) is
// logged at error level and kept in the store under "evidence/".
//
// Thread-safety: Start/Stop from one thread; the handlers run concurrently
// (the Witness serialises its check-and-persist).
#ifndef CLOVER_AUDIT_WITNESS_SERVER_H_
#define CLOVER_AUDIT_WITNESS_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "audit/audit_config.h"
#include "audit/witness.h"
#include "core/clock.h"
#include "kv/kv_store.h"
#include "server/http.h"
#include "server/http_server.h"
#include "server/router.h"

namespace clover::audit {

// The add-checkpoint handler of `witness` (must outlive it).
[[nodiscard]] server::Handler AddCheckpointHandler(Witness& witness);

// The JSON of GET /v1/checkpoints: {"logs":[{"origin","size","checkpoint"}],
// "witness_key"}, for the logs in `origins` the witness has cosigned.
[[nodiscard]] std::string WitnessedCheckpointsJson(
    const Witness& witness, const std::vector<std::string>& origins);

class WitnessServer {
 public:
  // Opens the store and the witness state. Errors: those of the key file
  // (never echoing the key), the store and the stored state.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<WitnessServer>> Create(
      WitnessConfig config, const Clock& clock = SystemClock());
  ~WitnessServer();

  // Errors: Unavailable if the address cannot be bound.
  [[nodiscard]] absl::Status Start();
  void Stop();
  int port() const;
  server::Handler handler() const { return handler_; }
  // The routes handler() serves (the API contract test).
  const std::vector<server::Router::RouteInfo>& routes() const {
    return routes_;
  }
  Witness& witness() { return *witness_; }

 private:
  explicit WitnessServer(WitnessConfig config) : config_(std::move(config)) {}

  const WitnessConfig config_;
  std::unique_ptr<kv::KvStore> kv_;
  std::unique_ptr<Witness> witness_;
  server::Handler handler_;
  std::vector<server::Router::RouteInfo> routes_;
  std::unique_ptr<server::HttpServer> server_;
};

}  // namespace clover::audit

#endif  // CLOVER_AUDIT_WITNESS_SERVER_H_
