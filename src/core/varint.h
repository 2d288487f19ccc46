// LEB128 varints in byte strings: seven bits per byte, least significant
// first, the high bit set on every byte but the last. Compact lengths and
// deltas where the order of encoded bytes does not matter (big_endian.h is
// for keys that must sort).
#ifndef CLOVER_CORE_VARINT_H_
#define CLOVER_CORE_VARINT_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace clover {

// Appends `v` in one to ten bytes.
inline void AppendVarint64(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// Reads one varint from the front of `in` and removes it. False if `in` ends
// inside it or it does not fit 64 bits (`in` is then partly consumed).
[[nodiscard]] inline bool ReadVarint64(absl::string_view* in, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && !in->empty(); shift += 7) {
    const auto byte = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    *v |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return shift < 63 || byte <= 1;
  }
  return false;
}

}  // namespace clover

#endif  // CLOVER_CORE_VARINT_H_
