#!/usr/bin/env bash
# The benchmark: scenarios S1-S6 of ../shared/SCENARIOS.md plus S4H (harsh loss), S7 (a 1 mbit
# link) and the IPv6 twins of S1, S3, S4 and S5, portscout (every engine, connect and SYN scans)
# against nmap (-sT and -sS), masscan, RustScan, the seed's Python scanners and a one-thread
# blocking connect() loop in C.
#
#   sudo bash bench/run.sh            # everything, defaults below (about 25 minutes on 2 cores)
#   sudo bash bench/run.sh --scenario s1,s3,s4,s5,s1v6,s3v6,s4v6,s5v6 --engines "auto syn" \
#        --peers nmap,nmap-syn,masscan -n 3       # issue 6: SYN against connect, v4 and v6
#
# It needs root: it builds its own network namespaces, veth pairs, listeners (the ground truth),
# nftables rules and tc qdiscs, and removes all of them on exit, also on failure or Ctrl-C. It
# scans nothing but loopback inside those namespaces and 198.18.0.0/15 and 2001:db8::/32
# addresses that exist only on its own veth pairs. Results (results.csv, table.md, chart.svg,
# env.txt, summary.txt, commands.txt, raw/) go to bench/results/<UTC time>/; the table is
# printed at the end.
#
# Scenarios: s1 s2 s3 s4 s5 s6 as in SCENARIOS.md, and
#   s4h  S3 plus, in the target, 15% of connection-opening SYNs dropped on input and 5% of
#        outgoing RSTs dropped (nftables; the counters go to summary.txt and env.txt)
#   s7   S3's veth pair and listeners without drops or loss, both veth ends shaped to 1 mbit
#        (tc tbf), ports 1-6000; every run's tc drop counts go to its CSV note, raw/*.tc and
#        summary.txt, with portscout's "portscout: timing:" stderr line
#   s1v6 S1 on ::1: the same listeners bound on ::1 in the same loopback namespace
#   s3v6 S3 over IPv6: scanner 2001:db8::1/64, target 2001:db8::2/64 (nodad) on their own veth
#        pair, listeners on [::], the same nftables inet table (its rules match IPv6 too)
#   s4v6 S4 over IPv6, as s3v6 plus the 10% SYN loss rule
#   s5v6 S5 over IPv6: scanner 2001:db8::1/64, 254 targets 2001:db8::1:1-2001:db8::1:fe on the
#        target veth, 2001:db8::c9 and 2001:db8::ca held by nobody (no NDP answer)
#   The v6 twins run portscout's engines, nmap -6 (-sT, and -sS as nmap-syn in s1v6 and s3v6)
#   and masscan (s1v6, s3v6); RustScan, the floor (bench/floor.c is IPv4 only) and the seed
#   scripts are skipped there.
#
# Wide scans (issue 18): scanner 198.19.255.253/30 <-> veth <-> target 198.19.255.254/30, the
# scanner routing 198.18.0.0/15 into the target namespace, which drops (nftables, prerouting)
# every packet not addressed to one of its own addresses: no answer, no ICMP. B is --w-bits
# (default 16); the space is 198.18.0.0/B.
#   w1     silent /B x port 22: portscout-syn, portscout-auto (connect), zmap -P K (K: the
#          probes per address of the last finished portscout-syn run here, 2 until there is
#          one), nmap -sT -Pn
#   w2     /B where 1 address in 64 answers on 22, 80 and 443 (AnyIP: a local /32 route on the
#          target's lo per live address, one listener on 0.0.0.0): portscout-syn,
#          portscout-auto, zmap (once per port, summed; -P K), masscan
#   w3     w2 plus 5% of the SYNs dropped in the target (nftables numgen)
#   w4     silent /(B-1) x 8 ports: portscout-syn against zmap (one port, -P 8: the same number
#          of SYNs in one zmap run); the send rate, from the target veth's rx_packets sampled
#          every 5 ms (packets between the first and the last change over that time span)
#   w2-17, w2-15  w2 at /(B+1) and /(B-1) (/17 and /15 by default) for peak RSS: portscout only
#   Every W run's SYNs are counted as they enter the target (nftables counter): the CSV
#   columns probes, space (addresses x ports scanned) and send_s (w1, w4: the sampled span).
#   portscout runs with -v there: its "portscout: timing:" line goes to summary.txt.
#
# Tools: portscout-ENGINE for each --engines entry; the peers nmap (-sT, every scenario),
# nmap-syn (nmap -sS: s1, s3, s1v6, s3v6), masscan (s1, s3, s1v6, s3v6), rustscan (IPv4
# scenarios), floor (s1, s2, s6), seeds (s2). masscan reports open ports only. It cannot scan
# loopback: lo's MAC is 00:00:00:00:00:00, which masscan takes for "no MAC" (it stops with
# 'failed to detect MAC address'; told one anyway, it would ARP for a router that lo does not
# have, and any other destination MAC makes lo drop the frame as not for this host); its S1 and
# S1v6 runs are recorded as failed, once, with a note saying so. On a veth it is told the
# adapter, its address and the target's MAC (--adapter, --adapter-ip, --router-mac), runs at
# --masscan-rate with --wait 1 and a time limit of at most 30 s, and, while it runs, the target
# sends the scanner a UDP datagram every 50 ms: masscan's receive thread (libpcap, TPACKET_V3)
# blocks until a packet arrives, so on a link that falls silent after the scan it can wait
# forever.
#
# Options:
#   -n RUNS             runs per tool in every scenario (default: s1-s3,s6 and s1v6,s3v6 5;
#                       s4,s4h,s5,s7 and s4v6,s5v6 3)
#   --runs s4=2,s5=1    runs for single scenarios (after -n)
#   --scenario LIST     which scenarios, e.g. s1,s3 (default: s1,s2,s3,s4,s4h,s5,s6,s7)
#   --engines LIST      portscout engines (default: "auto threads async sharded"); "serial"
#                       is the default engine with --order serial, "syn" the default engine
#                       with --scan syn
#   --peers LIST        peers to run if present (default: "nmap rustscan floor seeds", plus
#                       zmap and masscan when a W scenario runs, "nmap zmap masscan" when only
#                       W scenarios run; also nmap-syn and masscan)
#   --masscan-rate PPS  masscan's --rate (default 1000000)
#   --seeds DIR         the seed's Python scanners (default: ../shared/seed-scanners)
#   --time-limit SEC    per-run time limit; a run killed there is recorded as timed out (120)
#   --w-time-limit SEC  the same for the W scenarios (300)
#   --w-bits B          the W scenarios' prefix length, 16..24 (default 16; 22 for a quick try)
#   --w-engines LIST    portscout in the W scenarios (default "syn auto": SYN and connect)
#   --zmap-bandwidth BW zmap's -B (default 10G: as fast as it can)
#   --slow SEC          a tool whose run takes longer (or times out) is not run again in that
#                       scenario (default 30)
#   --no-install        do not install missing peers (nmap, masscan, rustscan, gcc): skip them
#   --no-build          use the existing release binary; --bin PATH uses PATH
#   --out DIR           results folder (default bench/results/<UTC time>)
#   --setup-only        build the scenarios, check the ground truth with plain connects, tear down
#   -h, --help          this text
set -euo pipefail
# Measure the defaults: no config file of the user (docs/config.md) applies.
export PORTSCOUT_CONFIG=

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

# ---------------------------------------------------------------- options
declare -A RUNS=([s1]=5 [s2]=5 [s3]=5 [s4]=3 [s4h]=3 [s5]=3 [s6]=5 [s7]=3
    [s1v6]=5 [s3v6]=5 [s4v6]=3 [s5v6]=3
    [w1]=3 [w2]=5 [w3]=5 [w4]=3 [w2-17]=1 [w2-15]=1)
SCENARIOS="s1 s2 s3 s4 s4h s5 s6 s7"
ENGINES="auto threads async sharded"
PEERS="nmap rustscan floor seeds"
PEERS_GIVEN=0
W_LIMIT=300
W_BITS=16
W_ENGINES="syn auto"
ZMAP_BW=10G
SEEDS=""
MASSCAN_RATE=1000000
LIMIT=120
SLOW=30
INSTALL=1
BUILD=1
BIN=""
OUT=""
SETUP_ONLY=0

posint() { case "$2" in ''|*[!0-9]*|0) echo "$1 needs a positive whole number, not '$2'" >&2; exit 2 ;; esac; }
while [ $# -gt 0 ]; do
    case "$1" in
        -n) posint -n "${2:-}"; for s in "${!RUNS[@]}"; do RUNS[$s]=$2; done; shift 2 ;;
        --runs)
            for kv in ${2//,/ }; do
                k=${kv%%=*}; v=${kv#*=}
                [ -n "${RUNS[$k]:-}" ] || { echo "--runs: unknown scenario '$k'" >&2; exit 2; }
                posint "--runs $k" "$v"; RUNS[$k]=$v
            done
            shift 2 ;;
        --scenario|--scenarios)
            SCENARIOS=""
            for s in ${2//,/ }; do
                s=${s,,}
                [ -n "${RUNS[$s]:-}" ] || { echo "--scenario: unknown scenario '$s'" >&2; exit 2; }
                SCENARIOS="$SCENARIOS $s"
            done
            shift 2 ;;
        --engines) ENGINES=${2//,/ }; shift 2 ;;
        --peers) PEERS=${2//,/ }; PEERS_GIVEN=1; shift 2 ;;
        --w-time-limit) posint --w-time-limit "${2:-}"; W_LIMIT="$2"; shift 2 ;;
        --w-bits)
            case "${2:-}" in 1[6-9]|2[0-4]) W_BITS=$2 ;; *) echo "--w-bits needs 16..24, not '${2:-}'" >&2; exit 2 ;; esac
            shift 2 ;;
        --w-engines) W_ENGINES=${2//,/ }; shift 2 ;;
        --zmap-bandwidth)
            case "${2:-}" in [1-9]*) ZMAP_BW=$2 ;; *) echo "--zmap-bandwidth needs a bandwidth like 10G, not '${2:-}'" >&2; exit 2 ;; esac
            shift 2 ;;
        --masscan-rate) posint --masscan-rate "${2:-}"; MASSCAN_RATE="$2"; shift 2 ;;
        --seeds) SEEDS="$2"; shift 2 ;;
        --time-limit) posint --time-limit "${2:-}"; LIMIT="$2"; shift 2 ;;
        --slow) posint --slow "${2:-}"; SLOW="$2"; shift 2 ;;
        --no-install) INSTALL=0; shift ;;
        --no-build) BUILD=0; shift ;;
        --bin) BIN="$2"; BUILD=0; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        --setup-only) SETUP_ONLY=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done
