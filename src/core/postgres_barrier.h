// The durability barrier of the PostgreSQL storage drivers (vault and log):
// how a write whose commit was in doubt is acknowledged only once it is on a
// synchronous standby too.
//
// Why: when the connection breaks while a primary waits for its synchronous
// standby, or the wait is cancelled (the COMMIT then succeeds with a
// WARNING), the transaction has already committed LOCALLY: it is visible on
// the primary, but may exist on that one server only. Reading it back proves
// it is on the server that answered, not that it is replicated. So after the
// read-back the driver commits one more small transaction that surely writes
// WAL (an upsert into the schema's `barrier` table) and waits, like every
// commit with synchronous_commit=on, until a synchronous standby has flushed
// it. Its commit record follows the in-doubt commit in the WAL, and a
// standby flushes WAL in order: once the barrier is confirmed, so is the
// in-doubt write. A transaction holding only an xid (txid_current()) writes
// no WAL before its commit record and does not wait for the standby, hence
// the table.
//
// Header-only like core/postgres_connection.h (clover_core does not link
// libpq).
#ifndef CLOVER_CORE_POSTGRES_BARRIER_H_
#define CLOVER_CORE_POSTGRES_BARRIER_H_

#include <algorithm>
#include <cstdint>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/postgres_connection.h"
#include "core/status_macros.h"

namespace clover::pg {

// The least time a barrier is given, even when the caller's retry window is
// (nearly) spent: a healthy synchronous commit takes milliseconds.
inline constexpr absl::Duration kMinBarrierWait = absl::Seconds(1);

// DDL creating `schema`'s barrier table (idempotent; for the schema's DDL
// transaction). One row per server backend: concurrent barriers never wait
// for each other's row lock.
inline std::string BarrierTableDdl(const std::string& schema) {
  return absl::StrCat("CREATE TABLE IF NOT EXISTS ", QuoteIdent(schema),
                      ".barrier (pid integer PRIMARY KEY, n bigint NOT NULL);");
}

// The same for a driver without a schema of its own (the kv store): a
// barrier table named `table` (unquoted, [a-z0-9_]) in the DSN's default
// schema. The functions below taking a `table` use it.
inline std::string BarrierTableDdlNamed(const std::string& table) {
  return absl::StrCat("CREATE TABLE IF NOT EXISTS ", QuoteIdent(table),
                      " (pid integer PRIMARY KEY, n bigint NOT NULL);");
}

// Commits an upsert into barrier table `table` (quoted, qualified if need
// be; SyncBarrier: `schema`'s) on `c` with
// synchronous_commit=on (whatever the session's setting) and returns OK once
// a synchronous standby (if the server has any configured) has confirmed
// it: every commit `c`'s server made before this call is then on that
// standby too. The wait is bounded by `deadline` (at least kMinBarrierWait
// from now): then the client cancels it (Connection::ExecWithin; the server
// ends the wait with a WARNING, the barrier having committed locally).
// Errors: Unavailable if the standby did not confirm in time, the connection
// broke, or the server is no longer the primary; others as Connection::Exec.
[[nodiscard]] inline absl::Status SyncBarrierOnTable(Connection& c,
                                                     const std::string& table,
                                                     absl::Time deadline) {
  const absl::Duration wait = std::max(deadline - absl::Now(), kMinBarrierWait);
  const uint64_t warnings_before = c.warnings();
  // One round trip.
  absl::Status s = c.ExecWithin(
      absl::StrCat("BEGIN; SET LOCAL synchronous_commit = on; INSERT INTO ",
                   table,
                   " (pid, n) VALUES (pg_backend_pid(), 1) ON CONFLICT (pid) "
                   "DO UPDATE SET n = ",
                   table, ".n + 1; COMMIT"),
      "durability barrier", wait);
  if (!s.ok()) {
    // Leave no aborted transaction open on a connection that goes back.
    if (c.healthy() == false) (void)c.Exec("ROLLBACK", "barrier rollback");
    return s;
  }
  if (c.warnings() != warnings_before) {
    return absl::UnavailableError(absl::StrCat(
        "postgres durability barrier: no synchronous standby confirmed "
        "within ",
        absl::FormatDuration(wait)));
  }
  return absl::OkStatus();
}
[[nodiscard]] inline absl::Status SyncBarrier(Connection& c,
                                              const std::string& schema,
                                              absl::Time deadline) {
  return SyncBarrierOnTable(c, absl::StrCat(QuoteIdent(schema), ".barrier"),
                            deadline);
}

// For a write whose commit is in doubt (Connection::commit_in_doubt()):
// `stored(c)` checks on `c` whether the write is in the database (OK if so,
// Aborted if surely not, Unavailable if it cannot tell); if it is, the
// barrier above then proves it is on a synchronous standby too. OK only
// then: the write may be acknowledged. Errors: those of `stored`, and
// SyncBarrier's Unavailable (the write must not be acknowledged yet).
[[nodiscard]] inline absl::Status ConfirmInDoubt(
    Connection& c, const std::string& schema, absl::Time deadline,
    absl::FunctionRef<absl::Status(Connection&)> stored) {
  CLOVER_RETURN_IF_ERROR(stored(c));
  return SyncBarrier(c, schema, deadline);
}
// The same with the barrier table named `table` (BarrierTableDdlNamed).
[[nodiscard]] inline absl::Status ConfirmInDoubtNamed(
    Connection& c, const std::string& table, absl::Time deadline,
    absl::FunctionRef<absl::Status(Connection&)> stored) {
  CLOVER_RETURN_IF_ERROR(stored(c));
  return SyncBarrierOnTable(c, QuoteIdent(table), deadline);
}

}  // namespace clover::pg

#endif  // CLOVER_CORE_POSTGRES_BARRIER_H_
