#!/usr/bin/env bash
# Proof of stability (issue 17; not CI): the project's test command, `cargo test --workspace`,
# N times in a row while a CPU hog (`stress-ng --cpu 2`, from Debian) runs beside it. Logs
# each run's result, time, failing tests and skip count; prints a summary at the end.
#
#   sudo bench/stability.sh              # 10 runs under stress-ng --cpu 2
#   sudo bench/stability.sh -n 2         # 2 runs
#   bench/stability.sh --hog-cpus 0      # no hog (e.g. to compare)
#
# As root every test runs (namespace tests need it) and stress-ng is installed when missing
# (apt-get install stress-ng); without root the namespace tests skip, and each run's skip
# count says so. The tests are built once first, so the runs time the tests, not the build.
# Logs go to bench/results/stability-<UTC time>/: run-<i>.log (cargo's whole output) and
# summary.txt. Exit status: 0 when every run passed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

runs=10
hog_cpus=2
while [ $# -gt 0 ]; do
    case "$1" in
        -n) runs="$2"; shift 2 ;;
        --hog-cpus) hog_cpus="$2"; shift 2 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "stability: unknown argument $1" >&2; exit 2 ;;
    esac
done
case "$runs" in ''|*[!0-9]*|0) echo "stability: -n wants a positive count" >&2; exit 2 ;; esac
case "$hog_cpus" in ''|*[!0-9]*) echo "stability: --hog-cpus wants a count" >&2; exit 2 ;; esac

if [ "$hog_cpus" -gt 0 ] && ! command -v stress-ng >/dev/null; then
    if [ "$(id -u)" != 0 ]; then
        echo "stability: stress-ng is missing (apt-get install stress-ng, as root)" >&2
        exit 2
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq stress-ng </dev/null >/dev/null
fi

out="bench/results/stability-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
summary="$out/summary.txt"
log() { echo "$*" | tee -a "$summary"; }

echo "== building the tests"
cargo test --workspace --no-run >"$out/build.log" 2>&1 || {
    echo "stability: the tests do not build (see $out/build.log)" >&2
    exit 1
}

hog=""
stop_hog() {
    if [ -n "$hog" ]; then
        kill "$hog" 2>/dev/null || true
        wait "$hog" 2>/dev/null || true
        hog=""
    fi
}
trap stop_hog EXIT
if [ "$hog_cpus" -gt 0 ]; then
    stress-ng --cpu "$hog_cpus" --quiet &
    hog=$!
fi

log "stability: $runs runs of cargo test --workspace, $(nproc) cores, hog: stress-ng --cpu $hog_cpus" \
    "($(git rev-parse --short HEAD), $(date -u +%FT%TZ), uid $(id -u))"
passed=0
declare -A failures=()
for i in $(seq 1 "$runs"); do
    .ci/skips --clear
    start=$(date +%s)
    if cargo test --workspace --no-fail-fast >"$out/run-$i.log" 2>&1; then
        result=pass
        passed=$((passed + 1))
    else
        result=FAIL
    fi
    secs=$(($(date +%s) - start))
    failed=$(grep -E '^test .* \.\.\. FAILED$' "$out/run-$i.log" | sed -E 's/^test (.*) \.\.\. FAILED$/\1/' | sort -u | tr '\n' ' ' || true)
    for t in $failed; do failures[$t]=$((${failures[$t]:-0} + 1)); done
    log "run $i/$runs: $result in ${secs} s; $(.ci/skips)${failed:+; failed: $failed}"
done
stop_hog

log "stability: $passed/$runs runs passed"
for t in "${!failures[@]}"; do
    log "  $t failed in ${failures[$t]} of $runs runs"
done
log "logs: $out"
[ "$passed" = "$runs" ]
