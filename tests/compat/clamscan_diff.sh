#!/bin/bash
# Differential test: khien scan against Debian's clamscan on generated
# databases and files (tests/compat/gen.py). For each seed both tools scan
# the same files with --allmatch and must report the same (file, signature)
# pairs. Any difference is printed with the signature line and what the
# generator planted, and fails the test.
#
# Seeds: KH_COMPAT_SEEDS="1-200" (a range or a list) for a soak run; sizes
# per seed with KH_COMPAT_SIGS and KH_COMPAT_FILES; KH_COMPAT_KEEP=DIR keeps
# the generated trees (DIR/seed-N) to look at afterwards.
. "$SRC/tests/lib.sh"

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

seeds=${KH_COMPAT_SEEDS:-1-16}
nsigs=${KH_COMPAT_SIGS:-150}
nfiles=${KH_COMPAT_FILES:-100}
expand() { # "1-3,7" -> "1 2 3 7"
    local part
    for part in ${1//,/ }; do
        case $part in
        *-*) seq "${part%-*}" "${part#*-}" ;;
        *) echo "$part" ;;
        esac
    done
}

total_sigs=0
total_files=0
for seed in $(expand "$seeds"); do
    d=${KH_COMPAT_KEEP:-$T}/seed-$seed
    rm -rf "$d"
    mkdir -p "$d"
    "$PY" "$SRC/tests/compat/gen.py" --seed "$seed" --sigs "$nsigs" --files "$nfiles" --out "$d" >"$d/gen.log"
    clamscan --allmatch --no-summary -d "$d/db" -r "$d/files" >"$d/clam.out" 2>"$d/clam.err"
    crc=$?
    "$KHIEN" scan --allmatch --no-summary --no-builtin --no-cache -d "$d/db" "$d/files" >"$d/khien.out" 2>"$d/khien.err"
    krc=$?
    if [ "$crc" -gt 1 ]; then
        bad "seed $seed: clamscan failed (exit $crc)"
        sed 's/^/    /' "$d/clam.err" | head -20
        continue
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
    total_sigs=$((total_sigs + nsigs))
    total_files=$((total_files + nfiles))
done
echo "$total_sigs body signatures and $total_files files compared"
finish
