#include "vault/postgres_storage.h"

#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/postgres_barrier.h"
#include "core/postgres_connection.h"
#include "core/status_macros.h"
#include "vault/read_batcher.h"

namespace clover::vault {
namespace {
constexpr size_t kMaxRegionLength = 48;  // schema names stop at 63 bytes
// GetAsync: batches of at most 128 keys, two in flight, each on its own
// connection.
constexpr size_t kReadBatchKeys = 128;
constexpr int kReadBatchThreads = 2;
constexpr Oid kByteaArrayOid = 1001;
}  // namespace

absl::Status CheckPostgresVaultRegion(const std::string& region) {
  if (region.empty() || region.size() > kMaxRegionLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("postgres vault region must be 1-", kMaxRegionLength,
                     " characters, got ", region.size()));
  }
  for (char c : region) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "postgres vault region '", region, "' may only use [A-Za-z0-9_.-]"));
    }
  }
  return absl::OkStatus();
}

namespace {

// TableName() is a absl::string_view, which Debian's Abseil does not take.
std::string Name(Table table) { return std::string(TableName(table)); }

std::string Qualified(const std::string& schema, Table table) {
  return absl::StrCat(pg::QuoteIdent(schema), ".", Name(table));
}

std::string StatementName(absl::string_view op, Table table) {
  return absl::StrCat(op, "_", Name(table));
}

absl::Status InitConnection(pg::Connection& c, const std::string& schema) {
  // Forced per session so that a database or role default cannot weaken the
  // durability Write promises.
  CLOVER_RETURN_IF_ERROR(
      c.Exec("SET synchronous_commit = on", "session settings"));
  using pg::kByteaOid, pg::kInt8Oid;
  for (Table t : kAllTables) {
    const std::string q = Qualified(schema, t);
    CLOVER_RETURN_IF_ERROR(c.Prepare(
        StatementName("get", t),
        absl::StrCat("SELECT v FROM ", q, " WHERE k=$1"), {kByteaOid}));
    // GetAsync's batches: many keys, one statement ($1 is a bytea[]).
    CLOVER_RETURN_IF_ERROR(
        c.Prepare(StatementName("get_many", t),
                  absl::StrCat("SELECT k, v FROM ", q, " WHERE k = ANY($1)"),
                  {kByteaArrayOid}));
    CLOVER_RETURN_IF_ERROR(c.Prepare(
        StatementName("put", t),
        absl::StrCat("INSERT INTO ", q,
                     "(k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = "
                     "EXCLUDED.v"),
        {kByteaOid, kByteaOid}));
    CLOVER_RETURN_IF_ERROR(
        c.Prepare(StatementName("cas", t),
                  absl::StrCat("UPDATE ", q, " SET v=$3 WHERE k=$1 AND v=$2"),
                  {kByteaOid, kByteaOid, kByteaOid}));
    // The conditional puts of WriteIf: a row that does not match fails the
    // statement with division_by_zero (SQLSTATE 22012), which rolls the
    // whole pipelined transaction back. A concurrent writer of the row holds
    // its lock until it commits; READ COMMITTED then re-checks the condition
    // against the row it committed.
    CLOVER_RETURN_IF_ERROR(
        c.Prepare(StatementName("put_if", t),
                  absl::StrCat("WITH u AS (UPDATE ", q,
                               " SET v=$3 WHERE k=$1 AND v=$2 RETURNING 1) "
                               "SELECT 1/count(*) FROM u"),
                  {kByteaOid, kByteaOid, kByteaOid}));
    CLOVER_RETURN_IF_ERROR(c.Prepare(
        StatementName("put_if_prefixed", t),
        absl::StrCat("WITH u AS (UPDATE ", q,
                     " SET v=$3 WHERE k=$1 AND substr(v, 1, length($2))=$2 "
                     "RETURNING 1) SELECT 1/count(*) FROM u"),
        {kByteaOid, kByteaOid, kByteaOid}));
    CLOVER_RETURN_IF_ERROR(c.Prepare(
        StatementName("insert_if_absent", t),
        absl::StrCat("WITH i AS (INSERT INTO ", q,
                     "(k, v) VALUES ($1, $2) ON CONFLICT (k) DO NOTHING "
                     "RETURNING 1) SELECT 1/count(*) FROM i"),
        {kByteaOid, kByteaOid}));
    CLOVER_RETURN_IF_ERROR(
        c.Prepare(StatementName("del", t),
                  absl::StrCat("DELETE FROM ", q, " WHERE k=$1"), {kByteaOid}));
    CLOVER_RETURN_IF_ERROR(
        c.Prepare(StatementName("scan", t),
                  absl::StrCat("SELECT k, v FROM ", q, " ORDER BY k LIMIT $1"),
                  {kInt8Oid}));
    CLOVER_RETURN_IF_ERROR(
        c.Prepare(StatementName("scan_after", t),
                  absl::StrCat("SELECT k, v FROM ", q,
                               " WHERE k > $1 ORDER BY k LIMIT $2"),
                  {kByteaOid, kInt8Oid}));
  }
  return absl::OkStatus();
}

// The binary form of a one-dimensional bytea[] without NULLs (PostgreSQL's
// array_send): header, then each element's length and bytes.
std::string ByteaArrayParam(const std::vector<std::string>& items) {
  std::string out;
  auto put32 = [&out](uint32_t v) {
    for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i)));
  };
  put32(1);  // dimensions
  put32(0);  // no NULLs
  put32(pg::kByteaOid);
  put32(static_cast<uint32_t>(items.size()));
  put32(1);  // lower bound
  for (const std::string& item : items) {
    put32(static_cast<uint32_t>(item.size()));
    out.append(item);
  }
  return out;
}

