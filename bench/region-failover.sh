#!/usr/bin/env bash
# Failover time of the replicated region: DRILLS runs of `clover demo-ha` (region up; traffic
# through the three EU DCs; the leader's whole DC SIGKILLed — PostgreSQL, Patroni, etcd,
# gateway; writes through the survivors; every acknowledged write read back; region down).
# Failover time = from the kill to the first write sent after it and acknowledged. Prints each
# drill, then the median and the maximum; fails if any drill lost an acknowledged write.
# Usage: bench/region-failover.sh [BUILD_DIR] [DRILLS]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build/release}"
drills="${2:-5}"
clover="$build/src/cli/clover"
tmp="$(mktemp -d)"
chmod 711 "$tmp"  # as root the PostgreSQL members run as postgres and must reach it
trap '[ -d "$tmp/r" ] && "$clover" region down --remove --data-dir "$tmp/r" >/dev/null 2>&1
  rm -rf "$tmp"' EXIT
echo "== region failover, $drills drills (Patroni ttl 20 s, loop_wait 1 s, retry_timeout 5 s)"
: >"$tmp/times"
for i in $(seq "$drills"); do
  "$clover" demo-ha --config "$root/examples/deployment.yaml" --data-dir "$tmp/r" --json \
    --writes 400 --writes-after-loss 50 >"$tmp/drill.json" 2>"$tmp/drill.log" ||
    { echo "drill $i failed:" >&2; tail -5 "$tmp/drill.log" >&2; cat "$tmp/drill.json" >&2; exit 1; }
  python3 - "$tmp/drill.json" "$i" >>"$tmp/times" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))["failover"]
print(f["failover_seconds"])
sys.stderr.write("drill %s: lost %s (%s, new leader %s): failover %.1f s, %d acknowledged writes, %d lost\n"
                 % (sys.argv[2], f["killed_dc"], "leader", f["new_leader"], f["failover_seconds"],
                    f["acknowledged_writes"], f["lost"]))
if f["lost"] != 0: sys.exit(1)
PY
done 2>&1
sort -n "$tmp/times" | awk '{a[NR] = $1} END {
  m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
  printf "failover over %d drills: median %.1f s, min %.1f s, max %.1f s (target median <= 25 s)\n", NR, m, a[1], a[NR]}'
