#!/usr/bin/env bash
# Peak RSS of sparse wide scans (issue 18): a /17, /16 and /15 of 198.18.0.0/15 where 1 address
# in 64 answers (port 22 open, 80 and 443 closed), SYN and connect, measured with
# /usr/bin/time -v. Everything lives in two namespaces this script creates (scanner <-> veth <->
# target) and removes when it ends, also on failure. Needs root.
#
#   bench/rss.sh [path/to/portscout]     (default: target/release/portscout)
#
# RSS_NAME (default i18b, at most 10 characters) names the namespaces and veth ends, so that two
# runs at once (two branches) do not collide.
#
# The target namespace makes 1 address in 64 local (`ip route add local A/32 dev lo`, a
# scattered offset in each block of 64) and accepts on port 22; every other address is silent
# (forwarding is off there, so nothing answers for it).
set -euo pipefail

bin=${1:-target/release/portscout}
bin=$(realpath "$bin")
name=${RSS_NAME:-i18b}
scan_ns=$name-rss-scan
target_ns=$name-rss-tgt
veth_scan=$name-rs
veth_target=$name-rt
work=$(mktemp -d)

cleanup() {
    [[ -n ${listener:-} ]] && kill "$listener" 2>/dev/null || true
    ip netns del "$scan_ns" 2>/dev/null || true
    ip netns del "$target_ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

[[ $(id -u) == 0 ]] || { echo "rss.sh: needs root" >&2; exit 1; }
ip netns add "$scan_ns"
ip netns add "$target_ns"
ip link add "$veth_scan" type veth peer name "$veth_target"
ip link set "$veth_scan" netns "$scan_ns"
ip link set "$veth_target" netns "$target_ns"
ip -n "$scan_ns" addr add 198.19.255.253/30 dev "$veth_scan"
ip -n "$target_ns" addr add 198.19.255.254/30 dev "$veth_target"
for ns in "$scan_ns" "$target_ns"; do ip -n "$ns" link set lo up; done
ip -n "$scan_ns" link set "$veth_scan" up
ip -n "$target_ns" link set "$veth_target" up
ip -n "$scan_ns" route add 198.18.0.0/15 via 198.19.255.254

# 1 in 64 of 198.18.0.0/15 local in the target (2,048 addresses), scattered in each block.
python3 - "$work/routes" <<'EOF'
import ipaddress, sys
base = int(ipaddress.IPv4Address("198.18.0.0"))
with open(sys.argv[1], "w") as f:
    for i in range(2048):
        offset = ((i * 2654435761) & 0xffffffff) >> 8
        print(f"route add local {ipaddress.IPv4Address(base + i * 64 + offset % 64)}/32 dev lo", file=f)
EOF
ip -n "$target_ns" -batch "$work/routes"

# An accept()ing listener on port 22 for every local address.
ip netns exec "$target_ns" python3 -c '
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 22))
s.listen(4096)
print("listening", flush=True)
while True:
    c, _ = s.accept()
    c.close()
' > "$work/listener.log" 2>&1 &
listener=$!
for _ in $(seq 100); do grep -q listening "$work/listener.log" && break; sleep 0.1; done

printf '%-8s %-5s %8s %9s %7s %s\n' scan space "RSS(KB)" "wall(s)" open "timing line"
for scan in syn connect; do
    for prefix in 17 16 15; do
        ip netns exec "$scan_ns" /usr/bin/time -v "$bin" --scan "$scan" -p 22,80,443 -v \
            --exclude 198.19.255.252/30 "198.18.0.0/$prefix" > "$work/out" 2> "$work/err" || true
        rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$work/err")
        wall=$(awk '/Elapsed \(wall clock\)/ {print $NF}' "$work/err")
        open=$(grep -c '22/tcp *open\|open' "$work/out" || true)
        timing=$(grep -o 'timing:.*' "$work/err" | head -1)
        printf '%-8s /%-4s %8s %9s %7s %s\n' "$scan" "$prefix" "$rss" "$wall" "$open" "$timing"
    done
done
