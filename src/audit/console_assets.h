// The web console's built assets (console/, bundled by esbuild at build time
// and embedded by the generated console_assets.cc), served by the auditor at
// /ui/ (audit/console.h).
#ifndef CLOVER_AUDIT_CONSOLE_ASSETS_H_
#define CLOVER_AUDIT_CONSOLE_ASSETS_H_

#include <cstddef>
#include <span>

namespace clover::audit {

struct ConsoleAsset {
  const char* path;          // relative to /ui/, e.g. "index.html", "app.js"
  const char* content_type;  // e.g. "text/javascript; charset=utf-8"
  const unsigned char* data;
  size_t size;
};

// Every asset of the bundle, in no particular order; never empty.
std::span<const ConsoleAsset> ConsoleAssets();

}  // namespace clover::audit

#endif  // CLOVER_AUDIT_CONSOLE_ASSETS_H_