# The W scenarios' peers are zmap, masscan and nmap: added unless --peers says otherwise; with
# only W scenarios, only they (nothing else is installed or run).
if [ "$PEERS_GIVEN" = 0 ]; then
    only_w=1
    for s in $SCENARIOS; do case "$s" in w*) ;; *) only_w=0 ;; esac; done
    case " $SCENARIOS" in
        *" w"*) if [ "$only_w" = 1 ]; then PEERS="nmap zmap masscan"; else PEERS="$PEERS zmap masscan"; fi ;;
    esac
fi
for p in $PEERS; do
    case "$p" in nmap|nmap-syn|masscan|zmap|rustscan|floor|seeds) ;; *) echo "--peers: unknown peer '$p'" >&2; exit 2 ;; esac
done
for e in $ENGINES $W_ENGINES; do
    case "$e" in *[!a-z0-9_-]*|'') echo "--engines: bad engine name '$e'" >&2; exit 2 ;; esac
done

if [ "$(id -u)" != 0 ]; then
    echo "bench/run.sh needs root (network namespaces, nftables): sudo bash bench/run.sh" >&2
    exit 1
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$(pwd)
[ -n "$SEEDS" ] || SEEDS="$REPO/../shared/seed-scanners"
# sudo resets PATH: find cargo and cargo-installed tools (rustscan) anyway.
for d in "${CARGO_HOME:-$HOME/.cargo}/bin" "/root/.cargo/bin"; do
    case ":$PATH:" in *":$d:"*) ;; *) [ -d "$d" ] && PATH="$PATH:$d" ;; esac
done
if [ -n "${SUDO_USER:-}" ]; then
    d=$(getent passwd "$SUDO_USER" | cut -d: -f6)/.cargo/bin
    case ":$PATH:" in *":$d:"*) ;; *) [ -d "$d" ] && PATH="$PATH:$d" ;; esac
fi
export PATH

