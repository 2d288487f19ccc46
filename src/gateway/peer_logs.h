// The logs of the other DCs of this node's region, read-only, from the
// region's database (storage.driver: postgres; each node's log is the schema
// clover_log_<dc>, log/postgres_storage.h). They let any node prove another
// node's decisions in an access report and serve a lost node's log to
// verifiers and the auditor (GET /logs/<dc>/...). Nothing here can write: the
// storage is opened read-only and the sequencer without a signing key.
//
// A peer's log changes while its node runs: a snapshot is re-read from the
// database when it is older than `max_age`; a snapshot is always one signed
// checkpoint with the tree it commits to (the tiles read are verified against
// the checkpoint's root).
#ifndef CLOVER_GATEWAY_PEER_LOGS_H_
#define CLOVER_GATEWAY_PEER_LOGS_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "log/sequencer.h"

namespace clover::gateway {

struct PeerLogsOptions {
  // How old a snapshot may be before a reader re-reads it.
  absl::Duration max_age = absl::Seconds(1);
  // How long a read of the database keeps retrying while it is unreachable.
  absl::Duration read_retry = absl::Seconds(10);
};

// Thread-safe.
class PeerLogs {
 public:
  // `dcs`: the region's other DCs. Connects lazily (nothing is read here).
  PeerLogs(std::string dsn, std::vector<std::string> dcs,
           PeerLogsOptions options = {});
  ~PeerLogs();

  // Whether `dc` is one of the peers.
  [[nodiscard]] bool Knows(absl::string_view dc) const;
  [[nodiscard]] const std::vector<std::string>& dcs() const { return dcs_; }

  // A read-only view of `dc`'s log, at most max_age old (or older, if the
  // database cannot be read now but was before). Errors: NotFound for a DC
  // that is not a peer or whose node never created its log; Unavailable when
  // the database cannot be reached; DataLoss if the stored log is
  // inconsistent.
  [[nodiscard]] absl::StatusOr<std::shared_ptr<const log::Sequencer>> Snapshot(
      absl::string_view dc) {
    return Snapshot(dc, options_.max_age);
  }
  // At most `max_age` old (zero: re-read now, as an access report does, so
  // that it lists every decision the peer's node had acknowledged; then an
  // error, never an older view, when it cannot be re-read).
  [[nodiscard]] absl::StatusOr<std::shared_ptr<const log::Sequencer>> Snapshot(
      absl::string_view dc, absl::Duration max_age);

 private:
  struct Peer;
  const std::string dsn_;
  const std::vector<std::string> dcs_;
  const PeerLogsOptions options_;
  std::map<std::string, std::unique_ptr<Peer>, std::less<>> peers_;
};

}  // namespace clover::gateway

#endif  // CLOVER_GATEWAY_PEER_LOGS_H_
