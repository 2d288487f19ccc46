#!/usr/bin/env bash
# Installs the Debian packages that Clover's build, tests, benchmarks and demo need.
# Idempotent: installs only what is missing, runs `apt-get update` only then, and
# downloads nothing from anywhere but Debian's registry.
set -euo pipefail

PACKAGES=(
  build-essential g++ cmake ninja-build ccache pkg-config clang libclang-rt-14-dev
  clang-format
  libssl-dev libabsl-dev librocksdb-dev libboost-dev libboost-system-dev
  libyaml-cpp-dev rapidjson-dev libspdlog-dev libcli11-dev libcurl4-openssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev libgoogle-perftools-dev
  libpq-dev postgresql postgresql-contrib patroni etcd-server
  curl wrk openssl
  softhsm2 libp11-kit-dev opensc
  help2man systemd lintian
  chromium
  prometheus
)
# The web console (console/) builds with Node.js and npm: Debian's unless the
# machine already has them.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  PACKAGES+=(nodejs npm)
fi

# Its npm dependencies, exactly as console/package-lock.json pins them.
console_deps() {
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/console"
  if [ ! -f "$dir/node_modules/.package-lock.json" ]; then
    echo "bootstrap: npm ci in console/" >&2
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
  fi
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  console_deps
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "bootstrap: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get update -qq >/dev/null; then
  echo "bootstrap: apt-get update failed" >&2
  exit 1
fi
for pkg in "${missing[@]}"; do
  if ! $SUDO apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null; then
    echo "bootstrap: could not install Debian package '$pkg'" >&2
    exit 1
  fi
done
console_deps