has() { case " $2 " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
say() { echo "$*" >&2; }

# ---------------------------------------------------------------- names and cleanup
ID=$$
NS_LO="pst-b${ID}-lo"                     # S1, S2, S6
NS_3S="pst-b${ID}-3s"; NS_3T="pst-b${ID}-3t"
NS_4S="pst-b${ID}-4s"; NS_4T="pst-b${ID}-4t"
NS_4HS="pst-b${ID}-4hs"; NS_4HT="pst-b${ID}-4ht"
NS_5S="pst-b${ID}-5s"; NS_5T="pst-b${ID}-5t"
NS_7S="pst-b${ID}-7s"; NS_7T="pst-b${ID}-7t"
NS_3V6S="pst-b${ID}-3v6s"; NS_3V6T="pst-b${ID}-3v6t"   # S1v6 uses NS_LO
NS_4V6S="pst-b${ID}-4v6s"; NS_4V6T="pst-b${ID}-4v6t"
NS_5V6S="pst-b${ID}-5v6s"; NS_5V6T="pst-b${ID}-5v6t"
NS_WQS="pst-b${ID}-wqs"; NS_WQT="pst-b${ID}-wqt"   # W1, W4: silent
NS_W2S="pst-b${ID}-w2s"; NS_W2T="pst-b${ID}-w2t"   # W2, W2-17, W2-15
NS_W3S="pst-b${ID}-w3s"; NS_W3T="pst-b${ID}-w3t"
ALL_NS=("$NS_LO" "$NS_3S" "$NS_3T" "$NS_4S" "$NS_4T" "$NS_4HS" "$NS_4HT" "$NS_5S" "$NS_5T" "$NS_7S" "$NS_7T"
    "$NS_3V6S" "$NS_3V6T" "$NS_4V6S" "$NS_4V6T" "$NS_5V6S" "$NS_5V6T"
    "$NS_WQS" "$NS_WQT" "$NS_W2S" "$NS_W2T" "$NS_W3S" "$NS_W3T")
veth() { echo "pvb${ID}$1"; }             # <= 15 chars: pid_max is at most 7 digits (4v6s: 14)
WORK=$(mktemp -d /tmp/pst-bench.XXXXXX)
LISTENER_PIDS=()
RUN_PID=""
KA_PID=""                                 # masscan's keep-alive sender (see the header)
SAMPLER_PID=""                            # W1, W4: the target veth's rx_packets sampler

kill_ns_procs() {
    # Everything running inside our namespaces is ours: listeners and a tool still running when
    # the script was interrupted (GNU timeout puts the tool in its own process group, so Ctrl-C
    # does not reach it).
    local sig=$1 ns pids
    for ns in "${ALL_NS[@]}"; do
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        # shellcheck disable=SC2086  # one pid a word
        if [ -n "$pids" ]; then kill "-$sig" $pids 2>/dev/null || true; fi
    done
}

cleanup() {
    local rc=$?
    # A second Ctrl-C (or TERM) must not cut the cleanup short.
    trap - EXIT
    trap '' INT TERM
    if [ -n "$RUN_PID" ]; then kill "$RUN_PID" 2>/dev/null || true; fi
    if [ -n "$KA_PID" ]; then kill "$KA_PID" 2>/dev/null || true; fi
    if [ -n "$SAMPLER_PID" ]; then kill "$SAMPLER_PID" 2>/dev/null || true; fi
    kill_ns_procs TERM
    sleep 0.2
    kill_ns_procs KILL
    for pid in "${LISTENER_PIDS[@]:-}" $RUN_PID $KA_PID $SAMPLER_PID; do
        if [ -n "$pid" ]; then wait "$pid" 2>/dev/null || true; fi
    done
    # Rules, qdiscs and veths go with their namespaces; remove them explicitly anyway.
    for ns in "$NS_3T" "$NS_4T" "$NS_4HT" "$NS_5T" "$NS_3V6T" "$NS_4V6T" "$NS_WQT" "$NS_W2T" "$NS_W3T"; do
        ip netns exec "$ns" nft delete table inet pstbench 2>/dev/null || true
    done
    tc -n "$NS_7S" qdisc del dev "$(veth 7s)" root 2>/dev/null || true
    tc -n "$NS_7T" qdisc del dev "$(veth 7t)" root 2>/dev/null || true
    ip -n "$NS_3S" link del "$(veth 3s)" 2>/dev/null || true
    ip -n "$NS_4S" link del "$(veth 4s)" 2>/dev/null || true
    ip -n "$NS_4HS" link del "$(veth 4hs)" 2>/dev/null || true
    ip -n "$NS_5S" link del "$(veth 5s)" 2>/dev/null || true
    ip -n "$NS_7S" link del "$(veth 7s)" 2>/dev/null || true
    ip -n "$NS_3V6S" link del "$(veth 3v6s)" 2>/dev/null || true
    ip -n "$NS_4V6S" link del "$(veth 4v6s)" 2>/dev/null || true
    ip -n "$NS_5V6S" link del "$(veth 5v6s)" 2>/dev/null || true
    ip -n "$NS_WQS" link del "$(veth wqs)" 2>/dev/null || true
    ip -n "$NS_W2S" link del "$(veth w2s)" 2>/dev/null || true
    ip -n "$NS_W3S" link del "$(veth w3s)" 2>/dev/null || true
    for ns in "${ALL_NS[@]}"; do
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
        DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null >&2 || return 1
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" </dev/null >&2
}
# What the benchmark itself needs is always installed when missing.
{ command -v ip && command -v tc; } >/dev/null || apt_install iproute2
command -v nft >/dev/null || apt_install nftables
command -v python3 >/dev/null || apt_install python3
command -v timeout >/dev/null || apt_install coreutils
{ command -v prlimit && command -v setpriv; } >/dev/null || apt_install util-linux
[ -x /usr/bin/time ] || apt_install time
PY=$(python3 -c 'import sys; print(sys.executable)')   # the real interpreter, not a pyenv shim

# Peers: installed when missing unless --no-install; else skipped with a line saying so.
peer_missing() {   # NAME HOW
    if [ "$INSTALL" = 0 ]; then
        say "skipping $1: not installed (--no-install; would run: $2)"
        return 1
    fi
    say "installing $1: $2"
    return 0
}
drop_peer() { PEERS=" $PEERS "; PEERS=${PEERS// $1 / }; }
if [ "$SETUP_ONLY" = 0 ]; then
    if { has nmap "$PEERS" || has nmap-syn "$PEERS"; } && ! command -v nmap >/dev/null; then
        if peer_missing nmap "apt-get install -y nmap"; then
            apt_install nmap || say "skipping nmap: apt-get install nmap failed"
        fi
    fi
    if has masscan "$PEERS" && ! command -v masscan >/dev/null; then
        if peer_missing masscan "apt-get install -y masscan"; then
            apt_install masscan || say "skipping masscan: apt-get install masscan failed"
        fi
    fi
    if has zmap "$PEERS" && ! command -v zmap >/dev/null; then
        if peer_missing zmap "apt-get install -y zmap"; then
            apt_install zmap || say "skipping zmap: apt-get install zmap failed"
        fi
    fi
    if has rustscan "$PEERS" && ! command -v rustscan >/dev/null; then
        if peer_missing rustscan "cargo install --locked rustscan (compiles for a few minutes)"; then
            cargo install --locked rustscan >&2 || say "skipping rustscan: cargo install failed"
        fi
    fi
    if has floor "$PEERS" && ! command -v gcc >/dev/null; then
        if peer_missing "floor (needs gcc)" "apt-get install -y gcc"; then
            apt_install gcc || say "skipping floor: apt-get install gcc failed"
        fi
    fi
    command -v nmap >/dev/null || { drop_peer nmap; drop_peer nmap-syn; }
    command -v masscan >/dev/null || drop_peer masscan
    command -v zmap >/dev/null || drop_peer zmap
    command -v rustscan >/dev/null || drop_peer rustscan
    command -v gcc >/dev/null || drop_peer floor
    if has seeds "$PEERS" && ! [ -f "$SEEDS/threads.py" ]; then
        say "skipping the seed scripts: none in $SEEDS (--seeds DIR)"
        drop_peer seeds
    fi

    if [ "$BUILD" = 1 ]; then
        say "building portscout (release)..."
        cargo build --release -q -p portscout-cli >&2
    fi
    TD="${CARGO_TARGET_DIR:-$REPO/target}"
    case "$TD" in /*) ;; *) TD="$REPO/$TD" ;; esac
    [ -n "$BIN" ] || BIN="$TD/release/portscout"
    [ -x "$BIN" ] || { say "no portscout binary at $BIN"; exit 1; }
    # nmap runs with -n in every scenario; portscout too, where the binary looks up PTR names
    # (issue 19 made that its default, as nmap's): no DNS in any timed run.
    NO_DNS=()
    "$BIN" --help 2>/dev/null | grep -q -- '--no-reverse-dns' && NO_DNS=(-n)
    say "building the report (portscout-bench-report)..."
    cargo build --release -q -p portscout-bench-report >&2
    REPORT="$TD/release/portscout-bench-report"
    if has floor "$PEERS"; then
        gcc -O2 -Wall -o "$WORK/floor" "$REPO/bench/floor.c"
    fi
    # Until the CLI has --engine, the default engine runs without the flag and every other
    # engine's run fails (and is recorded as failed).
    ENGINE_FLAG=0
    "$BIN" --help 2>/dev/null | grep -q -- '--engine' && ENGINE_FLAG=1
    [ "$ENGINE_FLAG" = 1 ] || say "note: $BIN has no --engine option: portscout-auto runs the default engine without it; other engines will fail"
fi

# ---------------------------------------------------------------- ground truth
LO_ADDR=127.0.0.1
LO_PORTS="22 80 443 8080 31337 33333 45678 55555 65535"   # 33333 45678 55555: ephemeral range
LO6_ADDR=::1                                               # S1v6: the same ports
R_ADDR=198.18.0.2
R6_SCAN=2001:db8::1                                        # S3v6, S4v6, S5v6: the scanner
R6_ADDR=2001:db8::2                                        # S3v6, S4v6: the target
R_PORTS="22 80 443 8080 31337 45678 65535"
DROP_LO=40000
DROP_HI=41000
S5_SILENT="198.18.0.201 198.18.0.202"
S5_PORTS="22 80 443"
S5V6_NET=2001:db8::1:                                      # S5v6 targets: 2001:db8::1:1 to ::1:fe
S5V6_SILENT="2001:db8::c9 2001:db8::ca"                    # in the /64, held by nobody
# S4H: S3 plus this much loss, in percent, in the target: connection-opening SYNs on input,
# RSTs on output (the answers of closed ports).
S4H_SYN_LOSS=15
S4H_RST_LOSS=5
# S7: 1 mbit on both veth ends (scanner egress carries the SYNs, target egress the SYN-ACKs and
# RSTs). A SYN is 74 bytes on the wire (14 Ethernet + 20 IP + 40 TCP with options) and an RST
# 54, so 6000 SYNs take 6000 * 74 * 8 / 1e6 = 3.55 s at best; 22, 80 and 443 are in range.
S7_TBF="rate 1mbit burst 32kbit latency 100ms"
S7_LO=1
S7_HI=6000

# A listener process: binds ADDR:PORT for each port, accepts and closes at once. An IPv6
# ADDR (:: included) is bound IPv6-only.
LISTENER_PY='
import select, socket, sys
addr, ports = sys.argv[1], [int(p) for p in sys.argv[2:]]
v6 = ":" in addr
socks = []
for p in ports:
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if v6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, p))
    s.listen(4096)
    socks.append(s)
while True:
    for s in select.select(socks, [], [])[0]:
        try:
            s.accept()[0].close()
        except OSError:
            pass
'

new_ns() {
    ip netns del "$1" 2>/dev/null || true   # stale one from a crashed run with the same pid
    ip netns add "$1"
    ip -n "$1" link set lo up
}

# start_listeners NS ADDR PORTS...: start one listener process and wait until all listen.
start_listeners() {
    local ns=$1 addr=$2; shift 2
    local want got i
    # Sockets already listening there (S1v6 adds its listeners to S1's namespace).
    want=$(( $(ip netns exec "$ns" ss -Hltn 2>/dev/null | wc -l) + $# ))
    ip netns exec "$ns" "$PY" -c "$LISTENER_PY" "$addr" "$@" &
    LISTENER_PIDS+=("$!")
    for i in $(seq 100); do
        got=$(ip netns exec "$ns" ss -Hltn 2>/dev/null | wc -l)
        [ "$got" -ge "$want" ] && return 0
        kill -0 "${LISTENER_PIDS[-1]}" 2>/dev/null || { say "listener in $ns died"; exit 1; }
        sleep 0.05
    done
    say "listeners in $ns not ready"
    exit 1
}

# pair SCAN_NS TARGET_NS SCAN_VETH TARGET_VETH SCAN_ADDR/LEN [ADDR FLAGS...]: two new
# namespaces joined by a veth pair, the scanner's end with its address (IPv6: nodad).
pair() {
    local scan=$1 tgt=$2 vs=$3 vt=$4 scan_addr=$5; shift 5
    new_ns "$scan"
    new_ns "$tgt"
    ip link add "$vs" netns "$scan" type veth peer name "$vt" netns "$tgt"
    ip -n "$scan" addr add "$scan_addr" dev "$vs" "$@"
    ip -n "$scan" link set "$vs" up
    ip -n "$tgt" link set "$vt" up
}

nft_target() {   # NS [INPUT_RULE...] [-- OUTPUT_RULE...]: S3's drop range, then the rules
    local ns=$1 chain=input; shift
    {
        echo "add table inet pstbench"
        echo "add chain inet pstbench input { type filter hook input priority 0; policy accept; }"
        echo "add rule inet pstbench input tcp dport $DROP_LO-$DROP_HI counter drop"
        for r in "$@"; do
            if [ "$r" = -- ]; then
                chain=output
                echo "add chain inet pstbench output { type filter hook output priority 0; policy accept; }"
                continue
            fi
            echo "add rule inet pstbench $chain $r"
        done
    } | ip netns exec "$ns" nft -f -
}

# nft_count NS CHAIN: the packet counter of the chain's numgen (random loss) rule.
nft_count() {
    ip netns exec "$1" nft list chain inet pstbench "$2" 2>/dev/null \
        | grep -o 'numgen.*counter packets [0-9]*' | sed 's/.*packets //' | head -n1
}

# tc_count NS DEV: "SENT DROPPED" packets of the device's root qdisc.
tc_count() {
    tc -n "$1" -s qdisc show dev "$2" root 2>/dev/null \
        | sed -n 's/.*Sent [0-9]* bytes \([0-9]*\) pkt (dropped \([0-9]*\),.*/\1 \2/p' | head -n1
}

truth() {   # FILE TARGETS LO HI OPEN_PAIRS FILTERED_TRIPLES  (space-separated ip:port, ip:lo:hi;
            # an IPv6 ip as it is, 2001:db8::2:22: the port is what follows the last colon)
    "$PY" - "$@" <<'EOF'
import json, sys
path, targets, lo, hi, opens, filt = sys.argv[1:7]
json.dump({
    "targets": targets.split(),
    "ports": [int(lo), int(hi)],
    "open": [[a, int(p)] for a, p in (x.rsplit(":", 1) for x in opens.split()) if int(lo) <= int(p) <= int(hi)],
    "filtered": [[a, int(l), int(h)] for a, l, h in (x.rsplit(":", 2) for x in filt.split())],
}, open(path, "w"))
EOF
}

LO_UP=0
setup_lo() {
    [ "$LO_UP" = 1 ] && return 0
    new_ns "$NS_LO"
    # shellcheck disable=SC2086
    start_listeners "$NS_LO" "$LO_ADDR" $LO_PORTS
    check "$NS_LO" 0.5 "$LO_ADDR:${LO_PORTS// /,}" "$LO_ADDR:1000" ""
    LO_UP=1
}

# setup_lo6: S1v6, the same listeners on ::1 in S1's namespace.
LO6_UP=0
setup_lo6() {
    [ "$LO6_UP" = 1 ] && return 0
    setup_lo
    # shellcheck disable=SC2086
    start_listeners "$NS_LO" "$LO6_ADDR" $LO_PORTS
    check "$NS_LO" 0.5 "$LO6_ADDR:${LO_PORTS// /,}" "$LO6_ADDR:1000" ""
    LO6_UP=1
}

# setup_remote s3|s4|s4h|s7|s3v6|s4v6: scanner 198.18.0.1 and target 198.18.0.2 (s3v6, s4v6:
# 2001:db8::1 and 2001:db8::2, without duplicate address detection) on a veth pair, the
# target's 7 listeners, and the scenario's drops, loss or shaping. The nftables table is of the
# inet family: its rules match IPv4 and IPv6 alike.
setup_remote() {
    local s=$1 n scan tgt vs vt addr listen=0.0.0.0
    n=${s#s}
    scan=$(scen_ns "$s"); tgt=$(scen_target_ns "$s")
    vs=$(veth "${n}s"); vt=$(veth "${n}t")
    addr=$(scen_addr "$s")
    case "$s" in
        *v6)
            pair "$scan" "$tgt" "$vs" "$vt" "$R6_SCAN/64" nodad
            ip -n "$tgt" addr add "$addr/64" dev "$vt" nodad
            listen=:: ;;
        *)
            pair "$scan" "$tgt" "$vs" "$vt" 198.18.0.1/24
            ip -n "$tgt" addr add "$addr/24" dev "$vt" ;;
    esac
    # 10% (S4) or 15% (S4H) of connection-opening SYNs (retransmissions included) vanish.
    local syn_loss="tcp flags & (syn | ack) == syn numgen random mod 100 <"
    case "$s" in
        s3|s3v6) nft_target "$tgt" ;;
        s4|s4v6) nft_target "$tgt" "$syn_loss 10 counter drop" ;;
        s4h)
            # ... and 5% of the target's RSTs (closed ports' answers) too.
            nft_target "$tgt" "$syn_loss $S4H_SYN_LOSS counter drop" \
                -- "tcp flags & rst == rst numgen random mod 100 < $S4H_RST_LOSS counter drop" ;;
        s7)
            # shellcheck disable=SC2086
            tc -n "$scan" qdisc add dev "$vs" root tbf $S7_TBF
            # shellcheck disable=SC2086
            tc -n "$tgt" qdisc add dev "$vt" root tbf $S7_TBF ;;
    esac
    # shellcheck disable=SC2086
    start_listeners "$tgt" "$listen" $R_PORTS
    # With loss, a plain connect may need the kernel's SYN retransmission (1 s, 3 s...).
    local t=0.5 silent="$addr:$DROP_LO"
    case "$s" in s4|s4h|s4v6) t=4 ;; s7) silent="" ;; esac
    check "$scan" "$t" "$addr:${R_PORTS// /,}" "$addr:1000" "$silent"
}

