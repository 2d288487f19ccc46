#include "rocksdb_crc32c/crc32c.h"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

// RocksDB's function (its util/crc32c.h is not installed), defined below.
namespace rocksdb::crc32c {
__attribute__((visibility("default"))) uint32_t Extend(uint32_t crc,
                                                       const char* data,
                                                       size_t size);
}  // namespace rocksdb::crc32c

// Its mangled name, for dlsym.
constexpr char kExtendSymbol[] = "_ZN7rocksdb6crc32c6ExtendEjPKcm";

namespace clover::rocksdb_crc32c {
namespace {

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t ExtendSse42(uint32_t crc,
                                                       const char* data,
                                                       size_t size) {
  uint64_t c = ~crc;
  for (; size >= 8; size -= 8, data += 8) {
    uint64_t word;
    std::memcpy(&word, data, sizeof word);
    c = _mm_crc32_u64(c, word);
  }
  auto c32 = static_cast<uint32_t>(c);
  for (; size > 0; --size, ++data) {
    c32 = _mm_crc32_u8(c32, static_cast<unsigned char>(*data));
  }
  return ~c32;
}
#endif

bool HasCrc32Instruction() {
#if defined(__x86_64__)
  return __builtin_cpu_supports("sse4.2");
#else
  return false;
#endif
}

ExtendFunction Choose() {
#if defined(__x86_64__)
  if (HasCrc32Instruction()) return ExtendSse42;
#endif
  // Always there: Clover links librocksdb.so (a static RocksDB would collide
  // with this file's definition at link time).
  ExtendFunction library = LibraryExtend();
  if (library == nullptr) {
    std::fprintf(stderr, "rocksdb_crc32c: librocksdb's %s not found\n",
                 kExtendSymbol);
    std::abort();
  }
  return library;
}

}  // namespace

ExtendFunction LibraryExtend() {
  // The next definition after this executable's own: librocksdb's.
  return reinterpret_cast<ExtendFunction>(dlsym(RTLD_NEXT, kExtendSymbol));
}

uint32_t Extend(uint32_t crc, const char* data, size_t size) {
  static const ExtendFunction chosen = Choose();
  return chosen(crc, data, size);
}

bool Accelerated() {
  // What RocksDB's PLT calls bind to: the first definition in the global
  // lookup order.
  void* resolved = dlsym(RTLD_DEFAULT, kExtendSymbol);
  ExtendFunction mine = &rocksdb::crc32c::Extend;
  return HasCrc32Instruction() && resolved == reinterpret_cast<void*>(mine);
}

}  // namespace clover::rocksdb_crc32c

uint32_t rocksdb::crc32c::Extend(uint32_t crc, const char* data, size_t size) {
  return clover::rocksdb_crc32c::Extend(crc, data, size);
}
