#include "kv/postgres_kv_store.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/postgres_barrier.h"
#include "core/postgres_connection.h"
#include "core/status_macros.h"

namespace clover::kv {
namespace {

// The durability barrier's table (core/postgres_barrier.h), one for every kv
// table of the database.
constexpr char kBarrierTable[] = "clover_kv_barrier";

absl::Status InitConnection(pg::Connection& c, const std::string& table) {
  CLOVER_RETURN_IF_ERROR(
      c.Exec("SET synchronous_commit = on", "session settings"));
  using pg::kByteaOid, pg::kInt8Oid;
  const std::string q = pg::QuoteIdent(table);
  CLOVER_RETURN_IF_ERROR(c.Prepare(
      "get", absl::StrCat("SELECT v FROM ", q, " WHERE k=$1"), {kByteaOid}));
  CLOVER_RETURN_IF_ERROR(
      c.Prepare("put",
                absl::StrCat("INSERT INTO ", q,
                             "(k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE "
                             "SET v = EXCLUDED.v"),
                {kByteaOid, kByteaOid}));
  CLOVER_RETURN_IF_ERROR(c.Prepare(
      "del", absl::StrCat("DELETE FROM ", q, " WHERE k=$1"), {kByteaOid}));
  // The lock is keyed by the table and the key, and ends with the transaction.
  CLOVER_RETURN_IF_ERROR(
      c.Prepare("lock",
                absl::StrCat("SELECT pg_advisory_xact_lock(hashtext('", table,
                             "'), hashtext(encode($1, 'hex')))"),
                {kByteaOid}));
  // A prefix is the key range [from, the prefix's successor): an index range
  // scan that stops at the prefix's end. "scan_all" for a prefix without a
  // successor (empty, or all 0xff bytes).
  CLOVER_RETURN_IF_ERROR(
      c.Prepare("scan",
                absl::StrCat("SELECT k, v FROM ", q,
                             " WHERE k >= $1 AND k < $2 ORDER BY k LIMIT $3"),
                {kByteaOid, kByteaOid, kInt8Oid}));
  CLOVER_RETURN_IF_ERROR(
      c.Prepare("scan_all",
                absl::StrCat("SELECT k, v FROM ", q,
                             " WHERE k >= $1 AND substr(k, 1, length($2)) = $2 "
                             "ORDER BY k LIMIT $3"),
                {kByteaOid, kByteaOid, kInt8Oid}));
  return absl::OkStatus();
}

class PostgresKvStore final : public KvStore {
 public:
  PostgresKvStore(const std::string& dsn, std::string table,
                  const PostgresKvOptions& options)
      : dsn_(dsn),
        table_(std::move(table)),
        options_(options),
        pool_(dsn, options.max_connections, [t = table_](pg::Connection& c) {
          return InitConnection(c, t);
        }) {}

  absl::Status CreateTable() {
    const std::string ddl = absl::StrCat(
        "BEGIN;"
        "SELECT pg_advisory_xact_lock(hashtext('clover_postgres_schema'));"
        "CREATE TABLE IF NOT EXISTS ",
        pg::QuoteIdent(table_), " (k bytea PRIMARY KEY, v bytea NOT NULL);",
        pg::BarrierTableDdlNamed(kBarrierTable), "COMMIT;");
    // On a connection of its own: the pool's connections prepare statements
    // on the table when they open.
    const absl::Time deadline = absl::Now() + options_.retry;
    while (true) {
      absl::StatusOr<std::unique_ptr<pg::Connection>> c =
          pg::Connection::Open(dsn_);
      absl::Status s = c.ok() ? (*c)->Exec(ddl, "create table") : c.status();
      if (!absl::IsUnavailable(s) || absl::Now() >= deadline) return s;
      absl::SleepFor(absl::Milliseconds(200));
    }
  }

  absl::StatusOr<std::string> Get(absl::string_view key) const override {
    const pg::Statement stmt{"get", {key}};
    return pool_.Run(
        [&](pg::Connection& c) -> absl::StatusOr<std::string> {
          CLOVER_ASSIGN_OR_RETURN(pg::Result r, c.Query(stmt, "kv read"));
          if (PQntuples(r.get()) == 0)
            return absl::NotFoundError("kv read: not found");
          return std::string(pg::Cell(r.get(), 0, 0));
        },
        options_.retry);
  }

