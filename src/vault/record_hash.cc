#include "vault/record_hash.h"

#include <algorithm>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "crypto/sha256.h"

namespace clover::vault {

std::string CanonicalRecordHash(Record record) {
  std::sort(
      record.fields.begin(), record.fields.end(),
      [](const FieldValue& a, const FieldValue& b) { return a.name < b.name; });
  std::string data("clover-record/v1");
  data.push_back('\0');
  data.append(EncodeRecord(record));
  const crypto::Sha256Digest d = crypto::Sha256(data);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

}  // namespace clover::vault
