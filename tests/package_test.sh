#!/usr/bin/env bash
# `make package`'s Debian package, checked as a distribution would: cpack on the built tree
# (needs the `all` targets clover, clover_man and clover_changelogs built), then
#  - lintian; control fields (name, version from the project, dpkg-shlibdeps' Depends,
#    adduser), conffiles naming every /etc file, and the contents (binary, units, man page,
#    examples, LICENSE, docs);
#  - the extracted binary's --version, and `config check` / `policy check|test` on the shipped
#    examples (relative paths resolve inside the package: nothing the examples need is missing);
#  - `systemd-analyze verify` on every unit, with no warning allowed, against the extracted
#    binary and man page; units broken on purpose (a misspelt key, a bad value, a missing
#    binary, a missing man page) must fail the same check;
#  - the maintainer scripts, run by dpkg into a throwaway root (dpkg --root, chrootless
#    scripts with DPKG_ROOT): the clover account and /etc/clover, /var/lib/clover (root:clover
#    0750) on install; remove keeps configs and data; purge removes only the directories
#    postinst made and only when empty; an operator's own /etc/clover and a symlinked
#    /var/lib/clover are left untouched; this machine's accounts never change;
#  - dpkg -i and -P on this system itself, inside a private mount namespace whose /etc, /usr
#    and /var are throwaway overlays (adduser, getent, man-db), when the kernel allows it.
# Usage: package_test.sh BUILD_DIR VERSION
set -uo pipefail
build="$1"
version="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

if ! cpack --config "$build/CPackConfig.cmake" -B "$tmp/out" >"$tmp/cpack.log" 2>&1; then
  cat "$tmp/cpack.log"; echo "FAIL: cpack"; exit 1
fi
arch="$(dpkg --print-architecture)"
deb="$tmp/out/clover_${version}-1_${arch}.deb"
[ -f "$deb" ] || { ls "$tmp/out"; echo "FAIL: no $deb"; exit 1; }

# --- control -----------------------------------------------------------------------------------
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = clover ] || fail "Package is '$(field Package)'"
[ "$(field Version)" = "${version}-1" ] || fail "Version is '$(field Version)', want ${version}-1"
[ "$(field Architecture)" = "$arch" ] || fail "Architecture is '$(field Architecture)'"
[ -n "$(field Maintainer)" ] || fail "no Maintainer"
depends="$(field Depends)"
for dep in adduser libc6 libssl3 libstdc++6 librocksdb libpq5; do
  grep -qE "(^|, )${dep//+/\\+}" <<<"$depends" || fail "Depends lacks $dep: $depends"
done
dpkg-deb -e "$deb" "$tmp/control"
for script in postinst prerm postrm; do
  [ -x "$tmp/control/$script" ] || fail "maintainer script $script missing or not executable"
  sh -n "$tmp/control/$script" || fail "$script: syntax"
done
# Every file shipped under /etc is a conffile, and every conffile is shipped.
dpkg-deb --fsys-tarfile "$deb" | tar -t | sed -n 's|^\./etc/\(.*[^/]\)$|/etc/\1|p' | sort >"$tmp/etc"
sort "$tmp/control/conffiles" >"$tmp/conffiles"
diff -u "$tmp/etc" "$tmp/conffiles" >/dev/null || {
  fail "conffiles differ from the /etc files shipped"; diff -u "$tmp/etc" "$tmp/conffiles"; }
grep -qx /etc/default/clover "$tmp/conffiles" || fail "/etc/default/clover is not a conffile"

# Debian's own checks (bootstrap installs lintian): no error or warning but the one about
# closing an ITP bug, which only an upload to Debian has.
timeout 300 lintian --tag-display-limit 0 --suppress-tags initial-upload-closes-no-bugs "$deb" \
  >"$tmp/lintian" 2>&1
if grep -qE '^[EW]: ' "$tmp/lintian"; then fail "lintian"; grep -E '^[EW]: ' "$tmp/lintian"; fi

# --- contents ----------------------------------------------------------------------------------
dpkg-deb -c "$deb" >"$tmp/contents"
has() { grep -qE " \./$1\$" "$tmp/contents" || fail "package lacks /$1"; }
has usr/bin/clover
grep -qE '^-rwxr-xr-x root/root .* \./usr/bin/clover$' "$tmp/contents" ||
  fail "/usr/bin/clover is not root-owned 0755"
for unit in clover-node@.service clover-audit.service clover-witness.service; do
  has "usr/lib/systemd/system/$unit"
done
has usr/share/man/man1/clover.1.gz
for f in LICENSE copyright README.md changelog.gz changelog.Debian.gz SECURITY.md operations.md security.md \
  examples/README.md examples/deployment.yaml examples/nodes/ie-dub-1.yaml examples/audit.yaml \
  examples/witness.yaml examples/policy.yaml; do
  has "usr/share/doc/clover/$f"