std::string SchemaDdl(const std::string& schema) {
  // The advisory lock serialises concurrent first opens (CREATE ... IF NOT
  // EXISTS alone can still race on the catalog's unique indexes).
  std::string ddl = absl::StrCat(
      "BEGIN;"
      "SELECT pg_advisory_xact_lock(hashtext('clover_postgres_schema'));"
      "CREATE SCHEMA IF NOT EXISTS ",
      pg::QuoteIdent(schema), ";");
  for (Table t : kAllTables) {
    absl::StrAppend(&ddl, "CREATE TABLE IF NOT EXISTS ", Qualified(schema, t),
                    " (k bytea PRIMARY KEY, v bytea NOT NULL);");
  }
  absl::StrAppend(&ddl, pg::BarrierTableDdl(schema), "COMMIT;");
  return ddl;
}

class PostgresStorage final : public StorageDriver {
 public:
  PostgresStorage(const std::string& dsn, std::string schema,
                  const PostgresOptions& options)
      : schema_(std::move(schema)),
        page_rows_(options.scan_page_rows),
        retry_(options.retry),
        pool_(dsn, options.max_connections,
              [schema = schema_](pg::Connection& c) {
                return InitConnection(c, schema);
              }),
        read_pool_(dsn, kReadBatchThreads,
                   [schema = schema_](pg::Connection& c) {
                     return InitConnection(c, schema);
                   }) {}

  absl::StatusOr<bool> Get(Table table, absl::string_view key,
                           std::string* value) override {
    const pg::Statement stmt{StatementName("get", table), {key}};
    return pool_.Run(
        [&](pg::Connection& c) -> absl::StatusOr<bool> {
          CLOVER_ASSIGN_OR_RETURN(
              pg::Result r,
              c.Query(stmt, absl::StrCat("get from ", Name(table))));
          if (PQntuples(r.get()) == 0) return false;
          *value = std::string(pg::Cell(r.get(), 0, 0));
          return true;
        },
        retry_);
  }

  void GetAsync(Table table, std::string key, GetDone done) override {
    batcher_.Read(table, std::move(key), std::move(done));
  }

  bool reads_async() const override { return true; }

