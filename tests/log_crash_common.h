// Shared by the log crash tests (RocksDB and PostgreSQL) and their helpers.
#ifndef CLOVER_TESTS_LOG_CRASH_COMMON_H_
#define CLOVER_TESTS_LOG_CRASH_COMMON_H_

#include <memory>
#include <string>

#include "crypto/ed25519.h"
#include "log/merkle.h"
#include "log/note.h"

namespace clover::log::crash {

inline constexpr char kOrigin[] = "crash.clover.example/log";

inline crypto::Ed25519PrivateKey Key() {
  return *crypto::Ed25519PrivateKey::FromSeed(std::string(32, 'c'));
}

// A checkpoint the helper published: each later one must be consistent.
struct Published {
  uint64_t size;
  Hash root;
};

}  // namespace clover::log::crash

#endif  // CLOVER_TESTS_LOG_CRASH_COMMON_H_
