// The legacy stores `clover migrate legacy` reads from: a PostgreSQL table
// (rows deleted in the source's own transaction once migrated) or a one-off
// NDJSON or CSV dump (read only: nothing can be deleted from a dump; see
// docs/operations.md "Legacy migration").
#ifndef CLOVER_MIGRATE_SOURCE_H_
#define CLOVER_MIGRATE_SOURCE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "migrate/mapping.h"

namespace clover::migrate {

// One source row: the mapped columns' values (LegacyMapping::columns order;
// nullopt for SQL NULL, JSON null or a missing member/empty CSV cell).
struct Row {
  uint64_t line = 0;  // files: the row's (first) line, 1-based; else 0
  std::vector<std::optional<std::string>> values;
  const std::string& key() const { return *values[0]; }
};

// RFC 4180 CSV over `text` (LF or CRLF; quoted cells may hold separators,
// quotes as "" and line breaks). Thread-compatible.
class CsvCursor {
 public:
  explicit CsvCursor(absl::string_view text) : text_(text) {}
  // The next record's cells into `cells`; false at the end. Errors:
  // InvalidArgument "line N: ..." for an unterminated quote or text after a
  // closing quote.
  [[nodiscard]] absl::StatusOr<bool> Next(std::vector<std::string>& cells);
  uint64_t line() const { return record_line_; }  // of the last record read

 private:
  absl::string_view text_;
  size_t pos_ = 0;
  uint64_t next_line_ = 1;
  uint64_t record_line_ = 0;
};

// Rows of a CSV text whose first record names the columns. `fn` is called for
// each row, in order. Errors: InvalidArgument "line N: ..." (a header without
// a mapped column, a row with a different number of cells, a row without its
// key, syntax errors) and whatever `fn` returns.
[[nodiscard]] absl::Status ScanCsv(absl::string_view text,
                                   const LegacyMapping& mapping,
                                   const std::function<absl::Status(Row)>& fn);

// One NDJSON line (a JSON object) as a Row: strings as they are, numbers and
// booleans as their JSON text, arrays as their JSON text (read back as a
// text_list), null or absent members as nullopt. Errors: InvalidArgument
// naming what is wrong (not JSON, not an object, an object value, no key).
[[nodiscard]] absl::StatusOr<Row> ParseNdjsonRow(absl::string_view line,
                                                 const LegacyMapping& mapping);
// Every non-blank line of `text` through ParseNdjsonRow; errors name the line.
[[nodiscard]] absl::Status ScanNdjson(
    absl::string_view text, const LegacyMapping& mapping,
    const std::function<absl::Status(Row)>& fn);

class LegacySource {
 public:
  virtual ~LegacySource() = default;
  // "postgres:<host>:<port>/<db>/<table>", "ndjson:<sha256>" or
  // "csv:<sha256>" (entry/legacy_deletion.h).
  virtual const std::string& identity() const = 0;
  // False for dumps: their rows cannot be deleted.
  virtual bool deletes() const = 0;
  // The number of rows (for progress), or 0 if unknown.
  virtual uint64_t Count() = 0;
  // Every row, in one consistent read.
  [[nodiscard]] virtual absl::Status Scan(
      const std::function<absl::Status(Row)>& fn) = 0;
  // The rows of `keys` still at the source.
  [[nodiscard]] virtual absl::StatusOr<std::vector<Row>> Fetch(
      const std::vector<std::string>& keys) = 0;
  // Deletes the rows of `keys` in one transaction; keys already gone are
  // skipped. Returns the number deleted.
  [[nodiscard]] virtual absl::StatusOr<uint64_t> Delete(
      const std::vector<std::string>& keys) = 0;
};

// `src` names a file ending in .csv, .ndjson or .jsonl, or else is a libpq
// connection string (mapping.table then required). Errors: InvalidArgument
// for a file that cannot be read or a DSN without a table; Unavailable when
// the database cannot be reached (the message never holds the DSN).
[[nodiscard]] absl::StatusOr<std::unique_ptr<LegacySource>> OpenSource(
    const std::string& src, const LegacyMapping& mapping);

}  // namespace clover::migrate

#endif  // CLOVER_MIGRATE_SOURCE_H_