S5_TARGETS="$WORK/s5-targets.txt"
setup_s5() {
    pair "$NS_5S" "$NS_5T" "$(veth 5s)" "$(veth 5t)" 198.18.0.1/23
    local i vt
    vt=$(veth 5t)
    for i in $(seq 1 254); do echo "addr add 198.18.1.$i/23 dev $vt"; done | ip -n "$NS_5T" -batch -
    # shellcheck disable=SC2086
    start_listeners "$NS_5T" 0.0.0.0 $S5_PORTS
    { for i in $(seq 1 254); do echo "198.18.1.$i"; done; for a in $S5_SILENT; do echo "$a"; done; } >"$S5_TARGETS"
    check "$NS_5S" 0.5 "198.18.1.1:22,80,443 198.18.1.254:22,80,443" "198.18.1.127:1000" \
        "${S5_SILENT// /:22 }:22"
}

# S5v6: scanner 2001:db8::1/64; 2001:db8::1:1 to 2001:db8::1:fe on the target veth (nodad);
# 2001:db8::c9 and ::ca, in the same /64, answer no neighbour solicitation.
S5V6_TARGETS="$WORK/s5v6-targets.txt"
s5v6_addrs() { local i; for i in $(seq 1 254); do printf '%s%x\n' "$S5V6_NET" "$i"; done; }
setup_s5v6() {
    local vt a
    vt=$(veth 5v6t)
    pair "$NS_5V6S" "$NS_5V6T" "$(veth 5v6s)" "$vt" "$R6_SCAN/64" nodad
    for a in $(s5v6_addrs); do echo "addr add $a/64 dev $vt nodad"; done | ip -n "$NS_5V6T" -batch -
    # shellcheck disable=SC2086
    start_listeners "$NS_5V6T" :: $S5_PORTS
    { s5v6_addrs; for a in $S5V6_SILENT; do echo "$a"; done; } >"$S5V6_TARGETS"
    check "$NS_5V6S" 0.5 "${S5V6_NET}1:22,80,443 ${S5V6_NET}fe:22,80,443" "${S5V6_NET}7f:1000" \
        "${S5V6_SILENT// /:22 }:22"
}

# ---------------------------------------------------------------- the W scenarios (issue 18)
# Scanner W_SCAN/30 <-> veth <-> target W_GW/30; the scanner routes 198.18.0.0/15 via W_GW.
# The /30 lies at the top of 198.18.0.0/15: a scan of the whole /15 (--w-bits 16: W4 and
# W2-15) excludes it (W_LINK) in every tool, so that no probe goes to the link's own two
# addresses.
W_BASE=198.18.0.0
W_SCAN=198.19.255.253
W_GW=198.19.255.254
W_LINK=198.19.255.252/30
W_PORTS=22,80,443      # W2, W3: the live addresses' open ports (nothing else answers)
W1_PORT=22
W4_PORTS=22,80,443,8080,3389,25,53,8443
W3_LOSS=5              # percent of the SYNs dropped in W3's target
is_w() { case "$1" in w*) return 0 ;; *) return 1 ;; esac; }
# w_bits S: the prefix length S scans.
w_bits() {
    case "$1" in
        w4|w2-15) echo $((W_BITS - 1)) ;;
        w2-17) echo $((W_BITS + 1)) ;;
        *) echo "$W_BITS" ;;
    esac
}
w_net() { echo "$W_BASE/$(w_bits "$1")"; }
w_ports() { case "$1" in w1) echo "$W1_PORT" ;; w4) echo "$W4_PORTS" ;; *) echo "$W_PORTS" ;; esac; }
w_space() {   # addresses x ports scanned (the link's 4 addresses left out where excluded)
    local n=$((1 << (32 - $(w_bits "$1")))) p
    p=$(w_ports "$1"); p=${p//[!,]/}
    [ "$(w_bits "$1")" = 15 ] && n=$((n - 4))
    echo $((n * (${#p} + 1)))
}
w_excluded() { [ "$(w_bits "$1")" = 15 ]; }
w_key() { case "$1" in w1|w4) echo wq ;; w3) echo w3 ;; *) echo w2 ;; esac; }
W_UP=""

# w_live BITS: the live addresses of 198.18.0.0/BITS, one a line: in every block of 64, one at
# a pseudo-random offset 1..59 (seeded: the same set in every run; never .0 or .255 of a /24,
# never the link's .252-.255).
w_live() {
    "$PY" - "$1" <<'EOF2'
import ipaddress, random, sys
bits = int(sys.argv[1])
base = int(ipaddress.ip_address("198.18.0.0"))
rng = random.Random(18)
for block in range(1 << (32 - bits - 6)):
    print(ipaddress.ip_address(base + 64 * block + rng.randrange(1, 60)))
EOF2
}

# setup_w S: the scenario's pair (shared: W1 and W4; W2, W2-17 and W2-15), built once.
setup_w() {
    local s=$1 key scan tgt vs vt live_bits=0 b f
    key=$(w_key "$s")
    scan=$(scen_ns "$s"); tgt=$(scen_target_ns "$s")
    vs=$(veth "${key}s"); vt=$(veth "${key}t")
    if ! has "$key" "$W_UP"; then
        pair "$scan" "$tgt" "$vs" "$vt" "$W_SCAN/30"
        ip -n "$tgt" addr add "$W_GW/30" dev "$vt"
        ip -n "$scan" route add 198.18.0.0/15 via "$W_GW" dev "$vs"
        {
            echo "add table inet pstbench"
            # Before anything else: count the SYNs that come in (the probes), then drop every
            # packet that is not for one of the target's own addresses, so that no ICMP answers.
            echo "add chain inet pstbench pre { type filter hook prerouting priority -300; policy accept; }"
            echo "add rule inet pstbench pre iifname $vt tcp flags & (syn | ack) == syn counter comment \"probes\""
            echo "add rule inet pstbench pre fib daddr type != local counter drop comment \"silence\""
            if [ "$key" = w3 ]; then
                echo "add chain inet pstbench input { type filter hook input priority 0; policy accept; }"
                echo "add rule inet pstbench input tcp flags & (syn | ack) == syn numgen random mod 100 < $W3_LOSS counter drop"
            fi
        } | ip netns exec "$tgt" nft -f -
        W_UP="$W_UP $key"
    fi
    # Live addresses: for the widest prefix this pair's scenarios scan.
    [ "$key" = wq ] && return 0
    case "$key" in
        w2) for f in w2 w2-17 w2-15; do
                has "$f" "$SCENARIOS" || continue
                b=$(w_bits "$f")
                if [ "$live_bits" = 0 ] || [ "$b" -lt "$live_bits" ]; then live_bits=$b; fi
            done ;;
        w3) live_bits=$(w_bits w3) ;;
    esac
    local have=${W_LIVE_BITS_OF[$key]:-}
    if [ -z "$have" ]; then
        w_live "$live_bits" >"$WORK/live-$key.txt"
        sed 's|.*|route add local &/32 dev lo|' "$WORK/live-$key.txt" | ip -n "$tgt" -batch -
        # shellcheck disable=SC2086
        start_listeners "$tgt" 0.0.0.0 ${W_PORTS//,/ }
        W_LIVE_BITS_OF[$key]=$live_bits
        # The first live address is in 198.18.0.1-59; offset 60 of a block is never live.
        local first t=0.5
        first=$(head -n1 "$WORK/live-$key.txt")
        [ "$key" = w3 ] && t=4
        check "$scan" "$t" "$first:$W_PORTS" "$first:1000" "198.18.0.60:22"
    fi
}
declare -A W_LIVE_BITS_OF=()

# setup_w_silent: W1 and W4's check: nothing answers, not even the /15's first address.
setup_w_silent() {
    setup_w "$1"
    local scan
    scan=$(scen_ns "$1")
    check "$scan" 0.5 "" "" "198.18.0.1:22 198.18.200.7:80"
}

# truth_w S: the open ports are the live addresses of the scanned prefix, every W port; no
# filtered ports are scored ("open_only": a /16's silent addresses would be 190 000 of them).
truth_w() {
    local s=$1 key live=/dev/null ports
    key=$(w_key "$s")
    [ -f "$WORK/live-$key.txt" ] && live="$WORK/live-$key.txt"
    ports=$(w_ports "$s")
    "$PY" - "$(S_TRUTH "$s")" "$live" "$(w_net "$s")" "$ports" <<'EOF2'
import ipaddress, json, sys
path, live, net, ports = sys.argv[1:5]
net = ipaddress.ip_network(net)
ports = [int(p) for p in ports.split(",")]
opens = []
with open(live) as f:
    for line in f:
        a = line.strip()
        if a and ipaddress.ip_address(a) in net:
            opens += [[a, p] for p in ports]
json.dump({"targets": [], "ports": [min(ports), max(ports)], "open": opens, "filtered": [],
           "open_only": True}, open(path, "w"))
EOF2
}

# w_probes S: the SYNs counted entering the target so far.
w_probes() {
    ip netns exec "$(scen_target_ns "$1")" nft list chain inet pstbench pre 2>/dev/null \
        | grep 'comment "probes"' | grep -o 'packets [0-9]*' | sed 's/packets //' | head -n1
}

# The sampler (W1, W4): the target veth's rx_packets every 5 ms; a line "TIME COUNT" at each
# change, so the first and last lines bound the time packets came in.
SAMPLER_PY='
import sys, time
path, out = "/sys/class/net/%s/statistics/rx_packets" % sys.argv[1], open(sys.argv[2], "w")
def rd():
    with open(path) as f:
        return int(f.read())
last = rd()
out.write("%.6f %d\n" % (time.monotonic(), last)); out.flush()
while True:
    time.sleep(0.005)
    c = rd()
    if c != last:
        last = c
        out.write("%.6f %d\n" % (time.monotonic(), c)); out.flush()
'
# sampled FILE: "PACKETS SPAN RATE" from the sampler's file: packets between its first and
# last change and the seconds between them ("" when fewer than two changes).
sampled() {
    awk 'NR == 1 { next } NR == 2 { t0 = $1; c0 = $2 } { t1 = $1; c1 = $2 }
         END { if (NR >= 3 && t1 > t0) printf "%d %.3f %.0f", c1 - c0, t1 - t0, (c1 - c0) / (t1 - t0) }' "$1"
}

# check NS TIMEOUT OPEN CLOSED SILENT: plain connects from NS. OPEN is "addr:p,p addr:p", CLOSED
# one addr:port that must be refused ("" for none), SILENT addr:port that must get no answer (or
# unreachable).
# The port is what follows the last colon, so an IPv6 addr is written as it is (::1:22).
check() {
    ip netns exec "$1" "$PY" - "$2" "$3" "$4" "$5" <<'EOF' >&2
import socket, sys
t, opens, closed, silent = float(sys.argv[1]), sys.argv[2].split(), sys.argv[3], sys.argv[4].split()
def probe(a, p):
    s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET); s.settimeout(t)
    try:
        s.connect((a, int(p))); return "open"
    except ConnectionRefusedError:
        return "closed"
    except (socket.timeout, OSError):
        return "filtered"
    finally:
        s.close()
bad = [f"{a}:{p}" for x in opens for a, ps in [x.rsplit(":", 1)] for p in ps.split(",") if probe(a, p) != "open"]
assert not bad, f"listeners not reachable: {bad}"
if closed:
    a, p = closed.rsplit(":", 1); assert probe(a, p) == "closed", f"{closed} not closed"
for x in silent:
    a, p = x.rsplit(":", 1); assert probe(a, p) == "filtered", f"{x} answered"
print(f"ok: listeners open ({', '.join(opens)}), {closed or 'none'} closed"
      + (f", {' '.join(silent)} silent" if silent else ""))
EOF
}

