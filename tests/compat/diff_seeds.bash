# Khiên — tests/compat: what the seed-by-seed differential tests against
# clamscan share (sourced by clamscan_diff.sh and ldb_diff.sh after
# tests/lib.sh; not a test itself: tests/CMakeLists.txt registers *.sh).
#
#   PY                      the python to run generators with
#   expand "1-3,7"          -> 1 2 3 7
#   diff_seed SEED DIR GENERATOR ARGS...
#                           generates a database and files into DIR
#                           (GENERATOR --seed SEED ARGS --out DIR), scans
#                           DIR/files with clamscan --allmatch and khien scan
#                           --allmatch, and records one ok/bad: both tools
#                           ran, khien rejected no line clamscan accepts, and
#                           the (file, signature) pairs are the same
#                           (compare.py, with what the generator planted).
# Skips the whole test (exit 0) without clamscan or python3.

if ! command -v clamscan >/dev/null 2>&1; then
    echo "SKIP clamscan is not installed (apt-get install clamav)"
    exit 0
fi
# the system python starts faster than a version manager's shim
PY=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}
if [ -z "$PY" ]; then
    echo "SKIP python3 is not installed"
    exit 0
fi

expand() { # "1-3,7" -> "1 2 3 7"
    local part
    for part in ${1//,/ }; do
        case $part in
        *-*) seq "${part%-*}" "${part#*-}" ;;
        *) echo "$part" ;;
        esac
    done
}

diff_seed() { # SEED DIR GENERATOR ARGS...
    local seed=$1 d=$2 gen=$3 crc krc
    shift 3
    rm -rf "$d"
    mkdir -p "$d"
    "$PY" "$gen" --seed "$seed" "$@" --out "$d" >"$d/gen.log"
    clamscan --allmatch --no-summary -d "$d/db" -r "$d/files" >"$d/clam.out" 2>"$d/clam.err"
    crc=$?
    "$KHIEN" scan --allmatch --no-summary --no-builtin --no-cache -d "$d/db" "$d/files" >"$d/khien.out" 2>"$d/khien.err"
    krc=$?
    if [ "$crc" -gt 1 ]; then
        bad "seed $seed: clamscan failed (exit $crc)"
        sed 's/^/    /' "$d/clam.err" | head -20
        return 1
    fi
    if [ "$krc" -gt 1 ] || grep -q "error" "$d/khien.err"; then
        bad "seed $seed: khien failed or rejected a line clamscan accepts (exit $krc)"
        sed 's/^/    /' "$d/khien.err" | head -20
    fi
    if "$PY" "$SRC/tests/compat/compare.py" --label "seed $seed: " --files "$d/files" --db "$d/db" \
        --manifest "$d/manifest.tsv" "$d/clam.out" "$d/khien.out" >"$d/diff.txt"; then
        ok "$(cat "$d/diff.txt") [$(cat "$d/gen.log")]"
    else
        bad "seed $seed: detections differ"
        sed 's/^/    /' "$d/diff.txt" | head -60
    fi
    return 0
}
