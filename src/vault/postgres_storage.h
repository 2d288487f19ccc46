// The production vault storage driver: PostgreSQL 15 through libpq, for
// regions whose data centres share one (replicated) database.
//
// Layout: one schema per region, "clover_vault_<region>", holding one table
// per vault Table, named as TableName() ("records", "wrapped_keys",
// "token_index", "meta"), each (k bytea PRIMARY KEY, v bytea), and the
// durability barrier's table "barrier" (one row per server backend). bytea
// orders bytewise, so Scan visits keys in the same order as the RocksDB driver.
// Write is ONE transaction (pipelined: one round trip) committed with
// synchronous_commit=on. Purge is VACUUM FULL of the table: deleted rows
// (crypto-shredded wrapped keys) are gone from the table's files, not just
// marked free; old WAL segments keep them until the server recycles them. For
// the `epochs` table Purge then switches the WAL segment and checkpoints (best
// effort; needs the rights docs/operations.md names).
//
// Failover: with a multi-host DSN and target_session_attrs=read-write (a
// Patroni-managed region, docs/operations.md) every call that finds the
// server gone, or finds it a standby, reconnects to whichever member is the
// leader then, retrying with backoff for PostgresOptions::retry; after that
// it fails with Unavailable (the gateway answers 503 with Retry-After).
//
// A write is never applied twice, and never reported done unless it is in
// the database and, where the server has synchronous standbys (a Patroni
// region in synchronous mode), on one of them too. A Write that failed
// before its COMMIT was sent did nothing and is sent again. A Write whose
// COMMIT was in flight when the connection broke, or whose COMMIT succeeded
// with a server WARNING (the wait for the standby was cancelled), has an
// unknown outcome: it may have committed on the primary only. It is NOT sent
// again; once a leader answers, its keys are read back. If every put holds
// its bytes (a subject row's bytes are unique: a fresh nonce seals each
// record) and every deleted key is absent, it committed there; it is
// reported OK only once a later barrier commit on the same server has been
// confirmed by a synchronous standby (core/postgres_barrier.h), which proves
// the write is on that standby as well. If the barrier is not confirmed
// within PostgresOptions::retry (at least 1 s), Write fails with Unavailable
// although the write may be in the database: never an acknowledgement of a
// write that may be on one server only. If the keys do not hold the batch,
// Write returns Unavailable and the write did not happen (or another node has
// replaced it since; re-sending it would have undone that node's write).
// WriteIf and WriteIfPrefixed likewise. CompareAndPut is retried as is:
// after a lost reply the retry finds the row changed and answers false, and
// the caller re-reads.
//
// GetAsync (reads_async()) hands the read to a ReadBatcher (vault/
// read_batcher.h): two threads, each on its own connection, answer every read
// waiting with ONE statement (`WHERE k = ANY($1)`, up to 128 keys), so
// concurrent requests share a round trip and no request thread waits on it.
//
// Thread-safety: thread-safe; calls lease connections from a small pool and a
// lost connection is replaced on the next call.
#ifndef CLOVER_VAULT_POSTGRES_STORAGE_H_
#define CLOVER_VAULT_POSTGRES_STORAGE_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vault/storage.h"

namespace clover::vault {

struct PostgresOptions {
  // The pool of Get, Write and the rest; GetAsync's two connections are extra.
  size_t max_connections = 8;
  // Entries fetched per round trip by Scan (keyset pagination: Scan holds no
  // transaction or lock between pages).
  int scan_page_rows = 1000;
  // How long a call keeps retrying while the server is unreachable (a
  // restart, a failover) before it fails with Unavailable.
  absl::Duration retry = absl::Seconds(10);
};

// InvalidArgument unless `region` is 1-48 characters of [A-Za-z0-9_.-] (the
// vault's schema is clover_vault_<region>).
[[nodiscard]] absl::Status CheckPostgresVaultRegion(const std::string& region);

// Opens (creating its schema and tables if needed) the vault storage of
// `region` in the database named by `dsn` (a libpq conninfo string or URI).
// `region` is 1-48 characters of [A-Za-z0-9_.-].
// Errors: InvalidArgument for a bad region name or options; Unavailable if the
// server cannot be reached; Internal for other server errors. Messages never
// contain the DSN.
[[nodiscard]] absl::StatusOr<std::unique_ptr<StorageDriver>>
OpenPostgresVaultStorage(const std::string& dsn, const std::string& region,
                         const PostgresOptions& options = {});

}  // namespace clover::vault

#endif  // CLOVER_VAULT_POSTGRES_STORAGE_H_