S_TRUTH() { echo "$WORK/truth-$1.json"; }
setup_scenario() {
    case "$1" in
        s1|s2|s6) setup_lo ;;
        s1v6) setup_lo6 ;;
        s3|s4|s4h|s7|s3v6|s4v6) setup_remote "$1" ;;
        s5) setup_s5 ;;
        s5v6) setup_s5v6 ;;
        w1|w4) setup_w_silent "$1" ;;
        w*) setup_w "$1" ;;
    esac
    if is_w "$1"; then truth_w "$1"; return 0; fi
    local lo_open r_open s5_open="" s5_filt="" a addr
    addr=$(scen_addr "$1")
    lo_open=$(for p in $LO_PORTS; do printf '%s:%s ' "$addr" "$p"; done)
    r_open=$(for p in $R_PORTS; do printf '%s:%s ' "$addr" "$p"; done)
    case "$1" in
        s1|s6|s1v6) truth "$(S_TRUTH "$1")" "$addr" 1 65535 "$lo_open" "" ;;
        s2) truth "$(S_TRUTH s2)" "$LO_ADDR" 30000 65535 "$lo_open" "" ;;
        s3|s4|s4h|s3v6|s4v6) truth "$(S_TRUTH "$1")" "$addr" 1 65535 "$r_open" "$addr:$DROP_LO:$DROP_HI" ;;
        # No drops: every port not listening is closed (truth() keeps the listeners in range).
        s7) truth "$(S_TRUTH s7)" "$R_ADDR" "$S7_LO" "$S7_HI" "$r_open" "" ;;
        s5)
            for a in $(seq 1 254); do for p in $S5_PORTS; do s5_open="$s5_open 198.18.1.$a:$p"; done; done
            for a in $S5_SILENT; do s5_filt="$s5_filt $a:1:1024"; done
            truth "$(S_TRUTH s5)" "$(tr '\n' ' ' <"$S5_TARGETS")" 1 1024 "$s5_open" "$s5_filt" ;;
        s5v6)
            for a in $(s5v6_addrs); do for p in $S5_PORTS; do s5_open="$s5_open $a:$p"; done; done
            for a in $S5V6_SILENT; do s5_filt="$s5_filt $a:1:1024"; done
            truth "$(S_TRUTH s5v6)" "$(tr '\n' ' ' <"$S5V6_TARGETS")" 1 1024 "$s5_open" "$s5_filt" ;;
    esac
}

# ---------------------------------------------------------------- what each scenario runs
scen_ns() {
    case "$1" in
        s1|s2|s6|s1v6) echo "$NS_LO" ;; s3) echo "$NS_3S" ;; s4) echo "$NS_4S" ;; s4h) echo "$NS_4HS" ;;
        s5) echo "$NS_5S" ;; s7) echo "$NS_7S" ;;
        s3v6) echo "$NS_3V6S" ;; s4v6) echo "$NS_4V6S" ;; s5v6) echo "$NS_5V6S" ;;
        w1|w4) echo "$NS_WQS" ;; w3) echo "$NS_W3S" ;; w*) echo "$NS_W2S" ;;
    esac
}
scen_target_ns() {
    case "$1" in
        s3) echo "$NS_3T" ;; s4) echo "$NS_4T" ;; s4h) echo "$NS_4HT" ;; s5) echo "$NS_5T" ;; s7) echo "$NS_7T" ;;
        s3v6) echo "$NS_3V6T" ;; s4v6) echo "$NS_4V6T" ;; s5v6) echo "$NS_5V6T" ;;
        w1|w4) echo "$NS_WQT" ;; w3) echo "$NS_W3T" ;; w*) echo "$NS_W2T" ;;
    esac
}
scen_range() { case "$1" in s2) echo "30000 65535" ;; s5|s5v6) echo "1 1024" ;; s7) echo "$S7_LO $S7_HI" ;; *) echo "1 65535" ;; esac; }
scen_addr() {
    case "$1" in
        s1|s2|s6) echo "$LO_ADDR" ;; s1v6) echo "$LO6_ADDR" ;; s3|s4|s4h|s7) echo "$R_ADDR" ;;
        s3v6|s4v6) echo "$R6_ADDR" ;; s5|s5v6) echo "" ;;
    esac
}
scen_targets_file() { case "$1" in s5) echo "$S5_TARGETS" ;; s5v6) echo "$S5V6_TARGETS" ;; esac; }
is_v6() { case "$1" in *v6) return 0 ;; *) return 1 ;; esac; }

