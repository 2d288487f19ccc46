// A RocksDB memtable representation for column families written in random
// key order and read by point lookups: a hash table of the user keys, sorted
// only when an iterator asks for order (a flush, a scan).
//
// Why: RocksDB's default memtable is a skiplist. Inserting a random key into a
// 64 MiB memtable descends a dozen nodes scattered over the arena, one
// dependent cache miss each, and Debian's librocksdb is built with assertions
// enabled (6,390 assert call sites), which re-run the comparator at every step
// of the descent. For the vault's subjects table that was 27% of a put's CPU.
// Here an insert is a hash, a short chain walk and two stores; a lookup is the
// same walk; the sort is done once per immutable memtable, comparing 8-byte key
// prefixes kept in the nodes before it compares whole keys.
//
// Contract:
// - Only for column families with the default bytewise comparator: the
//   entries of one user key are found by hashing its bytes.
// - Requires DBOptions::allow_concurrent_memtable_write = false (RocksDB's
//   DB::Open refuses the factory otherwise: inserts are not thread-safe among
//   themselves).
// - Lookups and iterators may run concurrently with the one writer. An iterator
//   sees the entries present when it was created (entries written later carry
//   higher sequence numbers, which RocksDB hides from it anyway). Creating one
//   on the mutable memtable sorts a copy of its entries, O(n log n): fine for
//   flushes and whole-table scans, wasteful for many short range scans, which
//   such column families should not see.
// - Written against RocksDB 7.8 (Debian bookworm): it reads rocksdb::LookupKey
//   and calls rocksdb::Arena::AllocateAligned, whose headers are not installed,
//   by their 7.8 layout and exported symbol. The layout is checked on every
//   lookup (a mismatch aborts with a message rather than answer wrongly), and
//   the build refuses another RocksDB version until this file is reviewed.
//
// Thread-safety: the factory is thread-safe; each memtable follows RocksDB's
// MemTableRep contract (one writer, concurrent readers).
#ifndef CLOVER_ROCKSDB_MEMTABLE_HASH_MEMTABLE_H_
#define CLOVER_ROCKSDB_MEMTABLE_HASH_MEMTABLE_H_

#include <rocksdb/memtablerep.h>

#include <cstddef>
#include <memory>

namespace clover::rocksdb_memtable {

// A factory whose memtables have `buckets` hash buckets (rounded up to a power
// of two, at least 1,024): about one per expected entry, 8 bytes each, counted
// in the memtable's size.
[[nodiscard]] std::shared_ptr<rocksdb::MemTableRepFactory>
NewHashMemTableFactory(size_t buckets);

}  // namespace clover::rocksdb_memtable

#endif  // CLOVER_ROCKSDB_MEMTABLE_HASH_MEMTABLE_H_
