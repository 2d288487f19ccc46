// Point reads gathered into batches: callers hand in a key and a callback and
// return at once; a few threads of the batcher take every read waiting (up to
// a limit) and answer them with ONE lookup of many keys (for PostgreSQL one
// statement, one round trip), then call each callback. Under load many reads
// share a round trip and the callers' threads never block on the database;
// an idle batcher answers a lone read with a lookup of one key, at once.
//
// Each read is looked up after it was handed in (a lookup begins only after
// the reads it answers are queued), so it sees every write acknowledged
// before the read was asked for, as a direct Get would.
//
// Thread-safety: thread-safe. The destructor answers the reads still queued
// and joins the threads.
#ifndef CLOVER_VAULT_READ_BATCHER_H_
#define CLOVER_VAULT_READ_BATCHER_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "vault/storage.h"

namespace clover::vault {

class ReadBatcher {
 public:
  // Looks up `keys` (distinct) of `table`, filling `found` with those
  // present. An error fails every read of the batch.
  using Lookup = std::function<absl::Status(
      Table table, const std::vector<std::string>& keys,
      absl::flat_hash_map<std::string, std::string>* found)>;

  // `threads` lookups at most in flight at once, each of at most `max_keys`.
  ReadBatcher(Lookup lookup, size_t max_keys, int threads);
  ~ReadBatcher();
  ReadBatcher(const ReadBatcher&) = delete;
  ReadBatcher& operator=(const ReadBatcher&) = delete;

  // Queues a read of `key` in `table`; `done` runs on a batcher thread with
  // the value (nullopt: absent) or the lookup's error. The batch's callbacks
  // run one after another on that thread, which meanwhile looks nothing up
  // (the other threads do); `done` must not wait for another Read.
  void Read(Table table, std::string key, StorageDriver::GetDone done);

 private:
  struct Pending {
    Table table;
    std::string key;
    StorageDriver::GetDone done;
  };
  void Loop();
  // Answers `batch` (one table) with one lookup.
  void Answer(std::vector<Pending>& batch);

  const Lookup lookup_;
  const size_t max_keys_;
  absl::Mutex mu_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace clover::vault

#endif  // CLOVER_VAULT_READ_BATCHER_H_
