// MigratePostgresVaultToV2 (vault/layout_migration.h): the PostgreSQL side of
// the layout migration, in one transaction.
#include <libpq-fe.h>

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/postgres_connection.h"
#include "core/status_macros.h"
#include "vault/layout_migration.h"
#include "vault/postgres_storage.h"
#include "vault/storage.h"

namespace clover::vault {
namespace {

std::optional<absl::string_view> OptionalCell(const PGresult* r, int row,
                                              int col) {
  if (PQgetisnull(r, row, col)) return std::nullopt;
  return pg::Cell(r, row, col);
}

}  // namespace

absl::StatusOr<MigrationReport> MigratePostgresVaultToV2(
    const std::string& dsn, const std::string& region) {
  CLOVER_RETURN_IF_ERROR(CheckPostgresVaultRegion(region));
  const std::string schema =
      pg::QuoteIdent(absl::StrCat("clover_vault_", region));
  auto in_schema = [&](absl::string_view table) {
    return absl::StrCat(
        schema, ".",
        pg::QuoteIdent(absl::string_view(table.data(), table.size())));
  };
  CLOVER_ASSIGN_OR_RETURN(std::unique_ptr<pg::Connection> c,
                          pg::Connection::Open(dsn));
  CLOVER_RETURN_IF_ERROR(c->Prepare("clover_migrate_exists",
                                    "SELECT to_regclass($1) IS NOT NULL",
                                    {pg::kTextOid}));
  const std::string meta_table = in_schema("meta");
  CLOVER_ASSIGN_OR_RETURN(
      pg::Result exists,
      c->Query({"clover_migrate_exists", {meta_table}}, "look for v1 tables"));
  MigrationReport report;
  if (pg::Cell(exists.get(), 0, 0) != absl::string_view("\x01", 1)) {
    report.already_current = true;
    return report;
  }
  // Everything below runs in one transaction: any failure rolls it back.
  CLOVER_RETURN_IF_ERROR(c->Exec(
      absl::StrCat(
          "BEGIN;"
          "SELECT pg_advisory_xact_lock(hashtext('clover_postgres_schema'));"
          "CREATE TABLE IF NOT EXISTS ",
          in_schema(TableName(Table::kSubjects)),
          " (k bytea PRIMARY KEY, v bytea NOT NULL);"),
      "begin vault migration"));
  auto rollback = [&](absl::Status status) {
    c->Exec("ROLLBACK;", "roll back vault migration").IgnoreError();
    return status;
  };
  if (absl::Status s =
          c->Prepare("clover_migrate_read",
                     absl::StrCat("SELECT m.k, m.v, w.v, r.v FROM ", meta_table,
                                  " m LEFT JOIN ", in_schema("wrapped_keys"),
                                  " w ON w.k = m.k LEFT JOIN ",
                                  in_schema("records"), " r ON r.k = m.k"),
                     {});
      !s.ok()) {
    return rollback(s);
  }
  if (absl::Status s = c->Prepare(
          "clover_migrate_put",
          absl::StrCat("INSERT INTO ", in_schema(TableName(Table::kSubjects)),
                       " (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE "
                       "SET v = EXCLUDED.v"),
          {pg::kByteaOid, pg::kByteaOid});
      !s.ok()) {
    return rollback(s);
  }
  auto rows = c->Query({"clover_migrate_read", {}}, "read v1 subjects");
  if (!rows.ok()) return rollback(rows.status());
  const PGresult* r = rows->get();
  for (int i = 0; i < PQntuples(r); ++i) {
    const absl::string_view subject = pg::Cell(r, i, 0);
    auto row = SubjectRowFromV1(subject, pg::Cell(r, i, 1),
                                OptionalCell(r, i, 2), OptionalCell(r, i, 3));
    if (!row.ok()) return rollback(row.status());
    row->live() ? ++report.live : ++report.erased;
    const std::string value = row->Encode();
    auto put =
        c->Query({"clover_migrate_put", {subject, value}}, "write subject row");
    if (!put.ok()) return rollback(put.status());
  }
  if (absl::Status s = c->Exec(absl::StrCat("DROP TABLE ", meta_table, ", ",
                                            in_schema("wrapped_keys"), ", ",
                                            in_schema("records"), "; COMMIT;"),
                               "finish vault migration");
      !s.ok()) {
    return rollback(s);
  }
  return report;
}

}  // namespace clover::vault
