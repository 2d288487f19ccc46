#include "kv/postgres_kv_store.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/postgres_connection.h"
#include "core/status_macros.h"

namespace clover::kv {
namespace {

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
        pg::QuoteIdent(table_),
        " (k bytea PRIMARY KEY, v bytea NOT NULL);"
        "COMMIT;");
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
    return pool_.Run(
        [&](pg::Connection& c) { return c.Transaction(stmts, "kv write"); },
        options_.retry);
  }

  absl::Status WriteIf(absl::string_view key,
                       const std::optional<std::string>& expected,
                       const KvBatch& batch) override {
    const std::vector<pg::Statement> stmts = Statements(batch);
    return pool_.Run(
        [&](pg::Connection& c) -> absl::Status {
          absl::Status s = ConditionalTransaction(c, key, expected, stmts);
          if (!s.ok() && c.healthy() == false) {
            // Leave no transaction open on a connection that goes back.
            (void)c.Exec("ROLLBACK", "kv rollback");
          }
          return s;
        },
        options_.retry);
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
  // COMMIT. Not pipelined: the batch depends on what the read returns.
  static absl::Status ConditionalTransaction(
      pg::Connection& c, absl::string_view key,
      const std::optional<std::string>& expected,
      const std::vector<pg::Statement>& stmts) {
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
    return c.Exec("COMMIT", "kv commit");
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
