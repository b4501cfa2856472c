#!/usr/bin/env bash
# Reproduce scenarios S1 and S3 in network namespaces and time portscout against nmap -sT.
#
#   S1: one fresh namespace, 9 listeners on 127.0.0.1 spread over 1-65535 (some inside the
#       ephemeral range 32768-60999); scan 127.0.0.1 -p 1-65535.
#   S3: scanner ns 198.18.0.1 <-veth-> target ns 198.18.0.2, 7 listeners on 0.0.0.0 in the
#       target ns, nftables drop of tcp dport 40000-41000 there; scan 198.18.0.2 -p 1-65535.
#
# Every run's open set (and filtered set: S3 40000-41000, S1 none) is checked against the
# ground truth. Prints a Markdown table. Needs root. Everything it creates (namespaces,
# listener processes, nft rules, veth) is removed on exit, also on failure or Ctrl-C.
#
# Usage: bench/s1_s3.sh [-n RUNS] [--no-build] [--bin PATH] [--no-nmap] [--setup-only]
#                       [--scenario s1|s3|all]
#   -n RUNS       runs per tool and scenario, interleaved (default 5)
#   --no-build    do not run cargo build --release (use an existing binary)
#   --bin PATH    portscout binary (default: $CARGO_TARGET_DIR or target, /release/portscout)
#   --no-nmap     time portscout only
#   --setup-only  set the scenarios up, check the ground truth with plain connects, tear down
set -euo pipefail

RUNS=5
BUILD=1
BIN=""
NMAP=1
SETUP_ONLY=0
SCENARIOS="s1 s3"

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        -n) RUNS="$2"; shift 2 ;;
        -n*) RUNS="${1#-n}"; shift ;;
        --no-build) BUILD=0; shift ;;
        --bin) BIN="$2"; BUILD=0; shift 2 ;;
        --no-nmap) NMAP=0; shift ;;
        --setup-only) SETUP_ONLY=1; shift ;;
        --scenario)
            case "$2" in s1|s3) SCENARIOS="$2" ;; all) SCENARIOS="s1 s3" ;; *) usage >&2; exit 2 ;; esac
            shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done
case "$RUNS" in ''|*[!0-9]*|0) echo "-n needs a positive number" >&2; exit 2 ;; esac

if [ "$(id -u)" != 0 ]; then
    echo "bench/s1_s3.sh needs root (network namespaces)" >&2
    exit 1
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$(pwd)