scen_tools() {
    local s=$1 t="" e
    if is_w "$s"; then
        for e in $W_ENGINES; do
            # W4 is the raw send path: SYN scans only.
            [ "$s" = w4 ] && [ "$e" != syn ] && continue
            t="$t portscout-$e"
        done
        case "$s" in
            w1) has zmap "$PEERS" && t="$t zmap"; has nmap "$PEERS" && t="$t nmap" ;;
            w2|w3) has zmap "$PEERS" && t="$t zmap"; has masscan "$PEERS" && t="$t masscan" ;;
            w4) has zmap "$PEERS" && t="$t zmap" ;;
        esac
        echo "${t# }"
        return 0
    fi
    for e in $ENGINES; do t="$t portscout-$e"; done
    case "$s" in s1|s2|s6) has floor "$PEERS" && t="$t floor" ;; esac
    has nmap "$PEERS" && t="$t nmap"
    # The SYN peers: S1 and S3 and their IPv6 twins (issue 6).
    case "$s" in
        s1|s3|s1v6|s3v6)
            has nmap-syn "$PEERS" && t="$t nmap-syn"
            has masscan "$PEERS" && t="$t masscan" ;;
    esac
    # RustScan, the floor and the seed scripts: IPv4 only.
    is_v6 "$s" || { has rustscan "$PEERS" && t="$t rustscan"; }
    if [ "$s" = s2 ] && has seeds "$PEERS"; then
        for e in threads asyncio_gather async_generator subinterpreters; do
            [ -f "$SEEDS/$e.py" ] && t="$t seed-$e"
        done
    fi
    echo "${t# }"
}

# masscan_args SCEN: where masscan sends from and to, in the scanner namespace. On a veth:
# --adapter, --adapter-ip (the scanner's address; its kernel answers the SYN-ACKs with RSTs,
# which changes nothing for the results) and --router-mac (the target's end: on-link). On lo
# the best there is: its only MAC, 00:00:00:00:00:00, which masscan refuses (see the header).
masscan_args() {
    local s=$1 vt mac
    case "$s" in
        s1|s1v6)
            MASSCAN_ARGS=(--adapter lo --adapter-ip "$(scen_addr "$s")" --router-mac 00-00-00-00-00-00) ;;
        *)
            vt=$(veth "${s#s}t")
            mac=$(ip -n "$(scen_target_ns "$s")" -br link show dev "$vt" | awk '{print $3}')
            MASSCAN_ARGS=(--adapter "$(veth "${s#s}s")" --router-mac "${mac//:/-}")
            if is_v6 "$s"; then MASSCAN_ARGS+=(--adapter-ip "$R6_SCAN"); else MASSCAN_ARGS+=(--adapter-ip 198.18.0.1); fi ;;
    esac
}

# w_mac S: the target veth's MAC, as zmap (aa:bb:..) and masscan (aa-bb-..) want it.
w_mac() {
    ip -n "$(scen_target_ns "$1")" -br link show dev "$(veth "$(w_key "$1")t")" | awk '{print $3}'
}
declare -A W_K=()   # the probes per address of the last finished portscout-syn run, per scenario
# w_tool_cmd SCEN TOOL: tool_cmd for the W scenarios.
w_tool_cmd() {
    local s=$1 tool=$2 net ports vs excl=() k
    net=$(w_net "$s")
    ports=$(w_ports "$s")
    vs=$(veth "$(w_key "$s")s")
    w_excluded "$s" && excl=(--exclude "$W_LINK")
    case "$tool" in
        portscout-*)
            local e=${tool#portscout-}
            # -v: the "portscout: timing:" line on stderr says how many probes went out, the
            # peak window and the peak hosts held (a build before -v printed it by default).
            local talk=()
            "$BIN" --help 2>/dev/null | grep -q -- '--verbose' && talk=(-v)
            CMD=("$BIN" "$net" -p "$ports" --format ndjson --show open "${talk[@]}" "${excl[@]}" "${NO_DNS[@]}")
            case "$e" in
                syn) CMD+=(--scan syn) ;;
                serial) CMD+=(--order serial) ;;
                auto) [ "$ENGINE_FLAG" = 1 ] && CMD+=(--engine auto) ;;
                *) CMD+=(--engine "$e") ;;
            esac
            PARSER=portscout ;;
        zmap)
            # zmap 2.1 scans one port per run: once per port, one after the other, in one timed
            # command. Its default blacklist holds 198.18.0.0/15, so it gets its own (empty, or
            # the link). W4: one port, -P 8: as many SYNs as 8 ports in one run (its rate).
            if w_excluded "$s"; then echo "$W_LINK" >"$WORK/zmap-blacklist"; else : >"$WORK/zmap-blacklist"; fi
            k=${W_K[$s]:-2}
            local zports=$ports
            if [ "$s" = w4 ]; then
                zports=${ports%%,*}
                k=$(( $(echo "$ports" | tr -cd , | wc -c) + 1 ))
            fi
            # shellcheck disable=SC2016,SC2054  # the inner script's own $1; ps=$1 is no array
            CMD=(bash -c 'ps=$1; shift; for p in ${ps//,/ }; do "$@" -p "$p" || exit; done' zmap-ports "$zports"
                zmap -i "$vs" -S "$W_SCAN" -G "$(w_mac "$s")" -b "$WORK/zmap-blacklist" -B "$ZMAP_BW"
                -c 1 -P "$k" -O csv -f saddr,sport -o - -q -v 2 --disable-syslog "$net")
            ZMAP_NOTE="zmap -P $k$([ -n "${W_K[$s]:-}" ] || [ "$s" = w4 ] || echo ' (no finished portscout-syn run yet: 2)')"
            PARSER=zmap ;;
        masscan)
            local mac
            mac=$(w_mac "$s")
            CMD=(env -C "$WORK" masscan "$net" -p "$ports" --rate "$MASSCAN_RATE" --wait 1
                --adapter "$vs" --adapter-ip "$W_SCAN" --router-mac "${mac//:/-}" "${excl[@]}"
                -oL "$OUTFILE.out.list")
            PARSER=masscan ;;
        nmap)
            CMD=(nmap -sT -n -Pn -p "$ports" "$net" "${excl[@]}" -oX "$OUTFILE.out.xml" -oG -)
            PARSER=nmap ;;
    esac
}

# tool_cmd SCEN TOOL: sets CMD (array) and PARSER.
tool_cmd() {
    local s=$1 tool=$2 lo hi addr tfile
    if is_w "$s"; then w_tool_cmd "$s" "$tool"; return 0; fi
    read -r lo hi <<<"$(scen_range "$s")"
    addr=$(scen_addr "$s")
    tfile=$(scen_targets_file "$s")
    local targets=("$addr")
    [ -n "$tfile" ] && targets=(-iL "$tfile")
    local six=()
    is_v6 "$s" && six=(-6)
    case "$tool" in
        portscout-*)
            local e=${tool#portscout-}
            # S7 keeps the timing line, which needs -v (and no -q) since issue 19; a binary
            # without -v printed it unless -q.
            local talk=(-q)
            if [ "$s" = s7 ]; then
                talk=()
                "$BIN" --help 2>/dev/null | grep -q -- '--verbose' && talk=(-v)
            fi
            CMD=("$BIN" "${targets[@]}" -p "$lo-$hi" --format ndjson --show "open,filtered" "${talk[@]}" "${NO_DNS[@]}")
            if [ "$e" = serial ]; then
                # The default engine in ascending order: what the permutation costs (issue 5).
                CMD+=(--order serial)
            elif [ "$e" = syn ]; then
                # The default engine with raw SYNs instead of connect() (issue 6).
                CMD+=(--scan syn)
            elif [ "$ENGINE_FLAG" = 1 ] || [ "$e" != auto ]; then
                CMD+=(--engine "$e")
            fi
            PARSER=portscout ;;
        nmap)
            CMD=(nmap "${six[@]}" -sT -n -Pn -p "$lo-$hi" "${targets[@]}" -oX "$OUTFILE.out.xml" -oG -)
            PARSER=nmap ;;
        nmap-syn)
            CMD=(nmap "${six[@]}" -sS -n -Pn -p "$lo-$hi" "${targets[@]}" -oX "$OUTFILE.out.xml" -oG -)
            PARSER=nmap ;;
        masscan)
            # Run from the work folder: an interrupted masscan writes paused.conf where it runs.
            masscan_args "$s"
            CMD=(env -C "$WORK" masscan "$addr" -p "$lo-$hi" --rate "$MASSCAN_RATE" --wait 1
                "${MASSCAN_ARGS[@]}" -oL "$OUTFILE.out.list")
            PARSER=masscan ;;
        rustscan)
            [ -n "$tfile" ] && addr=$tfile
            CMD=(rustscan -a "$addr" -r "$lo-$hi" -g -n --no-banner)
            # --ulimit raises the descriptor limit; S6 is about living within 256.
            [ "$s" = s6 ] || CMD+=(--ulimit 5000)
            PARSER=rustscan ;;
        floor)
            CMD=("$WORK/floor" "$addr" "$lo" "$hi")
            PARSER=floor ;;
        seed-*)
            CMD=("$PY" "$SEEDS/${tool#seed-}.py")
            PARSER=seed ;;
    esac
}

# ---------------------------------------------------------------- counters
# counters S: the scenario's drop counters as numbers on one line, "" when it has none.
#   s4, s4v6: SYNs dropped; s4h: SYNs dropped, RSTs dropped (nftables, in the target);
#   s7: scanner side sent, dropped; target side sent, dropped (packets, the tbf qdiscs).
counters() {
    case "$1" in
        s4) nft_count "$NS_4T" input ;;
        s4v6) nft_count "$NS_4V6T" input ;;
        w3) nft_count "$NS_W3T" input ;;
        s4h) echo "$(nft_count "$NS_4HT" input) $(nft_count "$NS_4HT" output)" ;;
        s7) echo "$(tc_count "$NS_7S" "$(veth 7s)") $(tc_count "$NS_7T" "$(veth 7t)")" ;;
    esac
}

