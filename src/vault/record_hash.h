// The canonical hash of a subject record, which `clover migrate legacy`
// computes from the record it sends and the node from the record it stored
// (POST /v1/migrations/records/verify): equal hashes mean the home region
// holds exactly what the legacy row said. Field order does not count (fields
// are hashed sorted by name); values, list items and their order do.
#ifndef CLOVER_VAULT_RECORD_HASH_H_
#define CLOVER_VAULT_RECORD_HASH_H_

#include <string>

#include "vault/record.h"

namespace clover::vault {

// Hex SHA-256 of "clover-record/v1", NUL and EncodeRecord of `record` with its
// fields sorted by name.
[[nodiscard]] std::string CanonicalRecordHash(Record record);

}  // namespace clover::vault

#endif  // CLOVER_VAULT_RECORD_HASH_H_
