// The index from subject pseudonym to the log entries that name it, derived
// from the log itself: a background thread tails the log and records every
// entry's "subject" (and an approval's "subjects") in the state store with the
// position it has reached. Because the log is the source of truth, a crash
// loses nothing: the index resumes where it stopped. The gateway also notes
// what each entry it appended names (Note), so catching up reads and parses
// back from the log only the entries nobody noted (other writers, a restart).
#ifndef CLOVER_GATEWAY_ACCESS_INDEX_H_
#define CLOVER_GATEWAY_ACCESS_INDEX_H_

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gateway/access_index_store.h"
#include "log/log_reader.h"

namespace clover::gateway {

class AccessIndex {
 public:
  // `log` and `store` must outlive the index.
  AccessIndex(const log::LogReader& log, AccessIndexStore& store)
      : log_(log), store_(store) {}
  ~AccessIndex();

  // Indexes every entry up to the log's current size. Thread-safe.
  [[nodiscard]] absl::Status CatchUp();

  // Starts a thread calling CatchUp every `period` until Stop or destruction.
  void Start(absl::Duration period);
  void Stop();

  // Records that the entry at `index` names `subject` (a pseudonym; empty for
  // none), so that catching up need not read it back from the log. Only for
  // entries whose single top-level "subject" is all they name (decisions); the
  // rest are read from the log. Notes for entries already indexed are dropped.
  // Thread-safe.
  void Note(uint64_t index, std::string subject);
  // Log indices naming `pseudonym`, after catching up. Thread-safe.
  [[nodiscard]] absl::StatusOr<std::vector<uint64_t>> EntriesOf(
      absl::string_view pseudonym);

 private:
  const log::LogReader& log_;
  AccessIndexStore& store_;
  // Moves the notes for [from, to) into `out` (one slot per index, empty where
  // none); true if every index in the range had one.
  bool TakeNoted(uint64_t from, uint64_t to,
                 std::vector<std::optional<std::string>>& out);
  void Indexed(uint64_t up_to);

  absl::Mutex catch_up_mu_;  // one catch-up at a time
  absl::Mutex noted_mu_;
  absl::btree_map<uint64_t, std::string> noted_ ABSL_GUARDED_BY(noted_mu_);
  uint64_t indexed_ ABSL_GUARDED_BY(noted_mu_) = 0;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace clover::gateway

#endif  // CLOVER_GATEWAY_ACCESS_INDEX_H_
