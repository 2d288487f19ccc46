// The index from subject pseudonym to the log entries that name it, derived
// from the log itself: a background thread tails the log and records every
// entry's "subject" (and an approval's "subjects") in the state store with the
// position it has reached. Because the log is the source of truth, a crash
// loses nothing: the index resumes where it stopped.
#ifndef CLOVER_GATEWAY_ACCESS_INDEX_H_
#define CLOVER_GATEWAY_ACCESS_INDEX_H_

#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gateway/state_store.h"
#include "log/log_reader.h"

namespace clover::gateway {

class AccessIndex {
 public:
  // `log` and `store` must outlive the index.
  AccessIndex(const log::LogReader& log, StateStore& store)
      : log_(log), store_(store) {}
  ~AccessIndex();

  // Indexes every entry up to the log's current size. Thread-safe.
  [[nodiscard]] absl::Status CatchUp();

  // Starts a thread calling CatchUp every `period` until Stop or destruction.
  void Start(absl::Duration period);
  void Stop();

  // Log indices naming `pseudonym`, after catching up. Thread-safe.
  [[nodiscard]] absl::StatusOr<std::vector<uint64_t>> EntriesOf(
      absl::string_view pseudonym);

 private:
  const log::LogReader& log_;
  StateStore& store_;
  absl::Mutex catch_up_mu_;  // one catch-up at a time
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace clover::gateway

#endif  // CLOVER_GATEWAY_ACCESS_INDEX_H_
