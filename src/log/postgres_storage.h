// The production log storage driver: PostgreSQL 15 through libpq. Every
// sequencer batch (tiles, entry bundles, checkpoint and metadata together) is
// ONE transaction committed with synchronous_commit=on, so a batch is durable
// on the server (WAL fsync'ed, and on synchronous standbys if the server is
// configured so) before any of its appends is acknowledged.
//
// Layout: one schema per log, "clover_log_<log_name>", holding
//   tiles(level smallint, idx bigint, data bytea)  primary key (level, idx)
//   bundles(idx bigint, data bytea)                primary key (idx)
//   state(name text, data bytea)                   'checkpoint', 'metadata'
//   barrier(pid integer, n bigint)                 core/postgres_barrier.h
// created idempotently at open, so several logs (one per DC, say) share one
// database. Only the widest version of each tile or bundle is kept (upserts).
//
// Thread-safety: thread-safe. Reads and the writer lease connections from a
// small pool (PostgresLogStorageOptions::max_connections); a lost connection
// is replaced on the next call.
#ifndef CLOVER_LOG_POSTGRES_STORAGE_H_
#define CLOVER_LOG_POSTGRES_STORAGE_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "log/storage.h"

namespace clover::log {

struct PostgresLogStorageOptions {
  // Connections kept open: one for the sequencer's writer, the rest for
  // concurrent tile reads.
  size_t max_connections = 4;
  // Never creates the schema; Write fails with FailedPrecondition.
  bool read_only = false;
  // Reads that fail because the server is unreachable are retried with
  // backoff for this long (a restart or failover), then fail with
  // Unavailable.
  absl::Duration read_retry = absl::Seconds(10);
  // Writes likewise (0: retried once, at once). While a batch is retried the
  // sequencer's next batches wait; once it fails, the sequencer fails its
  // appends and rolls back. Re-sending a batch whose COMMIT was in flight is
  // safe: a log has one writer (its sequencer) and a batch is upserts and
  // deletes of fixed bytes. But a COMMIT in doubt (the connection broke while
  // it was in flight, or it succeeded with a server WARNING because its wait
  // for the synchronous standby was cancelled) may have committed on the
  // primary only: the next attempt reads the stored checkpoint back first,
  // and a batch found committed is reported written only once a barrier
  // commit after it has been confirmed by a synchronous standby
  // (core/postgres_barrier.h); a batch not found is sent again. After the
  // last retry the same check runs once more, for read_retry. A batch whose
  // barrier is not confirmed in time fails with Unavailable, although it may
  // be in the database (a failed append may or may not be in the log; an
  // acknowledged one is on two servers).
  absl::Duration write_retry = absl::ZeroDuration();
};

// Opens (creating its schema and tables if needed, unless read-only) the log
// `log_name` in the database named by `dsn` (a libpq conninfo string or URI).
// `log_name` is 1-48 characters of [A-Za-z0-9_.-] (a DC or log id).
// Errors: InvalidArgument for a bad log name; Unavailable if the server cannot
// be reached; NotFound for a read-only open of a log that was never created;
// Internal for other server errors. Messages never contain the DSN.
[[nodiscard]] absl::StatusOr<std::unique_ptr<LogStorage>>
OpenPostgresLogStorage(const std::string& dsn, const std::string& log_name,
                       const PostgresLogStorageOptions& options = {});

}  // namespace clover::log

#endif  // CLOVER_LOG_POSTGRES_STORAGE_H_