# ---------------------------------------------------------------- names and cleanup
ID=$$
NS_S1="pst-b${ID}-s1"
NS_SCAN="pst-b${ID}-s3s"
NS_TGT="pst-b${ID}-s3t"
VETH_S="pvb${ID}s"          # <= 15 chars: pid_max is at most 7 digits
VETH_T="pvb${ID}t"
WORK=$(mktemp -d /tmp/pst-bench.XXXXXX)
LISTENER_PIDS=()

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    for pid in "${LISTENER_PIDS[@]:-}"; do
        [ -n "$pid" ] || continue
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    # Rules and veth die with their namespaces; remove them explicitly anyway.
    ip netns exec "$NS_TGT" nft delete table inet pstest 2>/dev/null || true
    ip -n "$NS_SCAN" link del "$VETH_S" 2>/dev/null || true
    for ns in "$NS_S1" "$NS_SCAN" "$NS_TGT"; do
        ip netns del "$ns" 2>/dev/null || true
    done
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- tools
apt_updated=0
apt_install() {
    if [ "$apt_updated" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null || return 1
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" </dev/null
}
command -v ip >/dev/null || apt_install iproute2
command -v nft >/dev/null || apt_install nftables
command -v python3 >/dev/null || apt_install python3
[ -x /usr/bin/time ] || apt_install time || echo "note: /usr/bin/time unavailable; no RSS" >&2
if [ "$NMAP" = 1 ] && [ "$SETUP_ONLY" = 0 ] && ! command -v nmap >/dev/null; then
    apt_install nmap || { echo "note: nmap unavailable; timing portscout only" >&2; NMAP=0; }
fi

if [ "$SETUP_ONLY" = 0 ]; then
    if [ "$BUILD" = 1 ]; then
        echo "building portscout (release)..." >&2
        cargo build --release -q -p portscout-cli >&2
    fi
    if [ -z "$BIN" ]; then
        TD="${CARGO_TARGET_DIR:-$REPO/target}"
        case "$TD" in /*) ;; *) TD="$REPO/$TD" ;; esac
        BIN="$TD/release/portscout"
    fi
    [ -x "$BIN" ] || { echo "no portscout binary at $BIN" >&2; exit 1; }
fi

# ---------------------------------------------------------------- ground truth
S1_ADDR=127.0.0.1
S1_PORTS="22 80 443 3306 8080 33333 45678 55555 65535"
S3_ADDR=198.18.0.2
S3_PORTS="22 80 443 8080 31337 45678 65535"
S3_DROP_LO=40000
S3_DROP_HI=41000

# A listener process: binds ADDR:PORT for each port, accepts and closes at once.
LISTENER_PY='
import select, socket, sys
addr, ports = sys.argv[1], [int(p) for p in sys.argv[2:]]
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
socks = []
for p in ports:
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, p))
    s.listen(128)
    socks.append(s)
while True:
    for s in select.select(socks, [], [])[0]:
        try:
            s.accept()[0].close()
        except OSError:
            pass
'

new_ns() {
    ip netns del "$1" 2>/dev/null || true   # stale one from a crashed run
    ip netns add "$1"
    ip -n "$1" link set lo up
}

# start_listeners NS ADDR PORTS...: start one listener process and wait until all listen.
start_listeners() {
    local ns=$1 addr=$2; shift 2
    ip netns exec "$ns" python3 -c "$LISTENER_PY" "$addr" "$@" &
    LISTENER_PIDS+=("$!")
    local want=$# got i
    for i in $(seq 100); do
        got=$(ip netns exec "$ns" ss -Hltn 2>/dev/null | wc -l)
        [ "$got" -ge "$want" ] && return 0
        kill -0 "${LISTENER_PIDS[-1]}" 2>/dev/null || { echo "listener in $ns died" >&2; exit 1; }
        sleep 0.05
    done
    echo "listeners in $ns not ready" >&2
    exit 1
}

setup_s1() {
    new_ns "$NS_S1"
    # shellcheck disable=SC2086
    start_listeners "$NS_S1" "$S1_ADDR" $S1_PORTS
}

setup_s3() {
    new_ns "$NS_SCAN"
    new_ns "$NS_TGT"
    ip link add "$VETH_S" netns "$NS_SCAN" type veth peer name "$VETH_T" netns "$NS_TGT"
    ip -n "$NS_SCAN" addr add 198.18.0.1/24 dev "$VETH_S"
    ip -n "$NS_TGT" addr add "$S3_ADDR/24" dev "$VETH_T"
    ip -n "$NS_SCAN" link set "$VETH_S" up
    ip -n "$NS_TGT" link set "$VETH_T" up
    ip netns exec "$NS_TGT" nft -f - <<EOF
add table inet pstest
add chain inet pstest input { type filter hook input priority 0; policy accept; }
add rule inet pstest input tcp dport $S3_DROP_LO-$S3_DROP_HI drop
EOF
    # shellcheck disable=SC2086
    start_listeners "$NS_TGT" 0.0.0.0 $S3_PORTS
}

# Plain connects from the scanner side: listeners open, a closed port refused, a dropped port
# timing out.
check_setup() {
    local ns=$1 addr=$2 ports=$3 dropped=$4
    ip netns exec "$ns" python3 - "$addr" "$ports" "$dropped" <<'EOF'
import socket, sys
addr, ports, dropped = sys.argv[1], [int(p) for p in sys.argv[2].split()], sys.argv[3]
def probe(p):
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
    s.settimeout(0.5)
    try:
        s.connect((addr, p)); return "open"
    except ConnectionRefusedError:
        return "closed"
    except socket.timeout:
        return "filtered"
    finally:
        s.close()
bad = [p for p in ports if probe(p) != "open"]
closed = next(p for p in range(1000, 2000) if p not in ports)
assert probe(closed) == "closed", f"{addr}:{closed} not closed"
if dropped:
    d = int(dropped)
    assert probe(d) == "filtered", f"{addr}:{d} not filtered"
assert not bad, f"listeners not reachable: {bad}"
print(f"ok: {addr}: {len(ports)} listeners open, port {closed} closed"
      + (f", port {dropped} filtered" if dropped else ""))
EOF
}

# ---------------------------------------------------------------- measuring
# score TOOL FILE WANT_OPEN WANT_FILTERED_LO WANT_FILTERED_HI -> "missed invented"
score() {
    python3 - "$@" <<'EOF'
import json, os, sys
tool, path, want_open = sys.argv[1], sys.argv[2], {int(p) for p in sys.argv[3].split()}
lo, hi = int(sys.argv[4]), int(sys.argv[5])
want_filtered = set(range(lo, hi + 1)) if lo else set()
got = {"open": set(), "filtered": set()}
xml = None
if tool == "nmap" and os.path.exists(path + ".xml"):
    # -oG collapses states with many ports ("Ignored State"); the XML names them all,
    # extraports included (<extrareasons ports="40000-41000">).
    import xml.etree.ElementTree as ET
    try:
        xml = ET.parse(path + ".xml").getroot()
    except ET.ParseError:
        xml = None
if xml is not None:
    for port in xml.iter("port"):
        st = port.find("state")
        if st is not None and st.get("state") in got:
            got[st.get("state")].add(int(port.get("portid")))
    for extra in xml.iter("extraports"):
        state = extra.get("state")
        if state not in got:
            continue
        for reason in extra.iter("extrareasons"):
            for rng in filter(None, reason.get("ports", "").split(",")):
                a, _, b = rng.partition("-")
                got[state].update(range(int(a), int(b or a) + 1))
with open(path) as f:
    for line in f:
        line = line.strip()
        if not line:
            continue
        if tool == "portscout":
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if "type" in r or r.get("state") not in got:
                continue
            got[r["state"]].add(int(r["port"]))
        elif xml is None and line.startswith("Host:") and "Ports:" in line:
            field = line.split("Ports:", 1)[1].split("\t")[0]
            for item in field.split(","):
                parts = item.strip().split("/")
                if len(parts) > 1 and parts[1] in got:
                    got[parts[1]].add(int(parts[0]))
missed = len(want_open - got["open"]) + len(want_filtered - got["filtered"])
invented = len(got["open"] - want_open) + len(got["filtered"] - want_filtered)
print(missed, invented)
EOF
}

RESULTS="$WORK/results"    # scenario tool wall_s rss_kb missed invented
: >"$RESULTS"
HAVE_TIME=0
[ -x /usr/bin/time ] && HAVE_TIME=1

# run_one SCENARIO TOOL NS TARGET WANT_OPEN LO HI
run_one() {
    local scen=$1 tool=$2 ns=$3 target=$4 want=$5 lo=$6 hi=$7
    local out="$WORK/out" tf="$WORK/time" cmd t0 t1 rss=0 rc=0
    if [ "$tool" = portscout ]; then
        cmd=("$BIN" "$target" -p 1-65535 --format ndjson --show open,filtered)
    else
        rm -f "$out.xml"
        cmd=(nmap -sT -p1-65535 -n -Pn "$target" -oG - -oX "$out.xml")
    fi
    t0=$(date +%s%N)
    if [ "$HAVE_TIME" = 1 ]; then
        ip netns exec "$ns" /usr/bin/time -f '%M' -o "$tf" "${cmd[@]}" >"$out" 2>"$WORK/err" </dev/null || rc=$?
    else
        ip netns exec "$ns" "${cmd[@]}" >"$out" 2>"$WORK/err" </dev/null || rc=$?
    fi
    t1=$(date +%s%N)
    [ "$HAVE_TIME" = 1 ] && rss=$(tail -n1 "$tf" 2>/dev/null || echo 0)
    if [ "$rc" != 0 ]; then
        echo "warning: $tool ($scen) exited $rc: $(head -c 500 "$WORK/err")" >&2
    fi
    local acc
    acc=$(score "$tool" "$out" "$want" "$lo" "$hi")
    local wall
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    echo "$scen $tool $wall ${rss:-0} $acc" >>"$RESULTS"
    echo "  $scen $tool: ${wall}s rss=${rss}KB missed/invented=$acc" >&2
}

# ---------------------------------------------------------------- main
for s in $SCENARIOS; do
    case "$s" in
        s1) setup_s1; check_setup "$NS_S1" "$S1_ADDR" "$S1_PORTS" "" >&2 ;;
        s3) setup_s3; check_setup "$NS_SCAN" "$S3_ADDR" "$S3_PORTS" "$S3_DROP_LO" >&2 ;;
    esac
done

if [ "$SETUP_ONLY" = 1 ]; then
    echo "setup ok; namespaces: $(ip netns list | awk '{print $1}' | grep "^pst-b${ID}-" | tr '\n' ' ')" >&2
    exit 0
fi

TOOLS="portscout"
[ "$NMAP" = 1 ] && TOOLS="portscout nmap"
for s in $SCENARIOS; do
    for i in $(seq "$RUNS"); do
        echo "run $i/$RUNS" >&2
        for tool in $TOOLS; do
            case "$s" in
                s1) run_one S1 "$tool" "$NS_S1" "$S1_ADDR" "$S1_PORTS" 0 0 ;;
                s3) run_one S3 "$tool" "$NS_SCAN" "$S3_ADDR" "$S3_PORTS" "$S3_DROP_LO" "$S3_DROP_HI" ;;
            esac
        done
    done
done

python3 - "$RESULTS" "$HAVE_TIME" "$RUNS" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
have_time, runs = sys.argv[2] == "1", int(sys.argv[3])
data = {}
for scen, tool, wall, rss, missed, invented in rows:
    d = data.setdefault((scen, tool), {"wall": [], "rss": [], "missed": 0, "invented": 0, "bad": 0})
    d["wall"].append(float(wall)); d["rss"].append(int(rss))
    d["missed"] += int(missed); d["invented"] += int(invented)
    d["bad"] += int(missed) + int(invented) > 0
print()
print(f"Runs per tool and scenario: {runs} (interleaved)")
print()
print("| scenario | tool | median wall (s) | min wall (s) | peak RSS (MiB) | accuracy (missed/invented) | ratio to portscout |")
print("|---|---|---:|---:|---:|---|---:|")
for (scen, tool), d in data.items():
    med, mn = statistics.median(d["wall"]), min(d["wall"])
    base = data.get((scen, "portscout"))
    ratio = f"{med / statistics.median(base['wall']):.2f}x" if base else "n/a"
    rss = f"{max(d['rss']) / 1024:.1f}" if have_time else "n/a"
    n = len(d["wall"])
    if d["bad"] == 0:
        acc = f"exact in {n}/{n} runs"
    else:
        acc = f"{d['missed']} missed / {d['invented']} invented ({d['bad']}/{n} runs wrong)"
    print(f"| {scen} | {tool} | {med:.3f} | {mn:.3f} | {rss} | {acc} | {ratio} |")
EOF