done
has etc/default/clover
! grep -qE ' \./usr/local/' "$tmp/contents" || fail "files under /usr/local"

# --- the extracted package ---------------------------------------------------------------------
x="$tmp/x"
dpkg-deb -x "$deb" "$x"
clover="$x/usr/bin/clover"
[ "$("$clover" --version)" = "clover $version" ] ||
  fail "--version prints '$("$clover" --version)', want 'clover $version'"
cmp -s "$x/usr/share/doc/clover/LICENSE" "$(dirname "$0")/../LICENSE" || fail "LICENSE differs"
grep -q "Apache License" "$x/usr/share/doc/clover/LICENSE" || fail "LICENSE is not Apache-2.0"
zcat "$x/usr/share/man/man1/clover.1.gz" >"$tmp/clover.1"
for want in '^\.SH FILES' '^\.SH "SEE ALSO"' '^\.SH COMMANDS' 'clover serve' 'clover log verify' \
  'clover-node@NAME' "^\.TH CLOVER .*clover $version"; do
  grep -qE "$want" "$tmp/clover.1" || fail "man page lacks /$want/"
done
man -l "$tmp/clover.1" >/dev/null 2>"$tmp/man.err" || { fail "man -l"; cat "$tmp/man.err"; }
ex="$x/usr/share/doc/clover/examples"
for f in "$ex/deployment.yaml" "$ex"/nodes/*.yaml; do
  "$clover" config check --quiet "$f" >"$tmp/out.txt" 2>&1 || {
    fail "config check $(basename "$f")"; cat "$tmp/out.txt"; }
done
"$clover" policy check --quiet "$ex/policy.yaml" --config "$ex/deployment.yaml" >"$tmp/out.txt" 2>&1 ||
  { fail "policy check"; cat "$tmp/out.txt"; }
"$clover" policy test "$ex/policy.yaml" --cases "$ex/policy-cases.yaml" >"$tmp/out.txt" 2>&1 ||
  { fail "policy test"; cat "$tmp/out.txt"; }

# --- systemd units -----------------------------------------------------------------------------
# The units name /usr/bin/clover; verify copies naming the extracted binary. Documentation=
# man:clover(1) is looked up through MANPATH, so the extracted man page must be there too.
mkdir -p "$tmp/units" "$tmp/broken"
for f in "$x"/usr/lib/systemd/system/*; do
  grep -q '^ExecStart=/usr/bin/clover ' "$f" || fail "$(basename "$f"): ExecStart is not /usr/bin/clover"
  grep -qx 'User=clover' "$f" || fail "$(basename "$f"): not User=clover"
  sed "s|/usr/bin/clover|$clover|g" "$f" >"$tmp/units/$(basename "$f")"
done
# verify_unit FILE: systemd-analyze verify passes with no output at all (it exits 0 on an
# unknown key or a value it cannot parse, and only warns).
verify_unit() {
  MANPATH="$x/usr/share/man" SYSTEMD_LOG_COLOR=0 timeout 60 \
    systemd-analyze verify "$1" >"$tmp/verify.out" 2>&1 && [ ! -s "$tmp/verify.out" ]
}
for unit in clover-audit.service clover-witness.service clover-node@ie-dub-1.service; do
  verify_unit "$tmp/units/$unit" || { fail "systemd-analyze verify $unit"; cat "$tmp/verify.out"; }
done
audit="$tmp/units/clover-audit.service"
sed 's/^ProtectSystem=/ProtectSytem=/' "$audit" >"$tmp/broken/typo.service"
sed 's/^Type=exec/Type=bogus/' "$audit" >"$tmp/broken/value.service"
sed "s|^ExecStart=$clover |ExecStart=$clover.missing |" "$audit" >"$tmp/broken/binary.service"
sed 's/man:clover(1)/man:clover-missing(1)/' "$audit" >"$tmp/broken/man.service"
sed 's/^Restart=on-failure/Restart=on-failure\nExecStart=\/bin\/true/' \
  "$tmp/units/clover-node@.service" >"$tmp/broken/node@.service"
for unit in typo.service value.service binary.service man.service node@x.service; do
  if verify_unit "$tmp/broken/$unit"; then fail "a broken unit passed verify: $unit"; fi
done

# --- cmake --install elsewhere: everything under the prefix, the units name its binary -------
cmake --install "$build" --prefix "$tmp/inst" >"$tmp/install.log" 2>&1 || { fail "cmake --install"; cat "$tmp/install.log"; }
grep -qx "ExecStart=$tmp/inst/bin/clover witness --config /etc/clover/witness.yaml" \
  "$tmp/inst/lib/systemd/system/clover-witness.service" || fail "--prefix: the unit's ExecStart"
[ -f "$tmp/inst/etc/default/clover" ] || fail "--prefix: no PREFIX/etc/default/clover"
grep -vE "^-- (Installing|Up-to-date): $tmp/inst/|^-- Install configuration" "$tmp/install.log" &&
  fail "--prefix: installed outside the prefix"

# --- maintainer scripts in a throwaway root ----------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
  echo "maintainer scripts not run: dpkg --root needs root"
  [ "$failures" -eq 0 ] && exit 77
  exit 1
fi
host_accounts="$(cat /etc/passwd /etc/group | sha256sum)"
# new_root DIR: an empty system with root's accounts and an empty dpkg database.
new_root() {
  mkdir -p "$1/etc" "$1/var/lib/dpkg/info" "$1/var/lib/dpkg/updates" "$1/var/lib/dpkg/triggers"
  : >"$1/var/lib/dpkg/status"
  echo 'root:x:0:0:root:/root:/bin/sh' >"$1/etc/passwd"
  echo 'root:x:0:' >"$1/etc/group"
  echo 'root:*:19000:0:99999:7:::' >"$1/etc/shadow"
  echo 'root:*::' >"$1/etc/gshadow"
  chmod 0640 "$1/etc/shadow" "$1/etc/gshadow"
}
# dpkg_in ROOT ARGS...: dpkg on ROOT; the scripts run on this host with DPKG_ROOT=ROOT.
dpkg_in() {
  local root="$1"; shift
  dpkg --root="$root" --force-script-chrootless --force-depends --log="$tmp/dpkg.log" "$@" \
    >>"$tmp/dpkg.out" 2>&1 || { fail "dpkg $*"; tail -20 "$tmp/dpkg.out"; }
}
# expect_dir PATH OWNER:GROUP MODE (names as in ROOT's account files: stat prints ids).
expect_dir() {
  local got
  got="$(stat -c '%u:%g %a' "$1" 2>/dev/null)"
  [ -d "$1" ] && [ "$got" = "$2 $3" ] || fail "$1 is '$got', want '$2 $3'"
}

r="$tmp/root"
new_root "$r"
dpkg_in "$r" -i "$deb"
dpkg_in "$r" -i "$deb"  # a reinstall: postinst again, over an existing account and dirs
uid="$(awk -F: '$1 == "clover" { print $3 }' "$r/etc/passwd")"
gid="$(awk -F: '$1 == "clover" { print $3 }' "$r/etc/group")"
[ -n "$uid" ] && [ -n "$gid" ] || fail "no clover account in the root: $(cat "$r/etc/passwd")"
[ "$(grep -c '^clover:' "$r/etc/passwd")" = 1 ] || fail "clover account added twice"
awk -F: '$1 == "clover" && $7 == "/usr/sbin/nologin" && $3 < 1000 { ok = 1 } END { exit !ok }' \
  "$r/etc/passwd" || fail "clover is not a system account without a shell"
[ "$(cat /etc/passwd /etc/group | sha256sum)" = "$host_accounts" ] || fail "host accounts changed"
for d in /etc/clover /etc/clover/nodes /etc/clover/keys /var/lib/clover; do
  expect_dir "$r$d" "0:$gid" 750
  [ -f "$r$d/.clover-package" ] || fail "$d has no package marker"
done
[ -x "$r/usr/bin/clover" ] && [ -f "$r/etc/default/clover" ] || fail "files not installed"

# The operator's configuration and a node's data (what clover-node@n1 would write).
echo "node: {}" >"$r/etc/clover/nodes/n1.yaml"
mkdir -p "$r/var/lib/clover/n1/vault"
echo data >"$r/var/lib/clover/n1/vault/000001.sst"
echo "CLOVER_LOG_LEVEL=debug" >>"$r/etc/default/clover"
dpkg_in "$r" -r clover
[ ! -e "$r/usr/bin/clover" ] || fail "remove left /usr/bin/clover"
grep -q CLOVER_LOG_LEVEL=debug "$r/etc/default/clover" 2>/dev/null || fail "remove dropped the conffile"
[ -f "$r/etc/clover/nodes/n1.yaml" ] && [ -f "$r/var/lib/clover/n1/vault/000001.sst" ] ||
  fail "remove deleted configuration or data"
dpkg_in "$r" -P clover
[ ! -e "$r/etc/default/clover" ] || fail "purge kept the conffile"
[ ! -e "$r/etc/clover/keys" ] || fail "purge kept the empty /etc/clover/keys it created"
[ "$(cat "$r/etc/clover/nodes/n1.yaml" 2>/dev/null)" = "node: {}" ] || fail "purge deleted n1.yaml"
[ "$(cat "$r/var/lib/clover/n1/vault/000001.sst" 2>/dev/null)" = data ] || fail "purge deleted data"
grep -q '^clover:' "$r/etc/passwd" || fail "purge removed the account (files it owns remain)"
# Once the operator has removed their files, a purge leaves nothing of the package.
rm -r "$r/etc/clover/nodes/n1.yaml" "$r/var/lib/clover/n1"
dpkg_in "$r" -i "$deb"
dpkg_in "$r" -P clover
for d in /etc/clover /var/lib/clover; do [ ! -e "$r$d" ] || fail "purge kept the empty $d"; done

# An operator's own /etc/clover (empty, 0755) and a /var/lib/clover that links elsewhere:
# install neither adopts nor re-owns them, purge removes neither.
r2="$tmp/root2"
new_root "$r2"
mkdir -m 0755 "$r2/etc/clover"
mkdir -p -m 0755 "$tmp/elsewhere" "$r2/var/lib"
ln -s "$tmp/elsewhere" "$r2/var/lib/clover"
dpkg_in "$r2" -i "$deb"
expect_dir "$r2/etc/clover" 0:0 755
expect_dir "$tmp/elsewhere" 0:0 755
[ ! -e "$r2/etc/clover/.clover-package" ] && [ ! -e "$tmp/elsewhere/.clover-package" ] ||
  fail "install marked a directory it did not create"
gid2="$(awk -F: '$1 == "clover" { print $3 }' "$r2/etc/group")"
expect_dir "$r2/etc/clover/nodes" "0:$gid2" 750
dpkg_in "$r2" -P clover
[ -d "$r2/etc/clover" ] || fail "purge removed the operator's empty /etc/clover"
[ ! -e "$r2/etc/clover/nodes" ] || fail "purge kept the /etc/clover/nodes it created"
[ -L "$r2/var/lib/clover" ] && [ -d "$tmp/elsewhere" ] || fail "purge removed the symlinked state dir"

# The same package installed on this system for real (dpkg -i: adduser, getent, the man-db
# trigger, Depends satisfied), inside a private mount namespace whose /etc, /usr and /var are
# overlays on throwaway directories: nothing reaches this system, and it is checked after.
host_install() {
  must() { "$@" || { echo "host install: failed: $*"; exit 1; }; }
  for d in etc usr var; do
    mkdir -p "$tmp/ov/$d/upper" "$tmp/ov/$d/work"
    must mount -t overlay overlay \
      -o "lowerdir=/$d,upperdir=$tmp/ov/$d/upper,workdir=$tmp/ov/$d/work" "/$d"
    must test "$(findmnt -n -o FSTYPE "/$d")" = overlay
  done
  # man-db's trigger re-indexes every page without this flag (minutes); man -w needs no index.
  rm -f /var/lib/man-db/auto-update
  DEBIAN_FRONTEND=noninteractive must dpkg -i "$deb" >"$tmp/host.out" 2>&1
  must test "$(getent passwd clover | cut -d: -f7)" = /usr/sbin/nologin
  must test "$(getent passwd clover | cut -d: -f3)" -lt 1000
  gid="$(getent group clover | cut -d: -f3)"
  for d in /etc/clover /etc/clover/nodes /etc/clover/keys /var/lib/clover; do
    must test "$(stat -c '%u:%g %a' "$d")" = "0:$gid 750"
    must test -f "$d/.clover-package"
  done
  must test "$(/usr/bin/clover --version)" = "clover $version"
  must test "$(man -w clover)" = /usr/share/man/man1/clover.1.gz
  mkdir /var/lib/clover/n1 && echo data >/var/lib/clover/n1/store
  must dpkg -P clover >>"$tmp/host.out" 2>&1
  for f in /usr/bin/clover /etc/clover /etc/default/clover; do must test ! -e "$f"; done
  # Kept with its marker: a purge once the data is gone removes it.
  must test "$(cat /var/lib/clover/n1/store)" = data
  must test -f /var/lib/clover/.clover-package
  must getent passwd clover
}
host_state() {
  ls -ld /usr/bin/clover /etc/clover /var/lib/clover /etc/default/clover 2>&1
  getent passwd clover; cat /etc/passwd /etc/group | sha256sum
}
host_before="$(host_state)"
if unshare -m --propagation private true 2>/dev/null &&
  unshare -m --propagation private sh -c "mkdir -p '$tmp/ovt/u' '$tmp/ovt/w' && mount -t overlay \
    overlay -o lowerdir=/etc,upperdir='$tmp/ovt/u',workdir='$tmp/ovt/w' /etc" 2>/dev/null; then
  export -f host_install
  export tmp deb version
  if ! unshare -m --propagation private bash -c host_install; then
    fail "dpkg -i / -P on this system (in an overlay)"; cat "$tmp/host.out"
  fi
  [ "$(host_state)" = "$host_before" ] || fail "the overlay install reached this system"
else
  echo "dpkg -i on this system not run: no private mount namespace with overlayfs here"
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"; exit 1
fi
echo "package OK: $(basename "$deb")"
