#include "log/postgres_storage.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/postgres_barrier.h"
#include "core/postgres_connection.h"
#include "core/status_macros.h"

namespace clover::log {
namespace {

constexpr size_t kMaxLogNameLength = 48;  // schema names stop at 63 bytes

absl::Status CheckLogName(const std::string& name) {
  if (name.empty() || name.size() > kMaxLogNameLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("postgres log name must be 1-", kMaxLogNameLength,
                     " characters, got ", name.size()));
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "postgres log name '", name, "' may only use [A-Za-z0-9_.-]"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckFragmentOffset(const FragmentId& id) {
  if (id.offset < 0 || id.offset > 255) {
    return absl::InvalidArgumentError(
        absl::StrCat("bundle fragment offset ", id.offset, " out of range"));
  }
  return absl::OkStatus();
}

constexpr char kCheckpointRow[] = "checkpoint";
constexpr char kMetadataRow[] = "metadata";

// Prepares the statements every pooled connection uses. Durability is forced
// per session so that a database or role default cannot weaken it.
absl::Status InitConnection(pg::Connection& c, const std::string& schema,
                            bool read_only) {
  CLOVER_RETURN_IF_ERROR(c.Exec(read_only
                                    ? "SET default_transaction_read_only = on"
                                    : "SET synchronous_commit = on",
                                "session settings"));
  const std::string s = pg::QuoteIdent(schema);
  using pg::kByteaOid, pg::kInt2Oid, pg::kInt8Oid, pg::kTextOid;
  CLOVER_RETURN_IF_ERROR(c.Prepare(
      "get_tile",
      absl::StrCat("SELECT data FROM ", s, ".tiles WHERE level=$1 AND idx=$2"),
      {kInt2Oid, kInt8Oid}));
  CLOVER_RETURN_IF_ERROR(
      c.Prepare("get_bundle",
                absl::StrCat("SELECT data FROM ", s, ".bundles WHERE idx=$1"),
                {kInt8Oid}));
  CLOVER_RETURN_IF_ERROR(
      c.Prepare("get_fragment",
                absl::StrCat("SELECT data FROM ", s,
                             ".fragments WHERE idx=$1 AND off=$2"),
                {kInt8Oid, kInt2Oid}));
  CLOVER_RETURN_IF_ERROR(
      c.Prepare("get_fragments",
                absl::StrCat("SELECT data FROM ", s,
                             ".fragments WHERE idx=$1 ORDER BY off"),
                {kInt8Oid}));
  CLOVER_RETURN_IF_ERROR(c.Prepare(
      "get_state", absl::StrCat("SELECT data FROM ", s, ".state WHERE name=$1"),
      {kTextOid}));
  if (read_only) return absl::OkStatus();
  CLOVER_RETURN_IF_ERROR(c.Prepare(
      "put_tile",
      absl::StrCat("INSERT INTO ", s,
                   ".tiles(level, idx, data) VALUES ($1, $2, $3) ON CONFLICT "
                   "(level, idx) DO UPDATE SET data = EXCLUDED.data"),
      {kInt2Oid, kInt8Oid, kByteaOid}));
  CLOVER_RETURN_IF_ERROR(c.Prepare(
      "put_bundle",
      absl::StrCat("INSERT INTO ", s,
                   ".bundles(idx, data) VALUES ($1, $2) ON CONFLICT (idx) DO "
                   "UPDATE SET data = EXCLUDED.data"),
      {kInt8Oid, kByteaOid}));
  CLOVER_RETURN_IF_ERROR(c.Prepare(
      "put_fragment",
      absl::StrCat("INSERT INTO ", s,
                   ".fragments(idx, off, data) VALUES ($1, $2, $3) ON "
                   "CONFLICT (idx, off) DO UPDATE SET data = EXCLUDED.data"),
      {kInt8Oid, kInt2Oid, kByteaOid}));
  CLOVER_RETURN_IF_ERROR(c.Prepare(
      "delete_fragment",
      absl::StrCat("DELETE FROM ", s, ".fragments WHERE idx=$1 AND off=$2"),
      {kInt8Oid, kInt2Oid}));
  return c.Prepare(
      "put_state",
      absl::StrCat("INSERT INTO ", s,
                   ".state(name, data) VALUES ($1, $2) ON CONFLICT (name) DO "
                   "UPDATE SET data = EXCLUDED.data"),
      {kTextOid, kByteaOid});
}

std::string SchemaDdl(const std::string& schema) {
  const std::string s = pg::QuoteIdent(schema);
  // The advisory lock serialises concurrent first opens (CREATE ... IF NOT
  // EXISTS alone can still race on the catalog's unique indexes).
  return absl::StrCat(
      "BEGIN;"
      "SELECT pg_advisory_xact_lock(hashtext('clover_postgres_schema'));"
      "CREATE SCHEMA IF NOT EXISTS ",
      s,
      ";"
      "CREATE TABLE IF NOT EXISTS ",
      s,
      ".tiles (level smallint NOT NULL, idx bigint NOT NULL,"
      " data bytea NOT NULL, PRIMARY KEY (level, idx));"
      "CREATE TABLE IF NOT EXISTS ",
      s,
      ".bundles (idx bigint PRIMARY KEY, data bytea NOT NULL);"
      "CREATE TABLE IF NOT EXISTS ",
      s,
      ".fragments (idx bigint NOT NULL, off smallint NOT NULL,"
      " data bytea NOT NULL, PRIMARY KEY (idx, off));"
      // A batch's fragment (its entries, JSON) compresses about 17:1 and is
      // compressed on every batch, in the batch's transaction: LZ4 rather
      // than the default pglz. Measured need (perf of the region under
      // bench/region-throughput.sh's reads, interleaved): pglz_compress took
      // 263-326 samples of the log writer's backend per 5 s, LZ4 11-21, and
      // the batch write fell from 9.1-9.5 ms to 7.7-8.3 ms (busy box), the
      // WAL per entry unchanged (466-549 B). Set only when not yet so (the
      // ALTER takes an exclusive lock); a server built without LZ4 keeps
      // pglz. Rows written before keep their method (read either way).
      "DO $clover$ BEGIN IF (SELECT attcompression FROM pg_attribute WHERE"
      " attrelid = '",
      s,
      ".fragments'::regclass AND attname = 'data') IS DISTINCT FROM 'l'"
      " THEN ALTER TABLE ",
      s,
      ".fragments ALTER COLUMN data SET COMPRESSION lz4; END IF;"
      " EXCEPTION WHEN feature_not_supported THEN NULL; END $clover$;"
      "CREATE TABLE IF NOT EXISTS ",
      s, ".state (name text PRIMARY KEY, data bytea NOT NULL);",
      pg::BarrierTableDdl(schema), "COMMIT;");
}

class PostgresLogStorage final : public LogStorage {
 public:
  PostgresLogStorage(const std::string& dsn, std::string schema,
                     const PostgresLogStorageOptions& options)
      : schema_(schema),
        read_only_(options.read_only),
        read_retry_(options.read_retry),
        write_retry_(options.write_retry),
        pool_(dsn, options.max_connections,
              [schema = std::move(schema),
               read_only = options.read_only](pg::Connection& c) {
                return InitConnection(c, schema, read_only);
              }) {}

  absl::StatusOr<std::string> ReadTile(int level, uint64_t index) override {
    if (level < 0 || level > 0x7fff) {
      return absl::InvalidArgumentError(
          absl::StrCat("tile level ", level, " out of range"));
    }
    const std::string l = pg::Int2Param(static_cast<int16_t>(level));
    const std::string i = pg::Int8Param(static_cast<int64_t>(index));
    return Get({"get_tile", {l, i}}, "tile");
  }
  absl::StatusOr<std::string> ReadEntryBundle(uint64_t index) override {
    const std::string i = pg::Int8Param(static_cast<int64_t>(index));
    // The fragments its batches wrote; else the bundle as earlier versions
    // stored it once full. Fragments first: a first-format store kept its
    // partial bundle whole, a copy that is stale once fragments exist.
    absl::StatusOr<std::string> fragments = pool_.Run(
        [&](pg::Connection& c) -> absl::StatusOr<std::string> {
          CLOVER_ASSIGN_OR_RETURN(
              pg::Result r,
              c.Query({"get_fragments", {i}}, "read entry bundle fragments"));
          const int rows = PQntuples(r.get());
          if (rows == 0) return absl::NotFoundError("entry bundle: not found");
          std::string bundle;
          for (int row = 0; row < rows; ++row) {
            absl::StrAppend(&bundle, pg::Cell(r.get(), row, 0));
          }
          return bundle;
        },
        read_retry_);
    if (!absl::IsNotFound(fragments.status())) return fragments;
    return Get({"get_bundle", {i}}, "entry bundle");
  }
  absl::StatusOr<std::string> ReadBundleFragment(
      const FragmentId& id) override {
    CLOVER_RETURN_IF_ERROR(CheckFragmentOffset(id));
    const std::string i = pg::Int8Param(static_cast<int64_t>(id.bundle));
    const std::string o = pg::Int2Param(static_cast<int16_t>(id.offset));
    return Get({"get_fragment", {i, o}}, "entry bundle fragment");
  }
  absl::StatusOr<std::string> ReadCheckpoint() override {
    return Get({"get_state", {kCheckpointRow}}, "checkpoint");
  }
  absl::StatusOr<std::string> ReadMetadata() override {
    return Get({"get_state", {kMetadataRow}}, "log metadata");
  }

  absl::Status Write(const LogWriteBatch& batch) override {
    if (read_only_) {
      return absl::FailedPreconditionError("log storage is open read-only");
    }
    // Encoded keys must not move while the statements point into them.
    std::vector<std::string> keys;
    keys.reserve(2 * batch.tiles.size() + batch.bundles.size() +
                 2 * batch.fragments.size() +
                 2 * batch.deleted_fragments.size());
    std::vector<pg::Statement> stmts;
    stmts.reserve(batch.tiles.size() + batch.bundles.size() +
                  batch.fragments.size() + batch.deleted_fragments.size() + 2);
    for (const FragmentId& id : batch.deleted_fragments) {
      CLOVER_RETURN_IF_ERROR(CheckFragmentOffset(id));
      keys.push_back(pg::Int8Param(static_cast<int64_t>(id.bundle)));
      const std::string& i = keys.back();
      keys.push_back(pg::Int2Param(static_cast<int16_t>(id.offset)));
      stmts.push_back({"delete_fragment", {i, keys.back()}});
    }
    for (const auto& [id, data] : batch.fragments) {
      CLOVER_RETURN_IF_ERROR(CheckFragmentOffset(id));
      keys.push_back(pg::Int8Param(static_cast<int64_t>(id.bundle)));
      const std::string& i = keys.back();
      keys.push_back(pg::Int2Param(static_cast<int16_t>(id.offset)));
      stmts.push_back({"put_fragment", {i, keys.back(), data}});
    }
    for (const auto& [id, data] : batch.tiles) {
      if (id.level < 0 || id.level > 0x7fff) {
        return absl::InvalidArgumentError(
            absl::StrCat("tile level ", id.level, " out of range"));
      }
      keys.push_back(pg::Int2Param(static_cast<int16_t>(id.level)));
      const std::string& l = keys.back();
      keys.push_back(pg::Int8Param(static_cast<int64_t>(id.index)));
      stmts.push_back({"put_tile", {l, keys.back(), data}});
    }
    for (const auto& [index, data] : batch.bundles) {
      keys.push_back(pg::Int8Param(static_cast<int64_t>(index)));
      stmts.push_back({"put_bundle", {keys.back(), data}});
    }
    if (!batch.checkpoint.empty()) {
      stmts.push_back({"put_state", {kCheckpointRow, batch.checkpoint}});
    }
    if (!batch.metadata.empty()) {
      stmts.push_back({"put_state", {kMetadataRow, batch.metadata}});
    }
    // Retried on a fresh connection: the upserts are idempotent, and this
    // log's sequencer is the schema's only writer. Once a COMMIT was in
    // doubt (the connection broke while it was in flight, or it drew a
    // warning), it may have committed on the primary only: every checkpoint
    // is unique (size, root, signature), so an attempt first reads it back
    // and, if it is there, acknowledges the batch only once a barrier has
    // reached a synchronous standby (core/postgres_barrier.h); if it is not
    // there, the batch is sent again (a re-sent batch that commits without
    // doubt has waited for the standby itself).
    bool in_doubt = false;
    auto attempt = [&](pg::Connection& c, absl::Time deadline) {
      if (in_doubt && !batch.checkpoint.empty()) {
        absl::Status confirmed =
            pg::ConfirmInDoubt(c, schema_, deadline, [&](pg::Connection& conn) {
              return CheckpointIs(conn, batch.checkpoint);
            });
        if (!absl::IsAborted(confirmed)) return confirmed;
      }
      absl::Status s = c.Transaction(stmts, "log batch write");
      if (c.commit_in_doubt()) in_doubt = true;
      return s;
    };
    const absl::Time deadline = absl::Now() + write_retry_;
    absl::Status status = pool_.Run(
        [&](pg::Connection& c) { return attempt(c, deadline); }, write_retry_);
    if (absl::IsUnavailable(status) && in_doubt && !batch.checkpoint.empty()) {
      // Retries are spent (write_retry may be 0), but whether the batch
      // committed can still be told, for read_retry, without sending it again.
      const absl::Time check_deadline = absl::Now() + read_retry_;
      absl::Status confirmed = pool_.Run(
          [&](pg::Connection& c) {
            return pg::ConfirmInDoubt(
                c, schema_, check_deadline, [&](pg::Connection& conn) {
                  return CheckpointIs(conn, batch.checkpoint);
                });
          },
          read_retry_);
      if (confirmed.ok()) return confirmed;
      if (!absl::IsAborted(confirmed)) {
        return absl::UnavailableError(absl::StrCat(
            status.message(),
            "; could not confirm that the batch is on a synchronous standby: ",
            confirmed.message()));
      }
    }
    return status;
  }

 private:
  // OK if the stored checkpoint is `checkpoint`, Aborted if not (or none),
  // Unavailable if it cannot tell.
  static absl::Status CheckpointIs(pg::Connection& c,
                                   const std::string& checkpoint) {
    CLOVER_ASSIGN_OR_RETURN(pg::Result r,
                            c.Query({"get_state", {kCheckpointRow}},
                                    "read back an in-doubt log batch"));
    if (PQntuples(r.get()) == 0 || pg::Cell(r.get(), 0, 0) != checkpoint) {
      return absl::AbortedError("log batch not committed");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> Get(const pg::Statement& stmt,
                                  absl::string_view what) {
    return pool_.Run(
        [&](pg::Connection& c) -> absl::StatusOr<std::string> {
          CLOVER_ASSIGN_OR_RETURN(pg::Result r,
                                  c.Query(stmt, absl::StrCat("read ", what)));
          if (PQntuples(r.get()) == 0) {
            return absl::NotFoundError(absl::StrCat(what, ": not found"));
          }
          return std::string(pg::Cell(r.get(), 0, 0));
        },
        read_retry_);
  }

  const std::string schema_;
  const bool read_only_;
  const absl::Duration read_retry_;
  const absl::Duration write_retry_;
  pg::Pool pool_;
};

absl::StatusOr<bool> SchemaExists(pg::Connection& c,
                                  const std::string& schema) {
  CLOVER_RETURN_IF_ERROR(
      c.Prepare("schema_exists",
                "SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname=$1 AND "
                "tablename='state'",
                {pg::kTextOid}));
  CLOVER_ASSIGN_OR_RETURN(pg::Result r,
                          c.Query({"schema_exists", {schema}}, "schema check"));
  return PQntuples(r.get()) > 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<LogStorage>> OpenPostgresLogStorage(
    const std::string& dsn, const std::string& log_name,
    const PostgresLogStorageOptions& options) {
  CLOVER_RETURN_IF_ERROR(CheckLogName(log_name));
  const std::string schema = absl::StrCat("clover_log_", log_name);
  {
    CLOVER_ASSIGN_OR_RETURN(std::unique_ptr<pg::Connection> c,
                            pg::Connection::Open(dsn));
    if (options.read_only) {
      CLOVER_ASSIGN_OR_RETURN(bool exists, SchemaExists(*c, schema));
      if (!exists) {
        return absl::NotFoundError(
            absl::StrCat("postgres: no log '", log_name, "' in this database"));
      }
    } else {
      CLOVER_RETURN_IF_ERROR(c->Exec(SchemaDdl(schema), "create log schema"));
    }
  }
  auto storage = std::make_unique<PostgresLogStorage>(dsn, schema, options);
  // Fail at open, not at the first append, if the statements do not prepare.
  absl::StatusOr<std::string> probe = storage->ReadCheckpoint();
  if (!probe.ok() && !absl::IsNotFound(probe.status())) return probe.status();
  return storage;
}

}  // namespace clover::log
