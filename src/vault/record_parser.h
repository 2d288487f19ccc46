// Record input: the JSON body of `PUT /v1/subjects/{id}` and schema
// enforcement.
#ifndef CLOVER_VAULT_RECORD_PARSER_H_
#define CLOVER_VAULT_RECORD_PARSER_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "config/deployment.h"
#include "vault/record.h"

namespace clover::vault {

inline constexpr size_t kMaxRecordBodyBytes = 1 << 20;

// Parses
// `{"country":"IE","fields":{"email":"a@b.example","follows":["x","y"],...}}`.
// `country` is required (ISO 3166-1 alpha-2); `fields` is required (may be
// empty). Every field must be in `schema`, at most once, with a value of its
// format: a JSON array of strings for text_list, a string or an integral number
// for integer, a string otherwise. Fields keep the order of the body. Errors:
// InvalidArgument naming the byte offset of a JSON syntax error, or "field
// 'NAME': ..." / "country: ..." for content errors. Values are never echoed.
// Thread-safe.
[[nodiscard]] absl::StatusOr<Record> ParseRecordJson(const Schema& schema,
                                                     absl::string_view body);

// Applies the same schema rules to a record built in code.
[[nodiscard]] absl::Status ValidateRecord(const Schema& schema,
                                          const Record& record);

// The schema field called `name`, or nullptr.
const FieldSpec* FindField(const Schema& schema, absl::string_view name);

}  // namespace clover::vault

#endif  // CLOVER_VAULT_RECORD_PARSER_H_