  // One statement for the keys of a GetAsync batch.
  absl::Status GetMany(Table table, const std::vector<std::string>& keys,
                       absl::flat_hash_map<std::string, std::string>* found) {
    const std::string array = ByteaArrayParam(keys);
    const pg::Statement stmt{StatementName("get_many", table), {array}};
    return read_pool_.Run(
        [&](pg::Connection& c) -> absl::Status {
          found->clear();
          CLOVER_ASSIGN_OR_RETURN(
              pg::Result r,
              c.Query(stmt, absl::StrCat("get many from ", Name(table))));
          for (int i = 0; i < PQntuples(r.get()); ++i) {
            found->insert_or_assign(std::string(pg::Cell(r.get(), i, 0)),
                                    std::string(pg::Cell(r.get(), i, 1)));
          }
          return absl::OkStatus();
        },
        retry_);
  }

  absl::Status Write(const WriteBatch& batch) override {
    if (batch.empty()) return absl::OkStatus();
    std::vector<pg::Statement> stmts;
    stmts.reserve(batch.ops().size());
    for (const WriteBatch::Op& op : batch.ops()) {
      if (op.is_delete) {
        stmts.push_back({StatementName("del", op.table), {op.key}});
      } else {
        stmts.push_back({StatementName("put", op.table), {op.key, op.value}});
      }
    }
    // Retried on a fresh connection, across a failover, as long as it surely
    // did not commit. Once a COMMIT was in flight when the connection broke
    // (or drew a warning), it is never sent again: the next attempt reads
    // the batch's keys back and then waits for a barrier to reach a
    // synchronous standby instead (see the header).
    const absl::Time deadline = absl::Now() + retry_;
    bool in_doubt = false;
    absl::Status status = pool_.Run(
        [&](pg::Connection& c) -> absl::Status {
          if (in_doubt) return Confirm(c, batch, deadline);
          absl::Status s = c.Transaction(stmts, "vault batch write");
          if (absl::IsUnavailable(s) && c.commit_in_doubt()) in_doubt = true;
          return s;
        },
        retry_);
    if (in_doubt && absl::IsAborted(status)) {
      return absl::UnavailableError(
          "postgres vault batch write: the connection broke while the batch "
          "was committing and the batch is not in the database; it was not "
          "applied (or another writer has replaced it since)");
    }
    return status;
  }

  absl::StatusOr<bool> WriteIf(Table table, absl::string_view key,
                               std::optional<absl::string_view> expected,
                               const WriteBatch& batch) override {
    return Conditional(table, key,
                       expected.has_value() ? "put_if" : "insert_if_absent",
                       expected, batch);
  }

  absl::StatusOr<bool> WriteIfPrefixed(Table table, absl::string_view key,
                                       absl::string_view prefix,
                                       const WriteBatch& batch) override {
    return Conditional(table, key, "put_if_prefixed", prefix, batch);
  }

  // `batch` in one transaction whose first statement is the put of `key`
  // made conditional by statement `op` (with `param` between key and value
  // if set); false if the condition did not hold.
  absl::StatusOr<bool> Conditional(Table table, absl::string_view key,
                                   absl::string_view op_name,
                                   std::optional<absl::string_view> param,
                                   const WriteBatch& batch) {
    // The conditional put goes first, so that the row's lock is the first
    // one the transaction takes (no lock-order deadlock between writers).
    std::vector<pg::Statement> stmts;
    stmts.reserve(batch.ops().size());
    for (const WriteBatch::Op& op : batch.ops()) {
      if (stmts.empty() && !op.is_delete && op.table == table &&
          op.key == key) {
        pg::Statement s{StatementName(op_name, table), {op.key}};
        if (param.has_value()) s.params.push_back(*param);
        s.params.push_back(op.value);
        stmts.push_back(std::move(s));
      }
    }
    if (stmts.empty()) {
      return absl::InvalidArgumentError("conditional batch must put its key");
    }
    bool conditioned = false;
    for (const WriteBatch::Op& op : batch.ops()) {
      if (!conditioned && !op.is_delete && op.table == table && op.key == key) {
        conditioned = true;
      } else if (op.is_delete) {
        stmts.push_back({StatementName("del", op.table), {op.key}});
      } else {
        stmts.push_back({StatementName("put", op.table), {op.key, op.value}});
      }
    }
    // In doubt as Write: never sent twice; its keys are read back, then a
    // barrier confirms it is on a synchronous standby.
    const absl::Time deadline = absl::Now() + retry_;
    bool in_doubt = false;
    absl::StatusOr<bool> done = pool_.Run(
        [&](pg::Connection& c) -> absl::StatusOr<bool> {
          if (in_doubt) {
            CLOVER_RETURN_IF_ERROR(Confirm(c, batch, deadline));
            return true;
          }
          absl::Status s = c.Transaction(stmts, "vault conditional write");
          if (absl::IsUnavailable(s) && c.commit_in_doubt()) in_doubt = true;
          if (absl::IsInternal(s) &&
              s.message().find("(SQLSTATE 22012)") != absl::string_view::npos) {
            return false;  // the row is not as expected: nothing written
          }
          if (!s.ok()) return s;
          return true;
        },
        retry_);
    if (in_doubt && absl::IsAborted(done.status())) {
      return absl::UnavailableError(
          "postgres vault conditional write: the connection broke while it "
          "was committing and it is not in the database; it was not applied "
          "(or another writer has replaced it since)");
    }
    return done;
  }

