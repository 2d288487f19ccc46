// Fixed-width big-endian integers in byte strings: the order that keeps
// encoded keys sorting like the numbers they hold.
#ifndef CLOVER_CORE_BIG_ENDIAN_H_
#define CLOVER_CORE_BIG_ENDIAN_H_

#include <cstdint>
#include <string>

namespace clover {

// Writes `v` into out[0..7], most significant byte first.
inline void StoreBigEndian64(uint64_t v, uint8_t* out) {
  for (int i = 7; i >= 0; --i, v >>= 8) out[i] = static_cast<uint8_t>(v);
}

// Appends the eight bytes of `v`, most significant first.
inline void AppendBigEndian64(uint64_t v, std::string* out) {
  uint8_t bytes[8];
  StoreBigEndian64(v, bytes);
  out->append(reinterpret_cast<const char*>(bytes), sizeof bytes);
}

// Reads eight bytes at `p` (the caller checks they exist).
inline uint64_t ReadBigEndian64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

}  // namespace clover

#endif  // CLOVER_CORE_BIG_ENDIAN_H_
