// Hardware CRC32C for RocksDB.
//
// RocksDB checksums every write-ahead-log record and every table block with
// CRC32C. Debian's librocksdb is a portable build, so it computes CRC32C with
// tables, about 1 GB/s: on a gateway node that was 6% of all CPU, spent on
// the log's WAL alone. Linking this library into an executable defines
// rocksdb::crc32c::Extend (an exported function that RocksDB itself calls
// through its PLT), which takes precedence over the library's copy, and
// computes the same function with the SSE4.2 crc32 instruction. On a CPU
// without SSE4.2 it forwards to RocksDB's own implementation.
//
// Link it through the `clover_rocksdb` CMake target, which every part that
// uses RocksDB depends on. Thread-safe.
#ifndef CLOVER_ROCKSDB_CRC32C_CRC32C_H_
#define CLOVER_ROCKSDB_CRC32C_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace clover::rocksdb_crc32c {

// CRC32C (Castagnoli) of `size` bytes, continuing from `crc` (0 to start):
// the contract of rocksdb::crc32c::Extend. Uses the crc32 instruction when the
// CPU has it.
[[nodiscard]] uint32_t Extend(uint32_t crc, const char* data, size_t size);

// True if RocksDB's calls resolve to this library's function and it uses the
// crc32 instruction. False means RocksDB computes CRC32C itself (correct,
// only slower).
[[nodiscard]] bool Accelerated();

// RocksDB's own implementation, for tests that compare the two; null if the
// library's symbol cannot be found.
using ExtendFunction = uint32_t (*)(uint32_t, const char*, size_t);
[[nodiscard]] ExtendFunction LibraryExtend();

}  // namespace clover::rocksdb_crc32c

#endif  // CLOVER_ROCKSDB_CRC32C_CRC32C_H_
