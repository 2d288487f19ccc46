#!/usr/bin/env bash
# Builds the web console (console/, TypeScript + preact, bundled by esbuild) into
# OUTDIR and writes CC, the C++ source that embeds it in the clover binary
# (src/audit/console_assets.h). Installs the npm dependencies from
# console/package-lock.json (`npm ci`) when they are missing or older than it.
#   scripts/build-console.sh OUTDIR CC
set -euo pipefail
outdir="$1"
cc="$2"
cd "$(dirname "$0")/../console"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "build-console: npm ci in console/" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
node build.mjs --outdir "$outdir" --cc "$cc"