  absl::Status Write(const KvBatch& batch) override {
    if (batch.empty()) return absl::OkStatus();
    const std::vector<pg::Statement> stmts = Statements(batch);
    // A COMMIT in doubt (the connection broke, or a server WARNING: the wait
    // for the synchronous standby was cancelled) is acknowledged once the
    // batch is read back and a barrier is on a synchronous standby; if it is
    // not there, the batch (idempotent puts and deletes) runs again.
    const absl::Time deadline = absl::Now() + options_.retry;
    bool in_doubt = false;
    return pool_.Run(
        [&](pg::Connection& c) -> absl::Status {
          if (in_doubt) {
            absl::Status s = Confirm(c, batch, deadline);
            if (!absl::IsAborted(s)) return s;
            in_doubt = false;
          }
          absl::Status s = c.Transaction(stmts, "kv write");
          if (absl::IsUnavailable(s) && c.commit_in_doubt()) in_doubt = true;
          return s;
        },
        options_.retry);
  }

  absl::Status WriteIf(absl::string_view key,
                       const std::optional<std::string>& expected,
                       const KvBatch& batch) override {
    const std::vector<pg::Statement> stmts = Statements(batch);
    // A COMMIT in doubt is never answered by running the conditional write
    // again (it would find its own write and say "condition not met"): the
    // batch is read back; if it is there, a barrier proves it is on a
    // synchronous standby and the write is acknowledged; if not, it surely
    // did not commit (on the server that now takes writes) and runs again.
    const absl::Time deadline = absl::Now() + options_.retry;
    bool in_doubt = false, rerun = false;
    absl::Status status = pool_.Run(
        [&](pg::Connection& c) -> absl::Status {
          if (in_doubt) {
            absl::Status s = Confirm(c, batch, deadline);
            if (!absl::IsAborted(s)) return s;
            in_doubt = false;
            rerun = true;
          }
          absl::Status s =
              ConditionalTransaction(c, key, expected, stmts, in_doubt);
          if (!s.ok() && c.healthy() == false) {
            // Leave no transaction open on a connection that goes back.
            (void)c.Exec("ROLLBACK", "kv rollback");
          }
          return s;
        },
        options_.retry);
    // The batch was not found after a COMMIT in doubt, and the rerun found
    // the key changed: either the write was lost and another writer came
    // first, or it committed and another writer changed the key since. The
    // outcome is unknown, and "condition not met" would let a caller spend
    // twice (re-read, write again).
    if (rerun && absl::IsFailedPrecondition(status)) status = NotApplied();
    return status;
  }

  absl::Status Scan(
      absl::string_view prefix, absl::string_view start,
      const std::function<bool(absl::string_view key, absl::string_view value)>&
          fn) const override {
    const std::string limit = pg::Int8Param(options_.scan_page_rows);
    std::string from(start.empty() ? prefix : start);
    // The smallest key above every key that starts with `prefix`.
    std::string end(prefix);
    while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) {
      end.pop_back();
    }
    if (!end.empty()) end.back() = static_cast<char>(end.back() + 1);
    while (true) {
      const pg::Statement stmt =
          end.empty() ? pg::Statement{"scan_all", {from, prefix, limit}}
                      : pg::Statement{"scan", {from, end, limit}};
      // The connection goes back to the pool before `fn` runs, so `fn` may use
      // this store.
      CLOVER_ASSIGN_OR_RETURN(
          pg::Result page,
          pool_.Run([&](pg::Connection& c) { return c.Query(stmt, "kv scan"); },
                    options_.retry));
      const int rows = PQntuples(page.get());
      for (int i = 0; i < rows; ++i) {
        if (!fn(pg::Cell(page.get(), i, 0), pg::Cell(page.get(), i, 1)))
          return absl::OkStatus();
      }
      if (rows < options_.scan_page_rows) return absl::OkStatus();
      // The smallest key after the last one.
      from = std::string(pg::Cell(page.get(), rows - 1, 0));
      from.push_back('\0');
    }
  }

 private:
  static absl::Status NotApplied() {
    return absl::UnavailableError(
        "postgres kv conditional write: the connection broke or the standby "
        "wait was cancelled while it was committing, and it is not in the "
        "database; its outcome is unknown (not applied, or another writer "
        "has replaced it since)");
  }

