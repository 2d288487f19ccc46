#!/usr/bin/env bash
# Writes a help2man include section, [COMMANDS], holding the --help of every subcommand of
# CLOVER (recursively), so that clover(1) documents the whole command tree and not only the
# top-level list that `clover --help` prints. Usage: man_commands.sh CLOVER OUT
set -euo pipefail
clover="$1"
out="$2"

# The subcommand names listed under "Subcommands:" in a --help text.
subcommands() {
  awk '/^Subcommands:/ { in_list = 1; next }
       in_list && /^  [a-z]/ { print $1; next }
       in_list && /^$/ { in_list = 0 }' <<<"$1"
}

# roff-safe preformatted text: backslashes escaped, no line read as a request.
roff() { sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }

walk() {
  local help
  help="$("$clover" "$@" --help)"
  {
    echo ".SS \"clover $*\""
    echo ".nf"
    roff <<<"$help"
    echo ".fi"
  } >>"$out.tmp"
  local sub
  for sub in $(subcommands "$help"); do walk "$@" "$sub"; done
}

echo "[COMMANDS]" >"$out.tmp"
for cmd in $(subcommands "$("$clover" --help)"); do walk "$cmd"; done
mv "$out.tmp" "$out"
