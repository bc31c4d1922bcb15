#!/bin/bash
# Differential test of logical (.ldb), PE section (.mdb .msb), import
# (.imp) and typed .ndb signatures: khien scan against Debian's clamscan on
# databases and files made by tests/compat/ldb_gen.py (binary files, PE and
# ELF files with tokens planted at their entry point, in their sections and
# anywhere). Both tools scan with --allmatch and must report the same
# (file, signature) pairs; any difference fails the test.
#
# Then ClamAV's own test databases (../shared/clamav-testdb: pe_allmatch
# alert signatures of every kind, the embedded-file .ldb) over the
# clamav-testfiles package: the same pairs again, and every line loaded or
# reported.
#
# Seeds: KH_LDB_SEEDS="1-50" for a soak run (default 1-4); KH_LDB_KEEP=DIR
# keeps the generated trees.
. "$SRC/tests/lib.sh"

. "$SRC/tests/compat/diff_seeds.bash"

seeds=${KH_LDB_SEEDS:-1-4}
compare() { # label dir files-dir db-dir
    "$PY" "$SRC/tests/compat/compare.py" --label "$1" --files "$3" --db "$4" ${5:+--manifest "$5"} \
        "$2/clam.out" "$2/khien.out" >"$2/diff.txt"
}

for seed in $(expand "$seeds"); do
    diff_seed "$seed" "${KH_LDB_KEEP:-$T}/ldb-seed-$seed" "$SRC/tests/compat/ldb_gen.py" --sigs 150 --files 80
done

# ClamAV's test databases over ClamAV's test files.
TDB=$SHARED/clamav-testdb/unit_tests/input
TF=/usr/share/clamav-testfiles
if [ -d "$TDB/pe_allmatch/alert-sigs" ] && [ -d "$TF" ]; then
    d=$T/testdb
    mkdir -p "$d/db"
    cp "$TDB"/pe_allmatch/alert-sigs/* "$TDB"/embedded_testfiles/signatures/*.ldb "$d/db/"
    rm -f "$d/db/"*.yar # YARA: another test compares those
    clamscan --allmatch --no-summary -d "$d/db" "$TF"/clam.exe "$TF"/clam.zip "$TF"/clam.7z >"$d/clam.out" 2>"$d/clam.err"
    "$KHIEN" scan --allmatch --no-summary --no-builtin --no-cache -d "$d/db" "$TF"/clam.exe "$TF"/clam.zip \
        "$TF"/clam.7z >"$d/khien.out" 2>"$d/khien.err"
    if compare "clamav-testdb: " "$d" "$TF" "$d/db"; then
        ok "clamav-testdb alert signatures: $(cat "$d/diff.txt")"
    else
        bad "clamav-testdb alert signatures: detections differ"
        sed 's/^/    /' "$d/diff.txt" | head -30
    fi
    "$KHIEN" scan --verbose --no-builtin --no-cache -d "$d/db" "$TF"/clam.exe >"$d/v.out" 2>"$d/v.err"
    check "clamav-testdb: no line rejected" bash -c "! grep -q 'error' '$d/v.err'"
    check "clamav-testdb: the .ldb with IconGroup reported unsupported" \
        grep -q "Test.Sig.LDB_1of2_PE_ICON_1.UNOFFICIAL.ldb: warning: 1 logical signature not loaded" "$d/v.err"
    check "clamav-testdb: --verbose lists each database" \
        grep -q "Test.GenSig.IMP_1of6_MD5_FIXED.UNOFFICIAL.imp: 1 PE import hash" "$d/v.out"
    check "clamav-testdb: VI offsets counted, not dropped" \
        grep -q "not loaded: 1 vị trí VI chưa hỗ trợ / VI offset not supported" "$d/v.out"
else
    echo "SKIP clamav-testdb or clamav-testfiles missing"
fi
finish
