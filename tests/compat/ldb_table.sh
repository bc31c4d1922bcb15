#!/bin/bash
# The rows of tests/unit/engine/clamav/ldb.c checked against clamscan: the
# unit test writes each row (database line, scanned bytes, expected answer)
# with KT_LDB_DUMP=DIR; clamscan must give the expected answer for every
# row, so that the table's expectations are clamscan's, not khien's.
. "$SRC/tests/lib.sh"

need clamav clamscan
UNIT=$(dirname "$KHIEN")/tests/unit_engine_clamav_ldb
if [ ! -x "$UNIT" ]; then
    echo "SKIP $UNIT not built"
    exit 0
fi
mkdir -p "$T/rows" "$T/db"
KT_LDB_DUMP=$T/rows "$UNIT" >/dev/null 2>&1
# one clamscan run: row NNN's signature renamed RNNN, in a database of its own kind
for want in "$T"/rows/*.want; do
    i=${want%.want}
    n=$(basename "$i")
    for db in "$i".*; do
        case $db in *.want | *.bin) continue ;; esac
        sed "s/^T\([;:]\)/R$n\1/" "$db" >"$T/db/$n.${db##*.}"
    done
done
clamscan --allmatch --no-summary -d "$T/db" "$T"/rows/*.bin >"$T/clam.out" 2>"$T/clam.err"
n=0
for want in "$T"/rows/*.want; do
    i=${want%.want}
    r=$(basename "$i")
    got=0
    grep -q "^$i.bin: R$r.UNOFFICIAL FOUND\$" "$T/clam.out" && got=1
    if [ "$got" = "$(cat "$want")" ]; then
        n=$((n + 1))
    else
        bad "row $r: clamscan says $got, the table $(cat "$want"): $(cat "$T"/db/"$r".*)"
    fi
done
if [ "$n" -lt 50 ]; then
    bad "only $n rows compared"
    head -5 "$T/clam.err"
fi
ok "$n rows of the logical-signature table agree with clamscan"
finish
