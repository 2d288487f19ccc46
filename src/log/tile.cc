#include "log/tile.h"

#include <charconv>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace clover::log {
namespace {

// Parses a canonical decimal in [min, max]: digits only, no leading zero unless
// "0".
bool ParseSmallDecimal(absl::string_view s, int min, int max, int& out) {
  if (s.empty() || s.size() > 3) return false;
  if (s.size() > 1 && s[0] == '0') return false;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (v < min || v > max) return false;
  out = v;
  return true;
}

absl::StatusOr<uint64_t> ParseIndex(
    const std::vector<absl::string_view>& parts) {
  if (parts.empty()) return absl::InvalidArgumentError("missing tile index");
  // uint64 has 20 decimal digits: at most 7 groups of three.
  if (parts.size() > 7)
    return absl::InvalidArgumentError("tile index too large");
  uint64_t v = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    absl::string_view p = parts[i];
    const bool last = i + 1 == parts.size();
    if (!last) {
      if (p.size() != 4 || p[0] != 'x') {
        return absl::InvalidArgumentError(absl::StrCat(
            "tile index element '", p, "' must be x followed by 3 digits"));
      }
      p.remove_prefix(1);
    } else if (p.size() != 3) {
      return absl::InvalidArgumentError(
          absl::StrCat("tile index element '", p, "' must be 3 digits"));
    }
    uint32_t group = 0;
    for (char c : p) {
      if (c < '0' || c > '9') {
        return absl::InvalidArgumentError(
            absl::StrCat("tile index element '", parts[i], "' is not decimal"));
      }
      group = group * 10 + static_cast<uint32_t>(c - '0');
    }
    if (i == 0 && !last && group == 0) {
      return absl::InvalidArgumentError(
          "tile index has a leading x000 element");
    }
    if (v > (UINT64_MAX - group) / 1000) {
      return absl::InvalidArgumentError("tile index too large");
    }
    v = v * 1000 + group;
  }
  return v;
}

}  // namespace

std::string FormatTileIndex(uint64_t index) {
  std::string groups[7];
  int n = 0;
  do {
    char buf[4];
    uint64_t g = index % 1000;
    buf[0] = static_cast<char>('0' + g / 100);
    buf[1] = static_cast<char>('0' + g / 10 % 10);
    buf[2] = static_cast<char>('0' + g % 10);
    buf[3] = 0;
    groups[n++] = buf;
    index /= 1000;
  } while (index > 0);
  std::string out;
  for (int i = n - 1; i >= 0; --i) {
    if (i > 0) {
      absl::StrAppend(&out, "x", groups[i], "/");
    } else {
      out += groups[i];
    }
  }
  return out;
}

std::string FormatTilePath(const TilePath& path) {
  std::string out =
      path.entries ? "tile/entries/" : absl::StrCat("tile/", path.level, "/");
  out += FormatTileIndex(path.index);
  if (!path.full()) absl::StrAppend(&out, ".p/", path.width);
  return out;
}

absl::StatusOr<TilePath> ParseTilePath(absl::string_view path) {
  if (path.size() > 128)
    return absl::InvalidArgumentError("tile path too long");
  if (!absl::ConsumePrefix(&path, "tile/")) {
    return absl::InvalidArgumentError("tile path must start with tile/");
  }
  TilePath out;
  std::vector<absl::string_view> parts = absl::StrSplit(path, '/');
  if (parts.size() < 2)
    return absl::InvalidArgumentError("tile path has no index");
  if (parts[0] == "entries") {
    out.entries = true;
  } else if (!ParseSmallDecimal(parts[0], 0, kMaxTileLevel, out.level)) {
    return absl::InvalidArgumentError(
        absl::StrCat("tile level '", parts[0],
                     "' must be a decimal 0..63 without leading zeros"));
  }
  parts.erase(parts.begin());
  // A partial suffix splits as [..., "NNN.p", "W"].
  absl::string_view& last = parts.back();
  if (parts.size() >= 2 && absl::EndsWith(parts[parts.size() - 2], ".p")) {
    if (!ParseSmallDecimal(last, 1, kTileWidth - 1, out.width)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "partial tile width '", last, "' must be a decimal 1..255"));
    }
    parts.pop_back();
    parts.back().remove_suffix(2);
  }
  auto index = ParseIndex(parts);
  if (!index.ok()) return index.status();
  out.index = *index;
  return out;
}

uint64_t HashesAtLevel(uint64_t size, int level) {
  const int shift = kTileHeight * level;
  return shift >= 64 ? 0 : size >> shift;
}

int PartialTileWidth(uint64_t size, int level) {
  return static_cast<int>(HashesAtLevel(size, level) % kTileWidth);
}

uint64_t FullTileCount(uint64_t size, int level) {
  return HashesAtLevel(size, level) / kTileWidth;
}

absl::Status AppendToBundle(std::string& bundle, absl::string_view entry) {
  if (entry.size() > kMaxEntrySize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "log entry of ", entry.size(), " bytes exceeds the maximum of 65535"));
  }
  const char len[2] = {static_cast<char>(entry.size() >> 8),
                       static_cast<char>(entry.size() & 0xff)};
  bundle.append(len, 2);
  bundle.append(entry.data(), entry.size());
  return absl::OkStatus();
}

absl::StatusOr<std::vector<absl::string_view>> ParseEntryBundle(
    absl::string_view bundle) {
  std::vector<absl::string_view> out;
  size_t pos = 0;
  while (pos < bundle.size()) {
    if (bundle.size() - pos < 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          "entry bundle truncated in the length of entry ", out.size()));
    }
    const size_t len = (static_cast<uint8_t>(bundle[pos]) << 8) |
                       static_cast<uint8_t>(bundle[pos + 1]);
    pos += 2;
    if (bundle.size() - pos < len) {
      return absl::InvalidArgumentError(
          absl::StrCat("entry bundle truncated in entry ", out.size()));
    }
    out.push_back(bundle.substr(pos, len));
    pos += len;
  }
  return out;
}

absl::StatusOr<size_t> BundlePrefixSize(absl::string_view bundle, int count) {
  size_t pos = 0;
  for (int i = 0; i < count; ++i) {
    if (bundle.size() - pos < 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("entry bundle has fewer than ", count, " entries"));
    }
    const size_t len = (static_cast<uint8_t>(bundle[pos]) << 8) |
                       static_cast<uint8_t>(bundle[pos + 1]);
    pos += 2;
    if (bundle.size() - pos < len) {
      return absl::InvalidArgumentError(
          absl::StrCat("entry bundle truncated in entry ", i));
    }
    pos += len;
  }
  return pos;
}

}  // namespace clover::log
