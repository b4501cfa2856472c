#!/usr/bin/env bash
# Issue 5's memory figure: peak RSS of `portscout --dry-run` as the probe space grows from 2^20
# to 2^32 probes (198.18.0.0/15 × 8 … 32768 ports), and of a dry run over a huge -iL file.
#
# A dry run sends nothing and opens no socket; it still runs inside a network namespace with no
# routes (only `lo`, down), so that a mistake could not reach any network.
#
# Usage: sudo bash bench/scale.sh [--max-exp E] [--bin PATH] [--out DIR]
#   --max-exp E   largest space 2^E (even, 20..32; default 32: about 5 minutes on 2 cores)
#   --bin PATH    the portscout binary (default: build target/release/portscout)
#   --out DIR     results folder (default bench/results/scale-<UTC time>)
# Writes DIR/scale.csv (probes,exp,seconds,peak_rss_kib,lines) and DIR/scale.md.
set -euo pipefail
# Measure the defaults: no config file of the user (docs/config.md) applies.
export PORTSCOUT_CONFIG=

MAX_EXP=32
BIN=""
OUT=""
while [ $# -gt 0 ]; do
    case "$1" in
        --max-exp) MAX_EXP=$2; shift 2 ;;
        --bin) BIN=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "needs root (it makes a network namespace)" >&2; exit 2; }
cd "$(dirname "$0")/.."
if [ -z "$BIN" ]; then
    cargo build --release -q -p portscout-cli
    BIN=$PWD/target/release/portscout
fi
command -v /usr/bin/time >/dev/null || apt-get install -y time >/dev/null
OUT=${OUT:-bench/results/scale-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
NS="pst-scale-$$"
WORK=$(mktemp -d)
cleanup() { ip netns del "$NS" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM
ip netns add "$NS"

# measure LABEL ARGS...: one dry run in the namespace; appends a CSV row.
measure() {
    local label=$1; shift
    ip netns exec "$NS" /usr/bin/time -f "%e %M" -o "$WORK/time" \
        "$BIN" "$@" --dry-run 2>"$WORK/err" | wc -l >"$WORK/lines"
    read -r secs rss <"$WORK/time"
    echo "$label,$secs,$rss,$(cat "$WORK/lines")" | tee -a "$OUT/scale.csv"
}

echo "label,seconds,peak_rss_kib,lines" >"$OUT/scale.csv"
for e in $(seq 20 2 "$MAX_EXP"); do
    ports=$((1 << (e - 17)))          # 198.18.0.0/15 holds 2^17 addresses
    measure "2^$e random" 198.18.0.0/15 -p "1-$ports" --seed 1
done
measure "2^24 serial" 198.18.0.0/15 -p 1-128 --order serial
measure "2^24 shard 3/7" 198.18.0.0/15 -p 1-128 --seed 1 --shard 3/7

# A target file of 4 Mi lines: every address of 198.18.0.0/15, 32 times, shuffled.
python3 - "$WORK/targets.txt" <<'PY'
import ipaddress, random, sys
base = int(ipaddress.ip_address("198.18.0.0"))
rows = [base + i for i in range(1 << 17)] * 32
random.Random(5).shuffle(rows)
with open(sys.argv[1], "w") as f:
    for a in rows:
        f.write(str(ipaddress.ip_address(a)) + "\n")
PY
size=$(stat -c %s "$WORK/targets.txt")
measure "-iL 4Mi lines ($((size / 1048576)) MiB)" -iL "$WORK/targets.txt" -p 80 --order serial

{
    echo "| dry run | seconds | peak RSS (MiB) | lines printed |"
    echo "|---|---|---|---|"
    tail -n +2 "$OUT/scale.csv" | while IFS=, read -r label secs rss lines; do
        printf '| %s | %s | %.1f | %s |\n' "$label" "$secs" "$(echo "$rss / 1024" | bc -l)" "$lines"
    done
} >"$OUT/scale.md"
cat "$OUT/scale.md"