# tc_settle: wait (at most 2 s) until both S7 qdiscs are empty, so that a run's counters
# include the packets it left queued and the next run starts on an idle link.
tc_settle() {
    local i
    for i in $(seq 40); do
        { tc -n "$NS_7S" -s qdisc show dev "$(veth 7s)" root
          tc -n "$NS_7T" -s qdisc show dev "$(veth 7t)" root; } 2>/dev/null \
            | grep -q 'backlog [0-9]*b [1-9]' || return 0
        sleep 0.05
    done
}

tc_dump() {   # both S7 qdiscs, with their counters
    echo "scanner side ($NS_7S $(veth 7s)):"
    tc -n "$NS_7S" -s qdisc show dev "$(veth 7s)" root 2>&1
    echo "target side ($NS_7T $(veth 7t)):"
    tc -n "$NS_7T" -s qdisc show dev "$(veth 7t)" root 2>&1
}

# count_note S BEFORE AFTER: the run's share of the counters. Sets COUNT_NOTE (for the CSV
# note: no commas) and COUNT_SHORT (the same numbers as "a/b", for summary.txt).
count_note() {
    local s=$1 i d=()
    local -a a b
    read -r -a a <<<"$2"
    read -r -a b <<<"$3"
    for i in "${!b[@]}"; do
        if [[ "${a[$i]:-}" =~ ^[0-9]+$ && "${b[$i]}" =~ ^[0-9]+$ ]]; then d+=($((b[i] - a[i]))); else d+=("?"); fi
    done
    case "$s" in
        s4|s4v6|w3) COUNT_SHORT="${d[0]:-?}"; COUNT_NOTE="nft: ${d[0]:-?} SYNs dropped" ;;
        s4h)
            COUNT_SHORT="${d[0]:-?}/${d[1]:-?}"
            COUNT_NOTE="nft: ${d[0]:-?} SYNs and ${d[1]:-?} RSTs dropped" ;;
        s7)
            COUNT_SHORT="${d[1]:-?}/${d[3]:-?}"
            COUNT_NOTE="tc: scanner side ${d[1]:-?} dropped (${d[0]:-?} sent) target side ${d[3]:-?} dropped (${d[2]:-?} sent)" ;;
    esac
}

SUMMARY=""   # summary.txt in the results folder, printed after the table
summary() { say "  $*"; echo "$*" >>"$SUMMARY"; }

# scenario_summary S: after the scenario's runs, its counters (in all, and per tool and run)
# and, in S7, portscout's own account of its timing.
scenario_summary() {
    local s=$1 line="" per="" f t r x
    local -a c
    read -r -a c <<<"$(counters "$s")"
    case "$s" in
        s4|s4v6|w3) line="${s^^} loss rule: dropped ${c[0]:-?} SYNs in all"
            per="${s^^} SYNs dropped per run:" ;;
        s4h) line="S4H loss rules: dropped ${c[0]:-?} SYNs (${S4H_SYN_LOSS}% rule) and ${c[1]:-?} RSTs (${S4H_RST_LOSS}% rule) in all"
            per="S4H SYNs/RSTs dropped per run:" ;;
        s7) line="S7 tbf ($S7_TBF) in all: scanner side ${c[1]:-?} dropped (${c[0]:-?} sent), target side ${c[3]:-?} dropped (${c[2]:-?} sent)"
            per="S7 tc drops per run (scanner side/target side):" ;;
    esac
    if [ -n "$line" ]; then
        summary "$line"
        echo "$line" >>"$OUTDIR/env.txt"
    fi
    if [ -n "$per" ] && [ -s "$WORK/counts-$s" ]; then
        summary "$per$(awk '!($1 in v) { k[++n] = $1 } { v[$1] = v[$1] " " $3 }
            END { for (i = 1; i <= n; i++) printf " %s%s%s", k[i], v[k[i]], (i < n ? ";" : "") }' "$WORK/counts-$s")"
    fi
    is_w "$s" && summary "${s^^}: $(w_net "$s") x ports $(w_ports "$s") ($(w_space "$s") probes without retries$(w_excluded "$s" && echo ", $W_LINK excluded"))"
    [ "$s" = s7 ] || is_w "$s" || return 0
    local any=0
    for f in "$OUTDIR/raw/$s"-portscout-*.err; do
        [ -e "$f" ] || continue
        x=${f##*/}; x=${x%.err}; r=${x##*-}; t=${x#"$s"-}; t=${t%-*}
        while IFS= read -r x; do
            summary "${s^^} $t run $r: $x"
            any=1
        done < <(grep -m3 '^portscout: timing:' "$f" || true)
    done
    [ "$any" = 1 ] || summary "${s^^}: no portscout run printed a 'portscout: timing:' line on stderr"
}

# ---------------------------------------------------------------- measuring
CSV=""
MASSCAN_LIMIT=30   # masscan's own time limit (at most --time-limit): it may hang, see the header
# masscan's keep-alive: one UDP datagram every 50 ms from the target to the scanner's discard
# port, so that masscan's receive thread, blocked until a packet comes in, sees its end.
KEEPALIVE_PY='
import socket, sys, time
a = sys.argv[1]
s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_DGRAM)
while True:
    try:
        s.sendto(b"keep-alive", (a, 9))
    except OSError:
        pass
    time.sleep(0.05)
'

# run_one SCEN ROUND TOOL -> appends a CSV row; sets LAST_STATUS, LAST_WALL, LAST_NOTE and
# LAST_FINAL (1: a failure that running again cannot change)
run_one() {
    local s=$1 round=$2 tool=$3 ns rc=0 t0 t1 wall status note="" limit=$LIMIT tgt
    LAST_FINAL=0
    is_w "$s" && limit=$W_LIMIT
    ZMAP_NOTE=""
    ns=$(scen_ns "$s")
    tgt=$(scen_target_ns "$s")
    OUTFILE="$OUTDIR/raw/$s-$tool-$round"
    local tf="$WORK/time" err="$OUTFILE.err"
    tool_cmd "$s" "$tool"
    local wrap=()
    # S6: a hard limit of 256 descriptors, and no CAP_SYS_RESOURCE, so even root cannot raise it.
    [ "$s" = s6 ] && wrap=(prlimit --nofile=256:256 setpriv --bounding-set -sys_resource --)
    [ "$round" = 1 ] && echo "$s $tool: ${wrap[*]} ${CMD[*]}" >>"$OUTDIR/commands.txt"
    rm -f "$tf" "$OUTFILE.out.xml" "$OUTFILE.out.list"
    if [ "$tool" = masscan ]; then
        [ "$LIMIT" -lt "$MASSCAN_LIMIT" ] || limit=$MASSCAN_LIMIT
        if [ -n "$tgt" ]; then
            local sa=198.18.0.1
            is_v6 "$s" && sa=$R6_SCAN
            is_w "$s" && sa=$W_SCAN
            ip netns exec "$tgt" "$PY" -c "$KEEPALIVE_PY" "$sa" &
            KA_PID=$!
        fi
    fi
    local c0 c1 tc0=""
    [ "$s" = s7 ] && { tc_settle; tc0=$(tc_dump); }
    c0=$(counters "$s")
    local p0="" p1="" sfile="$OUTFILE.rx"
    if is_w "$s"; then
        p0=$(w_probes "$s")
        case "$s" in
            w1|w4)
                # Started before the tool, so its first line is the count before any probe.
                ip netns exec "$tgt" "$PY" -c "$SAMPLER_PY" "$(veth "$(w_key "$s")t")" "$sfile" &
                SAMPLER_PID=$!
                local i
                for i in $(seq 100); do [ -s "$sfile" ] && break; sleep 0.02; done ;;
        esac
    fi
    t0=$(date +%s%N)
    ip netns exec "$ns" /usr/bin/time -f '%e %U %S %M' -o "$tf" \
        timeout -k 5 "$limit" "${wrap[@]}" "${CMD[@]}" >"$OUTFILE.out" 2>"$err" </dev/null &
    RUN_PID=$!
    wait "$RUN_PID" || rc=$?
    RUN_PID=""
    t1=$(date +%s%N)
    if [ -n "$KA_PID" ]; then
        kill "$KA_PID" 2>/dev/null || true
        wait "$KA_PID" 2>/dev/null || true
        KA_PID=""
    fi
    [ "$s" = s7 ] && tc_settle
    c1=$(counters "$s")
    local probes="" space="" send_s="" rate=""
    if is_w "$s"; then
        if [ -n "$SAMPLER_PID" ]; then
            sleep 0.05   # the sampler's last look
            kill "$SAMPLER_PID" 2>/dev/null || true
            wait "$SAMPLER_PID" 2>/dev/null || true
            SAMPLER_PID=""
            local sp
            sp=$(sampled "$sfile")
            if [ -n "$sp" ]; then read -r _ send_s rate <<<"$sp"; fi
        fi
        p1=$(w_probes "$s")
        [[ "$p0" =~ ^[0-9]+$ && "$p1" =~ ^[0-9]+$ ]] && probes=$((p1 - p0))
        space=$(w_space "$s")
    fi
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    local user=0 sys=0 rss=0 line
    line=$(tail -n1 "$tf" 2>/dev/null || true)
    # shellcheck disable=SC2086
    if [[ "$line" =~ ^[0-9.]+\ [0-9.]+\ [0-9.]+\ [0-9]+$ ]]; then set -- $line; user=$2; sys=$3; rss=$4; fi
    if [ "$rc" = 0 ]; then
        status=ok
    elif [ "$rc" = 124 ] || { [ "$rc" = 137 ] && awk -v w="$wall" -v l="$limit" 'BEGIN { exit !(w >= l) }'; }; then
        status=timeout; note="killed at the ${limit} s limit"
        [ "$tool" = masscan ] && note="$note (masscan's; what it found is lost)"
    else
        status=failed
        # The first line that names an error (masscan: FAIL), else the last line: never a
        # comma (CSV).
        note=$( { grep -m1 '^\[-\] FAIL' "$err" || grep -i -m1 'error' "$err" \
                  || grep -v '^[[:space:]]*$' "$err" | tail -n1; } 2>/dev/null \
            | tr -d ',\r' | tr '\t' ' ' | cut -c1-120 || true)
        [ -n "$note" ] || note="exit $rc"
        if [ "$tool" = masscan ] && [ -z "$tgt" ]; then
            note="masscan cannot scan loopback (lo's MAC is 00:00:00:00:00:00; see bench/run.sh): $note"
            LAST_FINAL=1
        fi
    fi
    if [ -n "$c0" ]; then
        count_note "$s" "$c0" "$c1"
        echo "$tool $round $COUNT_SHORT" >>"$WORK/counts-$s"
        note="${note:+$note; }$COUNT_NOTE"
    fi
    if [ "$s" = s7 ]; then
        { echo "# before the run"; echo "$tc0"; echo "# after the run"; tc_dump; echo "# $COUNT_NOTE"; } >"$OUTFILE.tc"
    fi
    local acc
    acc=$("$PY" "$REPO/bench/score.py" "$PARSER" "$OUTFILE.out" "$(S_TRUTH "$s")" | tr '\t' ',')
    if is_w "$s"; then
        [ -n "$ZMAP_NOTE" ] && note="${note:+$note; }$ZMAP_NOTE"
        [ -n "$rate" ] && note="${note:+$note; }$rate SYNs/s into the target over ${send_s} s"
        # zmap's K: the probes per address and port of this scenario's last finished SYN scan.
        if [ "$tool" = portscout-syn ] && [ "$status" = ok ] && [ -n "$probes" ]; then
            W_K[$s]=$(awk -v p="$probes" -v n="$space" 'BEGIN { k = int(p / n + 0.5); print (k < 1 ? 1 : k) }')
            note="${note:+$note; }$(awk -v p="$probes" -v n="$space" 'BEGIN { printf "%.2f", p / n }') probes per address and port: zmap gets -P ${W_K[$s]}"
        fi
    fi
    echo "${s^^},$round,$tool,$status,$rc,$wall,$user,$sys,$rss,$acc,$probes,$space,$send_s,$note" >>"$CSV"
    IFS=, read -r oe _ om oi fr _ _ fm fi_ <<<"$acc"
    local facc=""
    [ "$fr" = 1 ] && facc=" filtered missed/invented $fm/$fi_"
    local wp=""
    [ -n "$probes" ] && wp="; $probes SYNs into the target"
    say "  ${s^^} $tool: $status ${wall}s cpu $(awk -v u="$user" -v s="$sys" 'BEGIN{print u+s}')s rss ${rss}KB; open missed/invented $om/$oi of $oe$facc$wp${note:+ ($note)}"
    LAST_STATUS=$status
    LAST_WALL=$wall
    LAST_NOTE=$note
}

