#include "gateway/peer_logs.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "core/logger.h"
#include "gateway/node.h"
#include "log/postgres_storage.h"
#include "log/storage.h"

namespace clover::gateway {
namespace {

// One peer's storage shared by its successive snapshots, read-only. The
// sequencer reads the metadata record and then the checkpoint; the peer's
// node may commit a batch between the two reads (each is its own
// statement). This returns the two from one state: the metadata read between
// two reads of an unchanged checkpoint (a batch writes both in one
// transaction, and every batch changes the checkpoint).
class SnapshotStorage final : public log::LogStorage {
 public:
  explicit SnapshotStorage(std::shared_ptr<log::LogStorage> base)
      : base_(std::move(base)) {}

  absl::StatusOr<std::string> ReadTile(int level, uint64_t index) override {
    return base_->ReadTile(level, index);
  }
  absl::StatusOr<std::string> ReadEntryBundle(uint64_t index) override {
    return base_->ReadEntryBundle(index);
  }
  absl::StatusOr<std::string> ReadBundleFragment(
      const log::FragmentId& id) override {
    return base_->ReadBundleFragment(id);
  }
  absl::StatusOr<std::string> ReadMetadata() override {
    constexpr int kAttempts = 20;
    for (int i = 0; i < kAttempts; ++i) {
      auto before = base_->ReadCheckpoint();
      if (!before.ok()) return before.status();
      auto meta = base_->ReadMetadata();
      if (!meta.ok()) return meta.status();
      auto after = base_->ReadCheckpoint();
      if (!after.ok()) return after.status();
      if (*before == *after) {
        checkpoint_ = *std::move(after);
        return meta;
      }
    }
    return absl::UnavailableError(
        "the log changed on every attempt to read a consistent state");
  }
  absl::StatusOr<std::string> ReadCheckpoint() override {
    if (checkpoint_.empty()) return base_->ReadCheckpoint();
    return checkpoint_;
  }
  absl::Status Write(const log::LogWriteBatch&) override {
    return absl::FailedPreconditionError("another node's log is read-only");
  }

 private:
  std::shared_ptr<log::LogStorage> base_;
  std::string checkpoint_;  // read with the metadata
};

}  // namespace

struct PeerLogs::Peer {
  std::string dc;
  absl::Mutex refresh_mu;  // one re-read at a time
  absl::Mutex mu;
  std::shared_ptr<log::LogStorage> storage ABSL_GUARDED_BY(refresh_mu);
  std::shared_ptr<const log::Sequencer> current ABSL_GUARDED_BY(mu);
  absl::Time read_at ABSL_GUARDED_BY(mu) = absl::InfinitePast();
};

PeerLogs::PeerLogs(std::string dsn, std::vector<std::string> dcs,
                   PeerLogsOptions options)
    : dsn_(std::move(dsn)), dcs_(std::move(dcs)), options_(options) {
  for (const std::string& dc : dcs_) {
    auto p = std::make_unique<Peer>();
    p->dc = dc;
    peers_.emplace(dc, std::move(p));
  }
}

PeerLogs::~PeerLogs() = default;

bool PeerLogs::Knows(absl::string_view dc) const {
  return peers_.find(dc) != peers_.end();
}

absl::StatusOr<std::shared_ptr<const log::Sequencer>> PeerLogs::Snapshot(
    absl::string_view dc, absl::Duration max_age) {
  auto it = peers_.find(dc);
  if (it == peers_.end()) {
    return absl::NotFoundError("no such data centre in this region");
  }
  Peer& p = *it->second;
  const absl::Time asked = absl::Now();
  auto fresh = [&]() -> std::shared_ptr<const log::Sequencer> {
    absl::MutexLock lock(&p.mu);
    // Read after `asked` (by another caller meanwhile) is fresh enough for
    // anyone.
    if (p.current != nullptr &&
        (p.read_at >= asked || asked - p.read_at < max_age)) {
      return p.current;
    }
    return nullptr;
  };
  if (auto s = fresh()) return s;
  if (!p.refresh_mu.TryLock()) {
    // Another reader is re-reading it: a view a little older will do, unless
    // the caller asked for one read now (or there is none yet).
    if (max_age > absl::ZeroDuration()) {
      absl::MutexLock lock(&p.mu);
      if (p.current != nullptr) return p.current;
    }
    p.refresh_mu.Lock();
  }
  struct Unlock {
    absl::Mutex& mu;
    ~Unlock() ABSL_UNLOCK_FUNCTION() { mu.Unlock(); }
  } unlock{p.refresh_mu};
  if (auto s = fresh()) return s;  // another reader just re-read it
  absl::Status error;
  if (p.storage == nullptr) {
    log::PostgresLogStorageOptions o;
    o.read_only = true;
    o.max_connections = 2;
    o.read_retry = options_.read_retry;
    auto st = log::OpenPostgresLogStorage(dsn_, PostgresNameOf(p.dc), o);
    if (st.ok()) {
      p.storage = *std::move(st);
    } else {
      error = st.status();
    }
  }
  const absl::Time read_started = absl::Now();
  if (p.storage != nullptr) {
    log::SequencerOptions o;
    o.tile_cache_tiles = 256;
    auto seq = log::Sequencer::Open(
        std::make_unique<SnapshotStorage>(p.storage), nullptr, std::move(o));
    if (seq.ok()) {
      std::shared_ptr<const log::Sequencer> s = *std::move(seq);
      absl::MutexLock lock(&p.mu);
      p.current = s;
      p.read_at = read_started;
      return s;
    }
    error = seq.status();
  }
  // Serve the last good snapshot while the database cannot be read (it is
  // still a signed checkpoint with its tree), unless the caller asked for
  // the log as it is now.
  absl::MutexLock lock(&p.mu);
  if (p.current != nullptr && max_age > absl::ZeroDuration() &&
      !absl::IsNotFound(error)) {
    logging::Warn("peer log: re-reading failed, serving the last snapshot",
                  {{"dc", p.dc}, {"cause", error.ToString()}});
    return p.current;
  }
  if (absl::IsNotFound(error)) {
    return absl::NotFoundError(
        absl::StrCat("data centre ", p.dc, " has no log yet"));
  }
  return absl::Status(error.code(), absl::StrCat("log of data centre ", p.dc,
                                                 ": ", error.message()));
}

}  // namespace clover::gateway
