#!/bin/bash
# Target types of .ndb and .ldb signatures against Debian's clamscan: one
# signature per target type (0-12, .ndb and .ldb) for a marker planted in
# crafted files of every kind clamscan tells apart (graphics, Mach-O, Java
# class and universal binaries, flash, PDF with its magic up to 1 KiB in,
# OLE2, mail, HTML, text) and in look-alikes that are none of them. Both
# tools scan with --allmatch; for the target types Khiên honours (0, 1, 5,
# 6, 9-12) they must report the same (file, signature) pairs. Those it does
# not honour (2 OLE2, 3 HTML, 4 mail, 7 text) must be reported as not
# loaded, never silently dropped, and so must a Mach-O entry-point offset.
. "$SRC/tests/lib.sh"

need clamav clamscan
PY=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}

mkdir -p "$T/f" "$T/db"
"$PY" - "$T" <<'EOF'
import struct, sys, zlib
T = sys.argv[1]
M = b"KHIENMARKER1234xyz"
pad = bytes(range(1, 65))
body = pad + M + pad


def png():
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)) + \
        chunk(b"tEXt", b"c\0" + body) + chunk(b"IEND", b"")


files = {
    "png": png(), "png_bare": b"\x89PNG" + body, "gif": b"GIF89a" + body, "gif8": b"GIF8" + body,
    "jpeg": b"\xff\xd8\xff\xe0" + body, "bmp": b"BM" + body, "tiff_le": b"II*\x00" + body, "tiff_be": b"MM\x00*" + body,
    "ico": b"\x00\x00\x01\x00\x01\x00" + body,
    "macho32": b"\xce\xfa\xed\xfe" + b"\0" * 28 + body, "macho64": b"\xcf\xfa\xed\xfe" + b"\0" * 28 + body,
    "macho_be": b"\xfe\xed\xfa\xce" + b"\0" * 28 + body, "macho_be64": b"\xfe\xed\xfa\xcf" + b"\0" * 28 + body,
    "swf": b"FWS\x0a" + struct.pack("<I", 1000) + body, "swf_cws_raw": b"CWS\x0a" + struct.pack("<I", 1000) + body,
    "swf_zws_raw": b"ZWS\x0d" + struct.pack("<I", 1000) + body,
    "pdf": b"%PDF-1.4\n%" + body, "pdf_at_1000": b"x" * 1000 + b"%PDF-1.4\n" + body,
    "pdf_at_1030": b"x" * 1030 + b"%PDF-1.4\n" + body, "pdf_no_dash": b"%PDF" + body,
    "ole2": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + body,
    "mail": b"From: a@b.c\nTo: d@e.f\nSubject: x\n\n" + body + b"\n",
    "text": b"hello world this is text " + M + b" more text\n", "bin": b"\0\1\2\3\xfe\xff" + body,
}
for v in (0, 2, 16, 31, 32, 45, 52, 63, 64, 80):
    files["cafebabe_%02d" % v] = b"\xca\xfe\xba\xbe\x00\x00" + struct.pack(">H", v) + body
files["cafebabe_minor1"] = b"\xca\xfe\xba\xbe\x00\x01\x00\x34" + body
for k, v in files.items():
    open("%s/f/%s" % (T, k), "wb").write(v)
with open(T + "/db/t.ndb", "w") as f:
    for t in range(13):
        if t != 8:
            f.write("T.ndb.t%d:%d:*:%s\n" % (t, t, M.hex()))
    f.write("T.ndb.macho_ep:9:EP+0:%s\n" % M.hex())
with open(T + "/db/t.ldb", "w") as f:
    for t in range(13):
        if t != 8:
            f.write("T.ldb.t%d;Engine:51-255,Target:%d;0&1;%s;%s\n" % (t, t, M[:8].hex(), M[8:].hex()))
    f.write("T.ldb.macho_ep;Engine:51-255,Target:9;0;EP+0,64:%s\n" % M.hex())
EOF

clamscan --allmatch --no-summary -d "$T/db" "$T/f" >"$T/clam.out" 2>"$T/clam.err"
crc=$?
check "clamscan ran (exit $crc)" test $crc -le 1
"$KHIEN" scan --allmatch --no-builtin --no-cache --verbose -d "$T/db" "$T/f" >"$T/khien.out" 2>"$T/khien.err"
krc=$?
check "khien ran (exit $krc)" test $krc -le 1

# (file, signature) pairs of the honoured target types; HTML and text files
# are left out (clamscan skips the raw bytes of what it types as HTML and
# matches ASCII-text signatures on normalised text: docs/SIGNATURES.md).
pairs() {
    sed -n 's/\.UNOFFICIAL FOUND$//p; s/ FOUND$//p' "$1" | sed 's|^.*/||' | sort -u |
        grep -Ev 'T\.(ndb|ldb)\.(t2|t3|t4|t7|macho_ep)$'
}
pairs "$T/clam.out" >"$T/clam.pairs"
pairs "$T/khien.out" >"$T/khien.pairs"
n=$(grep -cE '\.t(5|9|10|11|12)$' "$T/clam.pairs")
check "clamscan reports typed detections ($n)" test "$n" -ge 40
if diff "$T/clam.pairs" "$T/khien.pairs" >"$T/diff"; then
    ok "same detections as clamscan for target types 0, 1, 5, 6, 9-12 ($(wc -l <"$T/khien.pairs") pairs)"
else
    bad "detections differ from clamscan (< clamscan, > khien)"
    head -30 "$T/diff"
fi
for t in 5 9 10 11 12; do
    for k in ndb ldb; do
        check "khien matches some T.$k.t$t" grep -q "T\.$k\.t$t\$" "$T/khien.pairs"
    done
done
check "look-alikes are no type (ico, PDF magic past 1 KiB, cafebabe 64)" \
    test -z "$(grep -E '^(ico|pdf_at_1030|pdf_no_dash|cafebabe_64|cafebabe_80|cafebabe_minor1): T\.(ndb|ldb)\.t(5|9|10|12)$' "$T/khien.pairs")"

# Never silently dropped: the unhonoured types and the Mach-O offsets are
# counted, per database file, in the warnings and in the --verbose summary.
grep -q "T.ndb.t2\|T.ldb.t2" "$T/khien.out" && bad "khien reported an OLE2-target signature" || ok "OLE2-target signatures not used"
check "t.ndb: 4 target types not loaded, with the reason" \
    grep -q "t.ndb: warning: 4 signatures for OLE2, HTML, mail or ASCII text" "$T/khien.err"
check "t.ldb: 4 target types not loaded, with the reason" \
    grep -q "t.ldb: warning: 4 signatures for OLE2, HTML, mail or ASCII text" "$T/khien.err"
check "t.ndb: the Mach-O entry-point signature not loaded, with the reason" \
    grep -q "t.ndb: warning: 1 signature not loaded: .*Mach-O" "$T/khien.err"
check "t.ldb: the Mach-O entry-point signature not loaded, with the reason" \
    grep -q "t.ldb: warning: 1 logical signature not loaded: .*Mach-O" "$T/khien.err"
check "summary: t.ndb 8 body signatures" grep -q "t.ndb: 8 body" "$T/khien.out"
check "summary: t.ldb 8 logical signatures" grep -q "t.ldb: 8 logical" "$T/khien.out"
check "summary: the unhonoured target types listed" grep -q "not loaded: 4 .*target file type" "$T/khien.out"
finish
