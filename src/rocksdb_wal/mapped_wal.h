// A RocksDB Env whose write-ahead logs are appended through a shared memory
// mapping instead of one write(2) per log record.
//
// Why: a vault put that shares no group commit with other writers costs one
// write(2) of ~400 bytes to the WAL; on this project's test machine that
// system call path was 11% of a put's CPU (perf). Through the mapping an
// append is a memcpy, plus a page fault per fresh 4 KiB page of log, which
// takes back part of the saving: in five alternating pairs of bench_vault
// runs its storage floor rose 15-34%, its new-subject puts 2-21%. For unsynced
// writes only: after a synced write's fdatasync has cleaned the log's last
// page, the next append faults it writable again, which costs more than the
// write(2) it replaces (a gateway node's synced vault writes ran 15-24% slower
// mapped).
//
// RocksDB's POSIX file system already has a mapped writer (PosixMmapFile, the
// one `allow_mmap_writes` uses for table files) but turns it off for logs in
// OptimizeForLogWrite; this Env's file system turns it back on for logs only.
// Tables, the manifest and everything else are written exactly as by
// rocksdb::Env::Default().
//
// Durability is unchanged. An appended record is in the page cache when the
// write returns, as with write(2), so it survives the process being killed
// (kill -9) and is lost on power failure unless the write was synced;
// WriteOptions::sync still makes the write durable (fdatasync and msync of
// the appended pages). The file grows by fallocate'd regions of 64 KiB
// doubling to 1 MiB, so a full disk fails the append that needs a new region
// with an error instead of a SIGBUS at a later store. A log closed normally
// is truncated to its records; a log left by a killed process ends in zeros
// to its region's end, which RocksDB's log reader skips as padding (its
// writer produced such files before logs went through write(2)).
//
// Requires a local file system with shared writable mappings (ext4, xfs,
// tmpfs); where mmap is refused, the first write fails with an I/O error.
//
// Thread-safety: the Env is process-wide, never destroyed, and as
// thread-safe as rocksdb::Env::Default(), whose threads it shares.
#ifndef CLOVER_ROCKSDB_WAL_MAPPED_WAL_H_
#define CLOVER_ROCKSDB_WAL_MAPPED_WAL_H_

#include <rocksdb/env.h>

namespace clover::rocksdb_wal {

// The Env to put in rocksdb::DBOptions::env for mapped write-ahead logs.
[[nodiscard]] rocksdb::Env* MappedWalEnv();

}  // namespace clover::rocksdb_wal

#endif  // CLOVER_ROCKSDB_WAL_MAPPED_WAL_H_
