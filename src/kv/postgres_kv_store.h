// A KvStore (kv/kv_store.h) kept in one table of a PostgreSQL database, so
// that every node of a region shares it: the region's approvals and privacy
// budgets when `storage.driver: postgres`.
//
// The table is created if missing: `<table>(k bytea PRIMARY KEY, v bytea NOT
// NULL)` in the DSN's default schema, with the durability barrier's table
// `clover_kv_barrier` (core/postgres_barrier.h). Write is one transaction
// (all or nothing), retried on a fresh connection across a failover
// (core/postgres_connection.h) like the vault's writes. WriteIf serialises on
// a transaction-scoped advisory lock derived from the key, then reads the key
// and applies the batch in the same transaction. A COMMIT in doubt (the
// connection broke during it, or it drew a WARNING: the wait for the
// synchronous standby was cancelled) is never acknowledged as such: the batch
// is read back, and OK only once it is there and a barrier is on a
// synchronous standby; a batch surely not there runs again (WriteIf: its
// condition is checked again; if no longer met, Unavailable, not
// FailedPrecondition: the outcome is unknown). So an OK write is on a
// synchronous standby and applied once. Scan pages through
// the prefix in key order; each page is a fresh statement, so a scan is not
// one snapshot.
#ifndef CLOVER_KV_POSTGRES_KV_STORE_H_
#define CLOVER_KV_POSTGRES_KV_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "kv/kv_store.h"

namespace clover::kv {

struct PostgresKvOptions {
  // How long a call keeps retrying while the database is unreachable (a
  // restart, a failover) before it fails with Unavailable.
  absl::Duration retry = absl::Seconds(30);
  size_t max_connections = 4;
  int scan_page_rows = 1000;
};

// Connects to `dsn` (never quoted in errors) and creates `table` if missing.
// `table` must be 1-63 characters of [a-z0-9_]. Errors: InvalidArgument for a
// bad table name; Unavailable when the database cannot be reached.
[[nodiscard]] absl::StatusOr<std::unique_ptr<KvStore>> OpenPostgresKvStore(
    const std::string& dsn, const std::string& table,
    const PostgresKvOptions& options = {});

}  // namespace clover::kv

#endif  // CLOVER_KV_POSTGRES_KV_STORE_H_