  // OK if every op of `batch` is as written (Aborted if not), then once a
  // barrier is on a synchronous standby (core/postgres_barrier.h).
  static absl::Status Confirm(pg::Connection& c, const KvBatch& batch,
                              absl::Time deadline) {
    return pg::ConfirmInDoubtNamed(
        c, kBarrierTable, deadline, [&](pg::Connection& conn) -> absl::Status {
          for (const KvBatch::Op& op : batch.ops()) {
            CLOVER_ASSIGN_OR_RETURN(
                pg::Result r,
                conn.Query(pg::Statement{"get", {op.key}}, "kv read-back"));
            const bool present = PQntuples(r.get()) > 0;
            const bool as_written =
                op.del ? !present
                       : present && pg::Cell(r.get(), 0, 0) == op.value;
            if (!as_written) return absl::AbortedError("kv batch not applied");
          }
          return absl::OkStatus();
        });
  }

  static std::vector<pg::Statement> Statements(const KvBatch& batch) {
    std::vector<pg::Statement> stmts;
    stmts.reserve(batch.size());
    for (const KvBatch::Op& op : batch.ops()) {
      stmts.push_back(op.del ? pg::Statement{"del", {op.key}}
                             : pg::Statement{"put", {op.key, op.value}});
    }
    return stmts;
  }

  // BEGIN; lock the key; read it; if it is as expected, run the batch;
  // COMMIT. Not pipelined: the batch depends on what the read returns. Sets
  // `in_doubt` (and fails with Unavailable) when the COMMIT may have
  // committed: the connection broke during it, or it drew a WARNING.
  static absl::Status ConditionalTransaction(
      pg::Connection& c, absl::string_view key,
      const std::optional<std::string>& expected,
      const std::vector<pg::Statement>& stmts, bool& in_doubt) {
    CLOVER_RETURN_IF_ERROR(c.Exec("BEGIN", "kv conditional write"));
    CLOVER_RETURN_IF_ERROR(
        c.Query(pg::Statement{"lock", {key}}, "kv lock").status());
    CLOVER_ASSIGN_OR_RETURN(pg::Result r,
                            c.Query(pg::Statement{"get", {key}}, "kv read"));
    const bool present = PQntuples(r.get()) > 0;
    const bool met = expected.has_value()
                         ? present && pg::Cell(r.get(), 0, 0) == *expected
                         : !present;
    if (!met) {
      CLOVER_RETURN_IF_ERROR(c.Exec("ROLLBACK", "kv rollback"));
      return absl::FailedPreconditionError(kConditionNotMet);
    }
    for (const pg::Statement& s : stmts) {
      CLOVER_RETURN_IF_ERROR(c.Query(s, "kv conditional write").status());
    }
    const uint64_t warnings_before = c.warnings();
    absl::Status s = c.Exec("COMMIT", "kv commit");
    if (absl::IsUnavailable(s)) {
      in_doubt = true;
      return absl::UnavailableError(
          absl::StrCat(s.message(), " (commit outcome unknown)"));
    }
    if (s.ok() && c.warnings() != warnings_before) {
      in_doubt = true;
      return absl::UnavailableError(
          "postgres kv commit: committed with a server warning (the wait for "
          "the synchronous standby may have been cancelled); not known to be "
          "replicated");
    }
    return s;
  }

  const std::string dsn_;
  const std::string table_;
  const PostgresKvOptions options_;
  mutable pg::Pool pool_;
};

bool ValidTable(const std::string& table) {
  if (table.empty() || table.size() > 63) return false;
  for (char c : table) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
      return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<KvStore>> OpenPostgresKvStore(
    const std::string& dsn, const std::string& table,
    const PostgresKvOptions& options) {
  if (!ValidTable(table)) {
    return absl::InvalidArgumentError(
        absl::StrCat("postgres kv table '", table,
                     "': must be 1-63 characters of [a-z0-9_]"));
  }
  auto store = std::make_unique<PostgresKvStore>(dsn, table, options);
  CLOVER_RETURN_IF_ERROR(store->CreateTable());
  return store;
}

}  // namespace clover::kv