  bool shared() const override { return true; }

  absl::StatusOr<bool> CompareAndPut(Table table, absl::string_view key,
                                     absl::string_view expected,
                                     absl::string_view desired) override {
    const pg::Statement stmt{StatementName("cas", table),
                             {key, expected, desired}};
    // A retry after a lost reply finds the row already changed and answers
    // false; the caller re-reads and sees its own write.
    return pool_.Run(
        [&](pg::Connection& c) -> absl::StatusOr<bool> {
          CLOVER_ASSIGN_OR_RETURN(
              pg::Result r, c.Query(stmt, absl::StrCat("conditional update of ",
                                                       Name(table))));
          return absl::string_view(PQcmdTuples(r.get())) == "1";
        },
        retry_);
  }

  absl::Status Scan(Table table,
                    const std::function<bool(absl::string_view,
                                             absl::string_view)>& fn) override {
    const std::string limit = pg::Int8Param(page_rows_);
    const std::string what = absl::StrCat("scan ", Name(table));
    std::string last_key;
    for (bool first = true;; first = false) {
      const pg::Statement stmt =
          first ? pg::Statement{StatementName("scan", table), {limit}}
                : pg::Statement{StatementName("scan_after", table),
                                {last_key, limit}};
      // The connection goes back to the pool before `fn` runs, so `fn` may
      // use this driver.
      CLOVER_ASSIGN_OR_RETURN(
          pg::Result page,
          pool_.Run([&](pg::Connection& c) { return c.Query(stmt, what); },
                    retry_));
      const int rows = PQntuples(page.get());
      for (int i = 0; i < rows; ++i) {
        if (!fn(pg::Cell(page.get(), i, 0), pg::Cell(page.get(), i, 1))) {
          return absl::OkStatus();
        }
      }
      if (rows < page_rows_) return absl::OkStatus();
      last_key = std::string(pg::Cell(page.get(), rows - 1, 0));
    }
  }

  absl::Status Purge(Table table) override {
    // FULL rewrites the table into new files: plain VACUUM only marks dead
    // rows' space reusable and leaves their bytes on disk.
    const std::string sql =
        absl::StrCat("VACUUM (FULL) ", Qualified(schema_, table));
    CLOVER_RETURN_IF_ERROR(pool_.Run(
        [&](pg::Connection& c) {
          return c.Exec(sql, absl::StrCat("vacuum ", Name(table)));
        },
        retry_));
    if (table == Table::kEpochs) RetireWal();
    return absl::OkStatus();
  }

  // Whether every put of `batch` holds its value and every deleted key is
  // absent. OK if so; Aborted if not; Unavailable if it cannot tell now.
  absl::Status Applied(pg::Connection& c, const WriteBatch& batch) {
    for (const WriteBatch::Op& op : batch.ops()) {
      const pg::Statement stmt{StatementName("get", op.table), {op.key}};
      CLOVER_ASSIGN_OR_RETURN(
          pg::Result r, c.Query(stmt, "read back an in-doubt vault write"));
      const bool present = PQntuples(r.get()) > 0;
      const bool as_written =
          op.is_delete ? !present
                       : present && pg::Cell(r.get(), 0, 0) == op.value;
      if (!as_written) return absl::AbortedError("vault batch not applied");
    }
    return absl::OkStatus();
  }

