// Fuzzes the tlog-tiles path parser: no crash, and every accepted path is
// canonical (formats back to exactly the input).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "log/tile.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  auto path = clover::log::ParseTilePath(input);
  if (path.ok()) {
    if (clover::log::FormatTilePath(*path) != input) std::abort();
    if (path->width < 1 || path->width > 256 || path->level < 0 ||
        path->level > 63)
      std::abort();
  }
  return 0;
}
