#!/usr/bin/env bash
# Clover deletes only directories it created (src/core/owned_dir.h): `clover demo --data-dir`
# refuses a directory holding files it did not create, the root, the home directory and links
# to them, with exit 2 and one line on stderr, and leaves every file in place.
# The refusals of / and $HOME name an absent --config: code that loaded the configuration before
# checking the directory fails on that instead of ever reaching a deletion.
set -uo pipefail
clover="$1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failures=0

# expect CODE PATTERN -- CMD...: exit code CODE and exactly one stderr line matching PATTERN.
expect() {
  local want="$1" pattern="$2"; shift 3
  timeout 120 "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [ "$got" != "$want" ]; then
    echo "FAIL: '$*' exited $got, want $want"; cat "$tmp/err"; failures=$((failures + 1)); return
  fi
  if ! grep -qE "$pattern" "$tmp/err"; then
    echo "FAIL: '$*' stderr does not match /$pattern/:"; cat "$tmp/err"; failures=$((failures + 1))
  fi
  if [ "$(wc -l <"$tmp/err")" -ne 1 ]; then
    echo "FAIL: '$*' should print exactly one error line:"; cat "$tmp/err"; failures=$((failures + 1))
  fi
}
port=$((20000 + RANDOM % 12000))

# A directory with a file Clover did not write: refused, the file survives.
mkdir -p "$tmp/foreign/sub"
echo "keep me" >"$tmp/foreign/precious.txt"
echo "keep me too" >"$tmp/foreign/sub/also.txt"
expect 2 "refusing to use '$tmp/foreign': it is not empty and has no \.clover-owned marker" -- \
  "$clover" demo --config examples/deployment.yaml --data-dir "$tmp/foreign" --duration 0 \
  --base-port "$port"
[ "$(cat "$tmp/foreign/precious.txt" 2>/dev/null)" = "keep me" ] &&
  [ "$(cat "$tmp/foreign/sub/also.txt" 2>/dev/null)" = "keep me too" ] || {
  echo "FAIL: the foreign files did not survive"; failures=$((failures + 1)); }
[ ! -e "$tmp/foreign/.clover-owned" ] || { echo "FAIL: foreign dir adopted"; failures=$((failures + 1)); }

# A marker that Clover did not write does not count.
mkdir -p "$tmp/forged" && echo "keep" >"$tmp/forged/f" && echo "not clover" >"$tmp/forged/.clover-owned"
expect 2 "refusing to use '$tmp/forged': its \.clover-owned was not written by Clover" -- \
  "$clover" demo --config examples/deployment.yaml --data-dir "$tmp/forged" --duration 0 \
  --base-port "$port"
[ -e "$tmp/forged/f" ] || { echo "FAIL: forged-marker dir emptied"; failures=$((failures + 1)); }

# The root, directly or through a link, and the home directory (even empty): refused.
expect 2 "refusing to use '/': it is the root directory" -- \
  "$clover" demo --config "$tmp/absent.yaml" --data-dir / --duration 0
ln -s / "$tmp/to-root"
expect 2 "refusing to use '$tmp/to-root' \(resolves to '/'\): it is the root directory" -- \
  "$clover" demo --config "$tmp/absent.yaml" --data-dir "$tmp/to-root" --duration 0
expect 2 "refusing to use '/usr/\.\.' \(resolves to '/'\)" -- \
  "$clover" demo --config "$tmp/absent.yaml" --data-dir /usr/.. --duration 0
expect 2 "refusing to use '/etc': it is a system directory" -- \
  "$clover" demo --config "$tmp/absent.yaml" --data-dir /etc --duration 0
mkdir -p "$tmp/home"
expect 2 "refusing to use '$tmp/home': it is a home directory" -- \
  env HOME="$tmp/home" "$clover" demo --config "$tmp/absent.yaml" --data-dir "$tmp/home" --duration 0
[ ! -e "$tmp/home/.clover-owned" ] || { echo "FAIL: home adopted"; failures=$((failures + 1)); }
[ -e /bin ] && [ -e /etc ] || { echo "FAIL: system directories gone"; failures=$((failures + 1)); }

if [ "$failures" -ne 0 ]; then echo "$failures failure(s)"; exit 1; fi
echo "all owned-directory CLI checks passed"
