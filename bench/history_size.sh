#!/usr/bin/env bash
# Size of the scan history (--db) for a -p- scan of a /24 (issue 19), without scanning: the
# example `history_size` records a synthetic result of 256 hosts x 65 535 ports (random order,
# about 32 open and 48 filtered ports a host, the rest closed) through the library's history API,
# twice into one new file, then writes the same rows into the schema-2 layout (one row per
# port) for comparison. Sends nothing; needs about 1.2 GB of disk in $TMPDIR for the old
# layout.
#
#   bench/history_size.sh [HOSTS]          (default 256)
set -euo pipefail
hosts=${1:-256}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --release -q -p portscout --example history_size
bin=target/release/examples/history_size
"$bin" "$work" "$hosts"
"$bin" "$work" "$hosts" old