# ---------------------------------------------------------------- main
for s in $SCENARIOS; do
    say "setting up ${s^^}..."
    setup_scenario "$s"
done
if [ "$SETUP_ONLY" = 1 ]; then
    say "setup ok; namespaces: $(ip netns list | awk '{print $1}' | grep "^pst-b${ID}-" | tr '\n' ' ')"
    exit 0
fi

[ -n "$OUT" ] || OUT="$REPO/bench/results/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT/raw"
OUTDIR=$(cd "$OUT" && pwd)   # absolute: masscan runs in the work folder
CSV="$OUTDIR/results.csv"
SUMMARY="$OUTDIR/summary.txt"
: >"$SUMMARY"
echo "scenario,round,tool,status,exit_code,wall_s,user_s,sys_s,max_rss_kb,open_expected,open_found,open_missed,open_invented,filtered_reported,filtered_expected,filtered_found,filtered_missed,filtered_invented,probes,space,send_s,note" >"$CSV"
: >"$OUTDIR/commands.txt"
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "kernel: $(uname -sr); cores: $(nproc); memory: $(free -m | awk '/^Mem:/ {print $2}') MiB"
    echo "portscout: $("$BIN" --version 2>&1 | head -n1) ($(git -C "$REPO" describe --always --dirty 2>/dev/null || echo '?'))"
    echo "engines: $ENGINES (--engine flag: $([ "$ENGINE_FLAG" = 1 ] && echo yes || echo no))"
    command -v nmap >/dev/null && echo "nmap: $(nmap --version | head -n1)"
    if has masscan "$PEERS"; then
        echo "masscan: $(masscan --version 2>&1 | grep -m1 -i 'masscan version'); --rate $MASSCAN_RATE --wait 1, time limit $([ "$LIMIT" -lt "$MASSCAN_LIMIT" ] && echo "$LIMIT" || echo "$MASSCAN_LIMIT") s, keep-alive datagrams every 50 ms on a veth"
    fi
    command -v rustscan >/dev/null && echo "rustscan: $(rustscan --version 2>&1 | head -n1)"
    has floor "$PEERS" && echo "floor: $(gcc --version | head -n1), -O2"
    echo "python: $("$PY" --version 2>&1) ($PY)"
    echo "descriptor limit: $(ulimit -n) (S6: 256)"
    echo "scenarios: $SCENARIOS; runs: $(for s in $SCENARIOS; do printf '%s=%s ' "$s" "${RUNS[$s]}"; done)"
    echo "time limit: $LIMIT s per run; slow: $SLOW s; peers: $PEERS"
    if has s4h "$SCENARIOS"; then
        echo "S4H: ${S4H_SYN_LOSS}% of connection-opening SYNs dropped on input, ${S4H_RST_LOSS}% of RSTs on output (nftables, in the target)"
    fi
    if has s7 "$SCENARIOS"; then echo "S7: tc tbf $S7_TBF on both veth ends; ports $S7_LO-$S7_HI"; fi
    case " $SCENARIOS" in
        *" w"*)
            echo "W: scanner $W_SCAN, target $W_GW (veth), 198.18.0.0/15 routed into the target, which drops what is not its own; --w-bits $W_BITS; time limit $W_LIMIT s; portscout: $W_ENGINES; W3: $W3_LOSS% of SYNs dropped"
            has zmap "$PEERS" && echo "zmap: $(zmap --version 2>&1 | head -n1); -B $ZMAP_BW -c 1, its own blacklist file" ;;
    esac
} >"$OUTDIR/env.txt"
sed 's/^/  /' "$OUTDIR/env.txt" >&2

START=$(date +%s)
for s in $SCENARIOS; do
    read -r -a tools <<<"$(scen_tools "$s")"
    n=${#tools[@]}
    declare -A done_with=()
    say "${s^^}: ${RUNS[$s]} round(s) of: ${tools[*]}"
    for round in $(seq "${RUNS[$s]}"); do
        for k in $(seq 0 $((n - 1))); do
            tool=${tools[$(((k + round - 1) % n))]}   # the order rotates every round
            [ -n "${done_with[$tool]:-}" ] && continue
            run_one "$s" "$round" "$tool"
            if [ "$LAST_FINAL" = 1 ]; then
                summary "${s^^} $tool: failed, not run again there: $LAST_NOTE"
                done_with[$tool]=1
                continue
            fi
            if [ "$LAST_STATUS" = timeout ] || awk -v w="$LAST_WALL" -v l="$SLOW" 'BEGIN { exit !(w > l) }'; then
                [ "$round" -lt "${RUNS[$s]}" ] && say "  note: $tool took ${LAST_WALL}s in ${s^^}; not run again there (--slow $SLOW)"
                done_with[$tool]=1
            fi
        done
    done
    scenario_summary "$s"
    unset done_with
done
say "measured in $(( $(date +%s) - START )) s"
# Issue 18's memory figure: portscout's peak RSS in W2 at /(B+1), /B and /(B-1), finished runs.
if has w2-17 "$SCENARIOS" || has w2-15 "$SCENARIOS"; then
    for e in $W_ENGINES; do
        line=$(awk -F, -v t="portscout-$e" -v a="W2-17" -v b="W2" -v c="W2-15" \
            -v na="/$(w_bits w2-17)" -v nb="/$(w_bits w2)" -v nc="/$(w_bits w2-15)" '
            NR > 1 && $3 == t && $4 == "ok" && ($1 == a || $1 == b || $1 == c) && $9 > m[$1] { m[$1] = $9 }
            END {
                out = ""
                if (a in m) out = out sprintf("%s %.1f MiB", na, m[a] / 1024)
                if (b in m) out = out (out == "" ? "" : ", ") sprintf("%s %.1f MiB", nb, m[b] / 1024)
                if (c in m) out = out (out == "" ? "" : ", ") sprintf("%s %.1f MiB", nc, m[c] / 1024)
                if ((a in m) && (c in m)) out = out sprintf(" (%s is %+.0f%% against %s)", nc, 100 * (m[c] / m[a] - 1), na)
                print out
            }' "$CSV")
        [ -n "$line" ] && summary "W2 peak RSS of portscout-$e (finished runs): $line"
    done
fi

"$REPORT" "$CSV" "$OUTDIR" >"$WORK/table"
if [ -n "${SUDO_UID:-}" ]; then chown -R "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" "$OUTDIR" 2>/dev/null || true; fi
echo
cat "$WORK/table"
if [ -s "$SUMMARY" ]; then
    echo
    cat "$SUMMARY"
fi
echo
echo "results: $OUTDIR (results.csv, table.md, chart.svg, env.txt, summary.txt, commands.txt, raw/)"
