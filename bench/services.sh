#!/usr/bin/env bash
# Service and version detection against real daemons (issue 20's V1-V3), portscout -sV beside
# nmap -sV in the same run.
#
#   sudo bash bench/services.sh                  # V1/V2 (3 runs each) and V3 (1 run)
#   sudo bash bench/services.sh --scenario v1 -n 1
#
# It needs root. It builds two network namespaces joined by a veth pair: a scanner
# (198.18.0.1) and a target (198.18.0.2) where real services run, installed from Debian when
# missing (openssh-server, nginx-light, vsftpd, exim4-daemon-light, dovecot-imapd and -pop3d,
# redis-server, memcached, mariadb-server, postgresql, mosquitto, dnsmasq-base; no service is
# started outside the target namespace), plus Python's http.server on 28080 and a port that
# accepts and says nothing (31337). Every daemon listens on all of the target's addresses, and
# the target makes 198.18.1.0/24 its own (ip route add local ... dev lo), so V3's 256 hosts are
# all served by the same daemons. Everything is removed on exit, also on failure or Ctrl-C.
#
# Scenarios:
#   v1  the daemons' ports on 198.18.0.2: nmap -sV, portscout -sV with its built-in probes, and
#       portscout -sV with nmap's database (--service-db); each port's service name, product and
#       version compared with nmap's (V1), and the wall times (V2: portscout <= 0.3x nmap)
#   v3  198.18.1.0/24, top 100 ports, -sV: wall time against nmap's, and exactness (the same
#       open ports on every host, the same service names as on v1)
#
# Options:
#   -n RUNS          runs per tool in v1 (default 3; v3 runs once)
#   --scenario LIST  v1,v3 (default both)
#   --time-limit SEC per-run limit (default 900)
#   --bin PATH       the portscout binary (default: cargo build --release, target/release)
#   --scan TYPE      portscout's scan type: syn (default: what nmap -sV does as root, and so
#                    the like-for-like comparison) or connect (portscout's own default)
#   --no-install     do not install missing daemons or nmap: skip what is missing
#   --out DIR        results folder (default bench/results/services-<UTC time>)
#   --setup-only     start the daemons, check that each port accepts, tear down
#   --hold           start the daemons, print the namespaces' names, keep them until signalled
#                    (to scan them by hand: ip netns exec <scanner> portscout ...)
#   --nmap-from DIR  do not run nmap: score against nmap's XML and time in DIR (an earlier
#                    --out of this script, same daemons and ports); the tables say so
#   -h, --help       this text
set -euo pipefail
export PORTSCOUT_CONFIG=

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

RUNS=3
SCENARIOS="v1 v3"
LIMIT=900
BIN=""
INSTALL=1
OUT=""
SETUP_ONLY=0
HOLD=0
NMAP_FROM=""
SCAN=syn
while [ $# -gt 0 ]; do
    case "$1" in
        -n) case "${2:-}" in ''|*[!0-9]*|0) echo "-n needs a positive whole number" >&2; exit 2 ;; esac
            RUNS=$2; shift 2 ;;
        --scenario|--scenarios)
            SCENARIOS=""
            for s in ${2//,/ }; do
                case "${s,,}" in v1|v2) SCENARIOS="$SCENARIOS v1" ;; v3) SCENARIOS="$SCENARIOS v3" ;;
                    *) echo "--scenario: unknown scenario '$s'" >&2; exit 2 ;; esac
            done
            shift 2 ;;
        --time-limit) LIMIT="$2"; shift 2 ;;
        --bin) BIN="$2"; shift 2 ;;
        --scan) case "$2" in syn|connect) SCAN=$2 ;; *) echo "--scan: syn or connect" >&2; exit 2 ;; esac
            shift 2 ;;
        --no-install) INSTALL=0; shift ;;
        --out) OUT="$2"; shift 2 ;;
        --setup-only) SETUP_ONLY=1; shift ;;
        --hold) SETUP_ONLY=1; HOLD=1; shift ;;
        --nmap-from) NMAP_FROM="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done
