// Fuzzes request-target and query parsing: no crash, and an accepted path never
// contains a traversal segment or NUL.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "server/url.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  std::string path, query;
  if (clover::server::ParseRequestTarget(input, path, query).ok()) {
    if (path.empty() || path[0] != '/') __builtin_trap();
    if (path.find('\0') != std::string::npos) __builtin_trap();
    if (path.find("/../") != std::string::npos ||
        path.find("/./") != std::string::npos) {
      __builtin_trap();
    }
    if (path.size() >= 3 && path.compare(path.size() - 3, 3, "/..") == 0)
      __builtin_trap();
    std::string value;
    for (const char* name : {"fields", "state", "index", ""}) {
      clover::server::FindQueryParam(query, name, &value);
    }
  }
  auto decoded = clover::server::PercentDecode(input, /*plus_is_space=*/true);
  if (decoded.ok() && decoded->size() > input.size()) __builtin_trap();
  return 0;
}
