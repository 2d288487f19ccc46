// The mapping file of `clover migrate legacy` (docs/configuration.md "Legacy
// migration mapping"): which legacy table (for a PostgreSQL source), which
// column is the source key, which gives each record's country, and how
// source columns map to the schema's fields, with per-field format checks.
#ifndef CLOVER_MIGRATE_MAPPING_H_
#define CLOVER_MIGRATE_MAPPING_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "config/deployment.h"

namespace clover::migrate {

// A batch's attestation carries one key hash and one write index per record
// in one log entry, whose bundle framing caps it at 64 KiB: 500 records take
// about 38 KB.
inline constexpr size_t kMaxBatchSize = 500;

struct FieldMapping {
  const FieldSpec* field = nullptr;  // in the schema the mapping was read for
  size_t column = 0;                 // index into LegacyMapping::columns
  std::string list_separator = ",";  // text_list from a plain string
};

struct LegacyMapping {
  std::string migration;  // "" = derived from the source identity
  std::string table;      // PostgreSQL sources only
  // Every source column read, each once: [0] the key, [1] the country, then
  // the subject column (if other than the key) and the fields' columns.
  std::vector<std::string> columns;
  size_t subject_column = 0;
  std::string subject_prefix;
  size_t batch_size = 500;
  std::vector<FieldMapping> fields;
};

// Parses the mapping in `yaml` (named `file` in errors) against `schema`
// (which must outlive the result). Errors: InvalidArgument, one line
// "file:line:col: field 'a.b': message": unknown keys, a missing key/country
// column, a field the schema lacks, a format differing from the schema's, a
// column name outside [A-Za-z_][A-Za-z0-9_]*, a table name outside that
// (optionally schema-qualified), batch_size outside 1..500.
[[nodiscard]] absl::StatusOr<LegacyMapping> ParseMapping(absl::string_view yaml,
                                                         absl::string_view file,
                                                         const Schema& schema);

// The keys the mapping loader accepts (core/config_keys.h).
[[nodiscard]] std::vector<std::string> MappingConfigKeys();

}  // namespace clover::migrate

#endif  // CLOVER_MIGRATE_MAPPING_H_
