// A subject record as the vault sees it: the subject's country and its field
// values, and the binary encoding of that record inside the encrypted envelope.
#ifndef CLOVER_VAULT_RECORD_H_
#define CLOVER_VAULT_RECORD_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace clover::vault {

// One field's value: `value` for scalar formats, `items` for text_list fields.
struct FieldValue {
  std::string name;
  bool is_list = false;
  std::string value;
  std::vector<std::string> items;

  bool operator==(const FieldValue&) const = default;
};

struct Record {
  std::string country;  // ISO 3166-1 alpha-2, upper case
  std::vector<FieldValue> fields;

  // nullptr if the record has no such field.
  const FieldValue* Find(absl::string_view name) const;
  bool operator==(const Record&) const = default;
};

// Compact length-prefixed encoding (varint lengths); what the vault encrypts.
[[nodiscard]] std::string EncodeRecord(const Record& record);
// Errors: DataLoss if `bytes` is not a well-formed encoding (truncated,
// trailing bytes, absurd lengths).
[[nodiscard]] absl::StatusOr<Record> DecodeRecord(absl::string_view bytes);

}  // namespace clover::vault

#endif  // CLOVER_VAULT_RECORD_H_
