// C2SP tlog-tiles layout: tile coordinates, the x001/x234/067 path encoding,
// partial tiles and entry bundles.
#ifndef CLOVER_LOG_TILE_H_
#define CLOVER_LOG_TILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace clover::log {

inline constexpr int kTileHeight = 8;
inline constexpr int kTileWidth =
    1 << kTileHeight;  // hashes (or entries) in a full tile
inline constexpr int kMaxTileLevel = 63;
inline constexpr size_t kMaxEntrySize =
    65535;  // bundle length prefix is a uint16

// One resource of the tiled log: a hash tile (`tile/L/N`) or an entry bundle
// (`tile/entries/N`), full (width 256) or partial (`.p/W`, 1 <= W <= 255).
struct TilePath {
  bool entries = false;
  int level = 0;  // 0 for entry bundles
  uint64_t index = 0;
  int width = kTileWidth;

  bool full() const { return width == kTileWidth; }
  bool operator==(const TilePath&) const = default;
};

// "x001/x234/067" for 1234067; "000" for 0.
[[nodiscard]] std::string FormatTileIndex(uint64_t index);
// "tile/0/x001/x234/067.p/5" or "tile/entries/067".
[[nodiscard]] std::string FormatTilePath(const TilePath& path);

// Parses a path relative to the log prefix, such as "tile/1/x001/002.p/7". Only
// the canonical encoding is accepted (no leading zeros in L or W, no "x000"
// leading element), so each resource has exactly one name. Errors:
// InvalidArgument saying what is wrong.
[[nodiscard]] absl::StatusOr<TilePath> ParseTilePath(absl::string_view path);

// Width of the partial tile at `level` for a tree of `size` leaves (0 when
// none).
[[nodiscard]] int PartialTileWidth(uint64_t size, int level);
// Number of full tiles at `level` for a tree of `size` leaves.
[[nodiscard]] uint64_t FullTileCount(uint64_t size, int level);
// Number of hashes at tile level `level` (= floor(size / 256^level)).
[[nodiscard]] uint64_t HashesAtLevel(uint64_t size, int level);

// Appends `entry` to an entry bundle as a big-endian uint16 length and the
// bytes. Errors: InvalidArgument if the entry is larger than 65,535 bytes.
[[nodiscard]] absl::Status AppendToBundle(std::string& bundle,
                                          absl::string_view entry);

// Splits a bundle into its entries (views into `bundle`).
// Errors: InvalidArgument on a truncated length or entry.
[[nodiscard]] absl::StatusOr<std::vector<absl::string_view>> ParseEntryBundle(
    absl::string_view bundle);

// Byte length of the first `count` entries of `bundle`.
// Errors: InvalidArgument if the bundle holds fewer entries or is malformed.
[[nodiscard]] absl::StatusOr<size_t> BundlePrefixSize(absl::string_view bundle,
                                                      int count);

}  // namespace clover::log

#endif  // CLOVER_LOG_TILE_H_
