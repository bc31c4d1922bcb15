#!/bin/sh
# Runs the Khiên benchmarks in order (throughput, official-shaped
# database, clean-file cache, YARA against yara), each logged to
# bench/out/<name>.log.
# Exits non-zero if any of them failed or found the tools disagreeing.
# Quick check with small sizes:
#   BENCH_BYTES=100000000 BENCH_OFFICIAL_HASHES=200000 BENCH_OFFICIAL_BODIES=2000 sh bench/run_all.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
out=${BENCH_OUT:-$here/out}
mkdir -p "$out"
status=0
for b in bench_scan bench_official bench_cache bench_yara; do
    echo "######## $b ($(date -u '+%Y-%m-%d %H:%M:%S UTC'))"
    { python3 "$here/$b.py"; echo $? >"$out/.rc.$b"; } 2>&1 | tee "$out/$b.log"
    rc=$(cat "$out/.rc.$b")
    echo "######## $b exit status $rc"
    [ "$rc" -eq 0 ] || status=1
    BENCH_NO_BUILD=1
    export BENCH_NO_BUILD
done
exit $status