  // OK once the in-doubt `batch` is known to be in the database and on a
  // synchronous standby (core/postgres_barrier.h).
  absl::Status Confirm(pg::Connection& c, const WriteBatch& batch,
                       absl::Time deadline) {
    return pg::ConfirmInDoubt(c, schema_, deadline, [&](pg::Connection& conn) {
      return Applied(conn, batch);
    });
  }

  absl::Status Ping() override {
    // No retry: a probe reports the state now. One immediate second try on a
    // fresh connection (Run's rule) still tells a stale pooled connection
    // from a database that is gone.
    return pool_.Run([](pg::Connection& c) {
      return c.Exec("SELECT 1", "readiness probe");
    });
  }

 private:
  // After an epoch key's row is deleted, its bytes remain in the WAL
  // segment that logged it. Closing that segment and checkpointing lets the
  // server remove it (with wal_recycle = off it is unlinked rather than kept
  // for reuse; docs/vault.md). Best effort: it needs superuser or
  // pg_checkpoint rights, and a refusal leaves the WAL to the server's own
  // checkpoints.
  void RetireWal() {
    absl::Status s = pool_.Run([](pg::Connection& c) {
      CLOVER_RETURN_IF_ERROR(c.Exec("SELECT pg_switch_wal()", "switch wal"));
      return c.Exec("CHECKPOINT", "checkpoint");
    });
    (void)s;
  }

  const std::string schema_;
  const int page_rows_;
  const absl::Duration retry_;
  pg::Pool pool_;
  // GetAsync's own connections (one per batcher thread): batched reads never
  // wait for a connection behind writes holding theirs through a commit.
  pg::Pool read_pool_;
  // After the pools: destroyed (its threads joined) before them.
  ReadBatcher batcher_{
      [this](Table table, const std::vector<std::string>& keys,
             absl::flat_hash_map<std::string, std::string>* found) {
        return GetMany(table, keys, found);
      },
      kReadBatchKeys, kReadBatchThreads};
};

}  // namespace

absl::StatusOr<std::unique_ptr<StorageDriver>> OpenPostgresVaultStorage(
    const std::string& dsn, const std::string& region,
    const PostgresOptions& options) {
  CLOVER_RETURN_IF_ERROR(CheckPostgresVaultRegion(region));
  if (options.scan_page_rows < 1 || options.max_connections < 1 ||
      options.retry < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "postgres vault options: scan_page_rows and max_connections must be "
        "at least 1, retry not negative");
  }
  const std::string schema = absl::StrCat("clover_vault_", region);
  {
    CLOVER_ASSIGN_OR_RETURN(std::unique_ptr<pg::Connection> c,
                            pg::Connection::Open(dsn));
    // A schema of the first layout (tables records, wrapped_keys, meta) would
    // otherwise look empty: every subject in it would seem not to exist.
    absl::Status v1 =
        c->Exec(absl::StrCat("DO $clover$ BEGIN IF to_regclass('",
                             pg::QuoteIdent(schema),
                             ".meta') IS NOT NULL THEN RAISE EXCEPTION "
                             "'clover_vault_v1_layout'; END IF; END $clover$;"),
                "check vault layout");
    if (!v1.ok()) {
      if (v1.message().find("clover_vault_v1_layout") !=
          absl::string_view::npos) {
        return absl::FailedPreconditionError(absl::StrCat(
            "postgres vault schema ", schema,
            " has the v1 layout (tables records, wrapped_keys, meta); this "
            "version reads one row per subject and cannot open it"));
      }
      return v1;
    }
    CLOVER_RETURN_IF_ERROR(c->Exec(SchemaDdl(schema), "create vault schema"));
  }
  auto storage = std::make_unique<PostgresStorage>(dsn, schema, options);
  // Fail at open, not at the first request, if the statements do not prepare.
  std::string ignored;
  CLOVER_RETURN_IF_ERROR(storage->Get(Table::kSubjects, "", &ignored).status());
  return storage;
}

}  // namespace clover::vault