if [ "$(id -u)" != 0 ]; then
    echo "bench/services.sh needs root (network namespaces): sudo bash bench/services.sh" >&2
    exit 1
fi
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$(pwd)
for d in "${CARGO_HOME:-$HOME/.cargo}/bin" /root/.cargo/bin; do
    case ":$PATH:" in *":$d:"*) ;; *) [ -d "$d" ] && PATH="$PATH:$d" ;; esac
done
export PATH
say() { echo "$*" >&2; }

# ---------------------------------------------------------------- tools and daemons
declare -A PKG=([sshd]=openssh-server [nginx]=nginx-light [vsftpd]=vsftpd [exim4]=exim4-daemon-light
    [dovecot]="dovecot-imapd dovecot-pop3d" [redis-server]=redis-server [memcached]=memcached
    [mariadbd]=mariadb-server [postgres]=postgresql [mosquitto]=mosquitto [dnsmasq]=dnsmasq-base
    [nmap]=nmap [xmllint]=libxml2-utils [openssl]=openssl)
find_bin() {
    local b=$1 d
    command -v "$b" 2>/dev/null && return 0
    for d in /usr/sbin /usr/lib/postgresql/*/bin; do [ -x "$d/$b" ] && { echo "$d/$b"; return 0; }; done
    return 1
}
missing=()
for b in "${!PKG[@]}"; do find_bin "$b" >/dev/null || missing+=("${PKG[$b]}"); done
if [ "${#missing[@]}" -gt 0 ] && [ "$INSTALL" = 1 ]; then
    say "installing: ${missing[*]}"
    # A policy that forbids starting services: the packages' daemons must not start outside
    # the target namespace.
    policy=/usr/sbin/policy-rc.d; had_policy=0
    [ -e "$policy" ] && had_policy=1
    [ "$had_policy" = 1 ] || printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    # shellcheck disable=SC2068  # one package a word
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${missing[@]} </dev/null >/dev/null ||
        say "apt-get install failed: the daemons that are missing are skipped"
    [ "$had_policy" = 1 ] || rm -f "$policy"
fi
command -v nmap >/dev/null || { say "nmap is missing: nothing to compare with"; exit 1; }
NMAP_DB=""
for f in /usr/share/nmap/nmap-service-probes /usr/local/share/nmap/nmap-service-probes; do
    [ -r "$f" ] && { NMAP_DB=$f; break; }
done
if [ -z "$BIN" ] && [ "$SETUP_ONLY" = 0 ]; then
    say "building portscout (release)"
    cargo build --release -q -p portscout-cli
    BIN="$REPO/target/release/portscout"
fi
[ "$SETUP_ONLY" = 1 ] || [ -x "$BIN" ] || { say "no portscout binary at $BIN"; exit 1; }

[ -n "$OUT" ] || OUT="$REPO/bench/results/services-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT/raw"
OUT=$(cd "$OUT" && pwd)

# ---------------------------------------------------------------- namespaces and cleanup
ID=$$
NS_S="psv${ID}-s"; NS_T="psv${ID}-t"
VS="psv${ID}s"; VT="psv${ID}t"
WORK=$(mktemp -d /tmp/psv-bench.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
    local rc=$? ns pids
    trap - EXIT
    trap '' INT TERM
    [ -z "${HOLD_PID:-}" ] || kill "$HOLD_PID" 2>/dev/null || true
    for ns in "$NS_S" "$NS_T"; do
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        # shellcheck disable=SC2086
        [ -z "$pids" ] || kill -TERM $pids 2>/dev/null || true
    done
    sleep 0.5
    for ns in "$NS_S" "$NS_T"; do
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        # shellcheck disable=SC2086
        [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
    done
    for p in "${PIDS[@]:-}"; do [ -z "$p" ] || wait "$p" 2>/dev/null || true; done
    ip netns del "$NS_S" 2>/dev/null || true
    ip netns del "$NS_T" 2>/dev/null || true
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ip netns add "$NS_S"
ip netns add "$NS_T"
ip link add "$VS" type veth peer name "$VT"
ip link set "$VS" netns "$NS_S"
ip link set "$VT" netns "$NS_T"
ip -n "$NS_S" addr add 198.18.0.1/24 dev "$VS"
ip -n "$NS_T" addr add 198.18.0.2/24 dev "$VT"
for ns in "$NS_S" "$NS_T"; do ip -n "$ns" link set lo up; done
ip -n "$NS_S" link set "$VS" up
ip -n "$NS_T" link set "$VT" up
ip -n "$NS_S" route add 198.18.1.0/24 via 198.18.0.2
ip -n "$NS_T" route add local 198.18.1.0/24 dev lo
T() { ip netns exec "$NS_T" "$@"; }
S() { ip netns exec "$NS_S" "$@"; }

# ---------------------------------------------------------------- the daemons
# Each starter runs its daemon in the foreground inside the target namespace, with its own
# configuration and data under $WORK, and records the port it serves.
PORTS=()
bg() { T "$@" >>"$WORK/daemons.log" 2>&1 & PIDS+=($!); }
have() { find_bin "$1" >/dev/null; }

start_sshd() {
    have sshd || return 1
    mkdir -p "$WORK/ssh" /run/sshd
    ssh-keygen -q -t ed25519 -N '' -f "$WORK/ssh/host_ed25519"
    printf 'Port 22\nListenAddress 0.0.0.0\nHostKey %s\nPidFile none\nUsePAM no\n' \
        "$WORK/ssh/host_ed25519" >"$WORK/ssh/sshd_config"
    bg "$(find_bin sshd)" -D -e -f "$WORK/ssh/sshd_config"
    PORTS+=(22)
}
start_nginx() {
    have nginx || return 1
    mkdir -p "$WORK/nginx/www"
    echo hello >"$WORK/nginx/www/index.html"
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=bench.portscout.test" \
        -keyout "$WORK/nginx/key.pem" -out "$WORK/nginx/cert.pem" 2>/dev/null
    cat >"$WORK/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx;
    server { listen 80; root $WORK/nginx/www; }
    server { listen 443 ssl; root $WORK/nginx/www;
             ssl_certificate $WORK/nginx/cert.pem; ssl_certificate_key $WORK/nginx/key.pem; }
}
EOF
    bg "$(find_bin nginx)" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log"
    PORTS+=(80 443)
}
start_vsftpd() {
    have vsftpd || return 1
    mkdir -p /var/run/vsftpd/empty
    printf 'listen=YES\nlisten_ipv6=NO\nbackground=NO\nanonymous_enable=NO\nlocal_enable=NO\nmax_per_ip=0\nmax_clients=0\nsecure_chroot_dir=/var/run/vsftpd/empty\n' \
        >"$WORK/vsftpd.conf"
    bg "$(find_bin vsftpd)" "$WORK/vsftpd.conf"
    PORTS+=(21)
}
start_exim() {
    have exim4 || return 1
    # Debian's configuration, listening on every address of the namespace (-oX), in the
    # foreground (-bdf).
    bg "$(find_bin exim4)" -bdf -oX '<; 0.0.0.0.25'
    PORTS+=(25)
}
start_dovecot() {
    have dovecot || return 1
    mkdir -p "$WORK/dovecot/run"
    cat >"$WORK/dovecot/dovecot.conf" <<EOF
protocols = imap pop3
listen = *
base_dir = $WORK/dovecot/run
ssl = no
log_path = $WORK/dovecot/log
default_login_user = dovenull
default_internal_user = dovecot
passdb {
  driver = static
  args = nopassword=y
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}
EOF
    bg "$(find_bin dovecot)" -F -c "$WORK/dovecot/dovecot.conf"
    PORTS+=(110 143)
}
start_redis() {
    have redis-server || return 1
    bg "$(find_bin redis-server)" --port 6379 --bind 0.0.0.0 --protected-mode no --save '' \
        --appendonly no --daemonize no --dir "$WORK" --maxclients 10000
    PORTS+=(6379)
}
start_memcached() {
    have memcached || return 1
    bg "$(find_bin memcached)" -u nobody -p 11211 -U 0 -l 0.0.0.0 -c 8192
    PORTS+=(11211)
}
start_mariadb() {
    have mariadbd || return 1
    local dir=$WORK/mariadb
    mkdir -p "$dir"
    chown mysql: "$dir"
    T mariadb-install-db --user=mysql --datadir="$dir/data" --auth-root-authentication-method=normal \
        >>"$WORK/daemons.log" 2>&1 || return 1
    bg "$(find_bin mariadbd)" --no-defaults --user=mysql --datadir="$dir/data" \
        --socket="$dir/sock" --pid-file="$dir/pid" --bind-address=0.0.0.0 --port=3306 \
        --skip-name-resolve --max-connections=2000
    PORTS+=(3306)
}
start_postgres() {
    have postgres || return 1
    local dir=$WORK/pg
    mkdir -p "$dir"
    chown postgres: "$dir"
    T runuser -u postgres -- "$(find_bin initdb)" -D "$dir/data" >>"$WORK/daemons.log" 2>&1 || return 1
    bg runuser -u postgres -- "$(find_bin postgres)" -D "$dir/data" -c listen_addresses='*' \
        -c unix_socket_directories="$dir" -c max_connections=500
    PORTS+=(5432)
}
start_mosquitto() {
    have mosquitto || return 1
    printf 'listener 1883 0.0.0.0\nallow_anonymous true\nmax_connections -1\n' >"$WORK/mosquitto.conf"
    bg "$(find_bin mosquitto)" -c "$WORK/mosquitto.conf"
    PORTS+=(1883)
}
start_dnsmasq() {
    have dnsmasq || return 1
    local port
    # DNS on its port, and on an unusual one (what only the probe, not the port, can tell).
    for port in 53 10053; do
        bg "$(find_bin dnsmasq)" -k --port="$port" --no-resolv --no-hosts --bind-dynamic \
            --user=nobody --pid-file= --address=/bench.portscout.test/198.18.0.2
        PORTS+=("$port")
    done
}
start_python() {
    bg python3 -m http.server 28080 --bind 0.0.0.0 --directory "$WORK"
    PORTS+=(28080)
    # A port that accepts and says nothing.
    bg python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 31337)); s.listen(4096)
held = []
while True:
    c, _ = s.accept(); held.append(c)'
    PORTS+=(31337)
}

SKIPPED=()
for d in sshd nginx vsftpd exim dovecot redis memcached mariadb postgres mosquitto dnsmasq python; do
    start_"$d" || SKIPPED+=("$d")
done
[ "${#SKIPPED[@]}" = 0 ] || say "skipped (not installed or failed to set up): ${SKIPPED[*]}"

# Wait until every port accepts on 198.18.0.2 (from the scanner side), 60 s at most.
wait_ports() {
    local deadline=$((SECONDS + 60)) p pending
    while :; do
        pending=()
        for p in "${PORTS[@]}"; do
            S bash -c "exec 3<>/dev/tcp/198.18.0.2/$p" 2>/dev/null || pending+=("$p")
        done
        [ "${#pending[@]}" = 0 ] && return 0
        if [ $SECONDS -ge $deadline ]; then
            say "these ports never accepted: ${pending[*]} (see below); they are left out"
            tail -20 "$WORK/daemons.log" >&2 || true
            local keep=() q
            for q in "${PORTS[@]}"; do case " ${pending[*]} " in *" $q "*) ;; *) keep+=("$q") ;; esac; done
            PORTS=("${keep[@]}")
            return 0
        fi
        sleep 0.2
    done
}
wait_ports
PORTLIST=$(IFS=,; echo "${PORTS[*]}")
say "services on 198.18.0.2: $PORTLIST"
if [ "$HOLD" = 1 ]; then
    say "holding: scanner namespace $NS_S (198.18.0.1), target $NS_T (198.18.0.2, 198.18.1.0/24); logs in $WORK; Ctrl-C or SIGTERM to tear down"
    sleep infinity & HOLD_PID=$!
    wait "$HOLD_PID" || true
fi
[ "$SETUP_ONLY" = 0 ] || exit 0

{
    echo "date: $(date -u +%FT%TZ)"
    echo "commit: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "cores: $(nproc)"; echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "nmap: $(nmap --version | head -1)"
    echo "portscout: $("$BIN" --version 2>/dev/null || echo '?'), --scan $SCAN"
    echo "nmap database: ${NMAP_DB:-none}"
    echo "ports: $PORTLIST"
    echo "skipped: ${SKIPPED[*]:-none}"
    [ -z "$NMAP_FROM" ] || echo "nmap: not run; its XML and time are from $NMAP_FROM ($(grep '^date' "$NMAP_FROM/env.txt" 2>/dev/null))"
} >"$OUT/env.txt"

echo "scenario,tool,run,wall_s,exit" >"$OUT/results.csv"
timed() {
    # timed SCENARIO TOOL RUN XML -- command...
    local sc=$1 tool=$2 run=$3 xml=$4 t0 t1 rc=0
    shift 5
    t0=$(date +%s.%N)
    S timeout "$LIMIT" "$@" >"$OUT/raw/$sc-$tool-$run.out" 2>"$OUT/raw/$sc-$tool-$run.err" || rc=$?
    t1=$(date +%s.%N)
    echo "$sc,$tool,$run,$(echo "$t1 - $t0" | bc),$rc" >>"$OUT/results.csv"
    say "$sc $tool run $run: $(echo "$t1 - $t0" | bc) s (exit $rc)"
    [ -s "$xml" ] || say "  no XML from $tool"
}

run_tools() {
    # run_tools SCENARIO RUN TARGET PORTSPEC...
    local sc=$1 run=$2 target=$3
    shift 3
    if [ -n "$NMAP_FROM" ]; then
        # nmap's result and time from an earlier run (its first), marked as such in env.txt.
        if [ "$run" = 1 ]; then
            cp "$NMAP_FROM/raw/$sc-nmap-1.xml" "$OUT/raw/$sc-nmap-1.xml"
            grep "^$sc,nmap,1," "$NMAP_FROM/results.csv" >>"$OUT/results.csv"
        fi
    else
        timed "$sc" nmap "$run" "$OUT/raw/$sc-nmap-$run.xml" -- \
            nmap -sV -Pn -n "$@" -oX "$OUT/raw/$sc-nmap-$run.xml" "$target"
    fi
    timed "$sc" portscout-builtin "$run" "$OUT/raw/$sc-portscout-builtin-$run.xml" -- \
        "$BIN" --scan "$SCAN" -sV -n --service-db none "$@" -oX "$OUT/raw/$sc-portscout-builtin-$run.xml" "$target"
    if [ -n "$NMAP_DB" ]; then
        timed "$sc" portscout-nmapdb "$run" "$OUT/raw/$sc-portscout-nmapdb-$run.xml" -- \
            "$BIN" --scan "$SCAN" -sV -n --service-db "$NMAP_DB" "$@" -oX "$OUT/raw/$sc-portscout-nmapdb-$run.xml" "$target"
    fi
}

for sc in $SCENARIOS; do
    case $sc in
        v1) for r in $(seq 1 "$RUNS"); do run_tools v1 "$r" 198.18.0.2 -p "$PORTLIST"; done ;;
        v3) run_tools v3 1 198.18.1.0/24 --top-ports 100 ;;
    esac
done

python3 "$REPO/bench/services_score.py" "$OUT" | tee "$OUT/table.md"
say "results: $OUT"
