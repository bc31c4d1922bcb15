#!/bin/bash
# .ftm (file type magic) and .cdb (container metadata) databases against
# Debian's clamscan 1.4, both tools with --allmatch, same (file, signature)
# pairs required ("outer.zip!member" of Khiên counted as outer.zip, as
# clamscan reports the file it was given).
#   ftm: a signature per target type (0, 1, 5, 6, 9-12) on a marker planted
#        in crafted files; .ftm sets with magic type 0 lines (which replace
#        clamscan's built-in typing: a GIF without a GIF line is no graphics
#        file any more), with magic type 1 lines only (built-in typing kept),
#        RequiredType, offsets, priorities, a partition line; the same set
#        packed into a .cud by sigtool.
#   cdb: zip (stored, deflated, a directory entry, an encrypted member, a
#        nested zip), tar, tar.gz, 7z and cpio archives; hand-written lines
#        for each field and seeded random lines around the real values
#        (sizes, positions, names), so that each line should match some
#        members and not others.
. "$SRC/tests/lib.sh"

need clamav clamscan sigtool
PY=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}
SEED=${KH_FTM_CDB_SEED:-26}

mkdir -p "$T/f" "$T/a" "$T/src/dir" "$T/ftm0" "$T/ftm1" "$T/cdb"
"$PY" - "$T" "$SEED" <<'EOF_PY'
import os, random, struct, sys, zipfile
T, seed = sys.argv[1], int(sys.argv[2])
rnd = random.Random(seed)
M = b"KHIENMARKER1234xyz"
pad = bytes(range(1, 40))
files = {
    "khkn": b"KHKN" + pad, "khkn_at8": b"\1" * 8 + b"KHKN" + pad, "gif": b"GIF89a" + pad, "png": b"\x89PNG" + pad,
    "pdf": b"%PDF-1.4\n" + pad, "swf": b"FWS\x0a" + pad, "macho": b"\xce\xfa\xed\xfe" + b"\0" * 28,
    "java": b"\xca\xfe\xba\xbe\0\0\0\x34" + pad, "unibin": b"\xca\xfe\xba\xbe\0\0\0\x02" + pad,
    "qqzz_bin": b"\1\2\3QQZZ" + pad, "qqzz_text": b"some text QQZZ here ", "txtj_text": b"plain TXTJ words ",
    "txtj_bin": b"\1\2TXTJ" + pad, "bins_bin": b"\0\0BINS" + pad, "bins_text": b"BINS in text ",
    "both": b"\5\5QQZZ and ZZQQ" + pad, "qqzz_far": b"\1" * 1100 + b"QQZZ" + pad, "plain": b"\1\2\3\4" + pad,
    "zipmagic": b"PK\3\4" + pad, "elf": open("/bin/true", "rb").read(),
}
for k, v in files.items():
    open("%s/f/%s" % (T, k), "wb").write(v + M)
# target type signatures for the marker
ndb = "".join("T.t%d:%d:*:%s\n" % (t, t, M.hex()) for t in (0, 1, 5, 6, 9, 10, 11, 12))
for d in ("ftm0", "ftm1"):
    open("%s/%s/t.ndb" % (T, d), "w").write(ndb)
ftm0 = [
    "0:0:4b484b4e:KHKN as PDF:CL_TYPE_ANY:CL_TYPE_PDF",
    "0:8:4b484b4e:KHKN at 8 as SWF:CL_TYPE_ANY:CL_TYPE_SWF",
    "0:0:474946:GIF:CL_TYPE_ANY:CL_TYPE_GIF",
    "0:0:7f454c46:ELF:CL_TYPE_ANY:CL_TYPE_ELF",
    "0:0:feedface:Mach-O:CL_TYPE_ANY:CL_TYPE_MACHO",
    "0:0:cefaedfe:Mach-O LE:CL_TYPE_ANY:CL_TYPE_MACHO",
    "0:0:cafebabe:Universal or Java:CL_TYPE_ANY:CL_TYPE_MACHO_UNIBIN",
    "0:0:504b0304:ZIP:CL_TYPE_ANY:CL_TYPE_ZIP",
    # with magic type 0 lines, clamscan opens only the archive formats they name
    "0:0:1f8b:GZip:CL_TYPE_ANY:CL_TYPE_GZ",
    "0:257:7573746172:POSIX tar:CL_TYPE_ANY:CL_TYPE_POSIX_TAR",
    "0:0:377abcaf271c:7-Zip:CL_TYPE_ANY:CL_TYPE_7Z",
    "0:0:303730373031:cpio newc:CL_TYPE_ANY:CL_TYPE_CPIO_NEWC",
    "0:0:89504e47:PNG as data:CL_TYPE_ANY:CL_TYPE_BINARY_DATA",
    "1:*:51515a5a:QQZZ:CL_TYPE_ANY:CL_TYPE_JAVA",
    "1:*:5a5a5151:ZZQQ:CL_TYPE_ANY:CL_TYPE_PDF",
    "1:*:5458544a:TXTJ:CL_TYPE_TEXT_ASCII:CL_TYPE_JAVA",
    "1:0,4:42494e53:BINS:CL_TYPE_BINARY_DATA:CL_TYPE_SWF",
    "4:0:4b484b4e:partition:CL_TYPE_ANY:CL_TYPE_PART_HFSPLUS",
]
open(T + "/ftm0/t.ftm", "w").write("\n".join(ftm0) + "\n")
open(T + "/ftm1/t.ftm", "w").write("\n".join(l for l in ftm0 if l[0] in "14") + "\n")

# ftm2: seeded random lines, each with a file it should type and a near miss
os.makedirs(T + "/ftm2", exist_ok=True)
os.makedirs(T + "/f2", exist_ok=True)
open(T + "/ftm2/t.ndb", "w").write(ndb)
results = ["CL_TYPE_PDF", "CL_TYPE_SWF", "CL_TYPE_JAVA", "CL_TYPE_GRAPHICS", "CL_TYPE_PNG", "CL_TYPE_MACHO",
           "CL_TYPE_ZIP", "CL_TYPE_BINARY_DATA", "CL_TYPE_TEXT_ASCII", "CL_TYPE_RTF", "CL_TYPE_MSOLE2"]
# (not CL_TYPE_HTML or CL_TYPE_MAIL: clamscan matches such files on their normalised or decoded form only)
lines = []
def binpad(n):  # binary data: a NUL-control pair at an even offset
    return b"\0\1" + bytes(rnd.randrange(128, 256) for _ in range(n))
for i in range(16):
    magic = bytes(rnd.randrange(128, 256) for _ in range(rnd.randrange(2, 5)))
    res = rnd.choice(results)
    if rnd.random() < 0.5:
        off = rnd.randrange(0, 24)
        lines.append("0:%d:%s:R%d:CL_TYPE_ANY:%s" % (off, magic.hex(), i, res))
        hit = binpad(off) [:off] + magic
        if len(hit) < off + len(magic):
            hit = b"\0" * off + magic
        miss = b"\0" * (off + 1) + magic
    else:
        lo, span = rnd.randrange(0, 20), rnd.randrange(0, 20)
        off = rnd.choice(["*", "%d" % lo, "%d,%d" % (lo, span)])
        rtype = rnd.choice(["CL_TYPE_ANY", "CL_TYPE_ANY", "CL_TYPE_BINARY_DATA", "CL_TYPE_TEXT_ASCII"])
        lines.append("1:%s:%s:R%d:%s:%s" % (off, magic.hex(), i, rtype, res))
        at = lo + (rnd.randrange(0, span + 1) if "," in off else 0)
        hit = b"\0\1" * (at // 2) + b"\2" * (at % 2) + magic
        miss = b"\0\1" * ((at + span + 1) // 2 + 1) + b"\2" + magic
    open("%s/f2/hit%02d" % (T, i), "wb").write(hit + pad + M)
    open("%s/f2/miss%02d" % (T, i), "wb").write(miss + pad + M)
for k in range(6):
    open("%s/f2/none%d" % (T, k), "wb").write(binpad(rnd.randrange(10, 60)) + M)
open(T + "/ftm2/t.ftm", "w").write("\n".join(lines) + "\n")

# archives
src = T + "/src"
content = {"first.txt": b"hello world\n" * 10, "dir/second.bin": b"A" * 1000, "third.exe": b"MZxyz" * 3,
           "dir/fourth.dat": bytes(rnd.randrange(256) for _ in range(300))}
for n, v in content.items():
    open(os.path.join(src, n), "wb").write(v)
z = zipfile.ZipFile(T + "/a/a.zip", "w")
z.writestr(zipfile.ZipInfo("first.txt"), content["first.txt"])
z.writestr(zipfile.ZipInfo("dir/"), b"")
z.writestr("dir/second.bin", content["dir/second.bin"], compress_type=zipfile.ZIP_DEFLATED)
z.writestr("third.exe", content["third.exe"])
z.writestr("dir/fourth.dat", content["dir/fourth.dat"], compress_type=zipfile.ZIP_DEFLATED)
z.close()
z = zipfile.ZipFile(T + "/a/nested.zip", "w")
z.write(T + "/a/a.zip", "inner.zip")
z.writestr("first.txt", content["first.txt"], compress_type=zipfile.ZIP_DEFLATED)
z.close()

def newc(name, data, mode=0o100644):
    nb = name.encode() + b"\0"
    h = "070701" + "".join("%08X" % v for v in [1, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nb), 0])
    out = h.encode() + nb
    out += b"\0" * ((4 - len(out) % 4) % 4)
    return out + data + b"\0" * ((4 - len(data) % 4) % 4)
open(T + "/a/e.cpio", "wb").write(newc("first.txt", content["first.txt"]) + newc("dir", b"", 0o40755) +
                                  newc("third.exe", content["third.exe"]) + newc("TRAILER!!!", b"", 0))

# .cdb: hand-written lines for each field, then seeded random ones
cdb = [
    "C.All:*:*:*:*:*:*:*:*:*", "C.Any:CL_TYPE_ANY:*:*:*:*:*:*:*:*", "C.Zip:CL_TYPE_ZIP:*:*:*:*:*:*:*:*",
    "C.Tar:CL_TYPE_POSIX_TAR:*:*:*:*:*:*:*:*", "C.7z:CL_TYPE_7Z:*:*:*:*:*:*:*:*",
    "C.Cpio:CL_TYPE_CPIO_NEWC:*:*:*:*:*:*:*:*", "C.Rar:CL_TYPE_RAR:*:*:*:*:*:*:*:*",
    "C.Name:*:*:second:*:*:*:*:*:*", "C.Re:*:*:^dir/.*\\.(bin|dat)$:*:*:*:*:*:*", "C.Case:*:*:FIRST:*:*:*:*:*:*",
    "C.Dir:CL_TYPE_ZIP:*:/$:*:*:*:*:*:*", "C.Alt:*:*:(third|fourth)\\.:*:*:*:*:*:*",
    "C.Real1000:*:*:*:*:1000:*:*:*:*", "C.RealLe100:*:*:*:*:0-100:*:*:*:*", "C.RealGe200:*:*:*:*:200-0:*:*:*:*",
    "C.RealBad:*:*:*:*:200-100:*:*:*:*", "C.Comp0:*:*:*:0:*:*:*:*:*", "C.CompSmall:CL_TYPE_ZIP:*:*:1-20:*:*:*:*:*",
    "C.Enc1:*:*:*:*:*:1:*:*:*", "C.Enc0:*:*:*:*:*:0:*:*:*", "C.Pos0:*:*:*:*:*:*:0:*:*", "C.Pos1:*:*:*:*:*:*:1:*:*",
    "C.Pos3:*:*:*:*:*:*:3:*:*",
    # POSIX regex as clamscan reads it: a backslash before a letter is the letter
    "C.ReD:*:*:^\\d:*:*:*:*:*:*", "C.ReW:*:*:^dir/\\w+\\.bin:*:*:*:*:*:*", "C.ReCls:*:*:^[\\.a-z]+\\.txt$:*:*:*:*:*:*",
    "C.ReBr:*:*:^[]a-z]+/:*:*:*:*:*:*", "C.ReNeg:*:*:[^a-z/.]:*:*:*:*:*:*", "C.ReRep:*:*:^(dir/)?[a-z]{5,6}\\.:*:*:*:*:*:*", "C.ReBrace:*:*:t{,3}:*:*:*:*:*:*", "C.Pos2to4:*:*:*:*:*:*:2-4:*:*", "C.Crc:CL_TYPE_ZIP:*:*:*:*:*:*:12345:x",
    "C.Fl:*:*:*:*:*:*:*:*:*:1:999", "C.Later:*:*:*:*:*:*:*:*:*:999",
]
sizes = {os.path.basename(p): os.path.getsize(p) for p in []}
types = ["*", "CL_TYPE_ANY", "CL_TYPE_ZIP", "CL_TYPE_POSIX_TAR", "CL_TYPE_7Z", "CL_TYPE_CPIO_NEWC"]
names = ["first", "second", "third", "fourth", "^dir/", "\\.exe$", "t[a-z]+", "^[fs]", "x{2,}", "inner"]
real = [len(v) for v in content.values()] + [0]
def rng(vals):
    r = rnd.random()
    v = rnd.choice(vals)
    if r < 0.4:
        return "*"
    if r < 0.6:
        return str(v)
    if r < 0.75:
        return "%d-0" % max(v - rnd.randrange(3), 0)
    if r < 0.9:
        return "0-%d" % (v + rnd.randrange(3))
    return "%d-%d" % (max(v - 5, 0), v + 5)
for i in range(60):
    cdb.append("C.R%02d:%s:%s:%s:%s:%s:%s:%s:*:*" % (
        i, rnd.choice(types), "*" if rnd.random() < 0.8 else rng([10240, 220, 1100, 600]),
        "*" if rnd.random() < 0.4 else rnd.choice(names), "*" if rnd.random() < 0.6 else rng(real),
        rng(real), rnd.choice("**01"), "*" if rnd.random() < 0.6 else rng([0, 1, 2, 3, 4])))
open(T + "/cdb/t.cdb", "w").write("\n".join(cdb) + "\n")
EOF_PY
(cd "$T/src" && tar cf "$T/a/b.tar" first.txt dir third.exe && tar czf "$T/a/c.tgz" first.txt dir/second.bin third.exe &&
    zip -q -P secret "$T/a/d.zip" first.txt third.exe)
if command -v 7z >/dev/null 2>&1; then
    (cd "$T/src" && 7z a -bd -bso0 "$T/a/g.7z" first.txt dir third.exe && 7z a -bd -bso0 "$T/a/h.7z" first.txt dir/second.bin)
fi
# random csize values above take the real sizes of some archives: add them
for f in "$T"/a/*; do echo "C.Size.${f##*/}:*:$(stat -c %s "$f"):*:*:*:*:*:*:*"; done >>"$T/cdb/t.cdb"
echo "C.Size.tar_in_gz:CL_TYPE_POSIX_TAR:$(gzip -dc "$T/a/c.tgz" | wc -c):*:*:*:*:*:*:*" >>"$T/cdb/t.cdb"

# (file, signature) pairs: members counted as the file given
pairs() {
    sed -n 's/\.UNOFFICIAL FOUND$//p; s/ FOUND$//p' "$1" | sed 's|!.*: |: |; s|^.*/||' | sort -u
}
compare() { # compare NAME DB TARGET [min_pairs]  (ALL= for first-match mode)
    clamscan ${ALL---allmatch} --no-summary -r -d "$2" "$3" >"$T/clam.out" 2>"$T/clam.err"
    local crc=$?
    check "$1: clamscan ran (exit $crc)" test $crc -le 1
    "$KHIEN" scan ${ALL---allmatch} --no-builtin --no-cache -d "$2" "$3" >"$T/khien.out" 2>"$T/khien.err"
    local krc=$?
    check "$1: khien ran (exit $krc)" test $krc -le 1
    pairs "$T/clam.out" >"$T/$1.clam"
    pairs "$T/khien.out" >"$T/$1.khien"
    check "$1: clamscan reports at least ${4:-1} pairs ($(wc -l <"$T/$1.clam"))" test "$(wc -l <"$T/$1.clam")" -ge "${4:-1}"
    if diff "$T/$1.clam" "$T/$1.khien" >"$T/$1.diff"; then
        ok "$1: same detections as clamscan ($(wc -l <"$T/$1.khien") pairs)"
    else
        bad "$1: detections differ from clamscan (< clamscan, > khien)"
        head -20 "$T/$1.diff"
    fi
}

compare ftm0 "$T/ftm0" "$T/f" 20
check "ftm0: a magic type 0 line types KHKN files as PDF" grep -qx "khkn: T.t10" "$T/ftm0.khien"
check "ftm0: no GIF line, yet GIF is graphics (GIF line given)" grep -qx "gif: T.t5" "$T/ftm0.khien"
check "ftm0: PNG typed as data is no graphics file" test -z "$(grep -x 'png: T.t5' "$T/ftm0.khien")"
check "ftm0: RequiredType TEXT_ASCII applies to text" grep -qx "txtj_text: T.t12" "$T/ftm0.khien"
check "ftm0: RequiredType TEXT_ASCII does not apply to binary data" test -z "$(grep -x 'txtj_bin: T.t12' "$T/ftm0.khien")"
check "ftm0: a cafebabe file typed as a universal binary is Mach-O (no Java test then)" grep -qx "java: T.t9" "$T/ftm0.khien"
check "ftm0: the largest type code wins (JAVA over PDF)" grep -qx "both: T.t12" "$T/ftm0.khien"
compare ftm1 "$T/ftm1" "$T/f" 20
compare ftm2 "$T/ftm2" "$T/f2" 30
check "ftm2: some random line gives a target type" test -n "$(grep -E ': T\.t(5|9|10|11|12)$' "$T/ftm2.khien")"
check "ftm1: magic type 1 alone keeps the built-in typing (PNG)" grep -qx "png: T.t5" "$T/ftm1.khien"
check "ftm1: magic type 1 types binary data" grep -qx "qqzz_bin: T.t12" "$T/ftm1.khien"

"$KHIEN" scan --verbose --no-builtin --no-cache -d "$T/ftm0" "$T/f/plain" >"$T/out" 2>"$T/err"
check "verbose: file type magic lines counted" hasre "t.ftm: .*1[0-9] file type magic"
check "verbose: lines without a target type reported as without effect" hasre "no target type: 6 file type magic: .*result type is none of"
check "verbose: the partition line reported as without effect" hasre "no effect: 1 file type magic: .*partition types"
check "warning: partition line without effect" has_err "1 file type line without effect"

compare cdb "$T/cdb" "$T/a" 60
for s in C.Zip C.Tar C.7z C.Cpio C.Re C.Dir C.Enc1 C.Pos0 C.CompSmall C.Size.tar_in_gz; do
    check "cdb: $s matches somewhere" grep -q ": $s\$" "$T/cdb.khien"
done
for s in C.Rar C.Case C.RealBad C.Later; do
    check "cdb: $s matches nowhere" test -z "$(grep ": $s\$" "$T/cdb.khien")"
done
check "cdb: a detection names the member" grep -q "a.zip!dir/second.bin: C.Name FOUND" "$T/khien.out"
check "cdb: a nested member is named through its archive" grep -q "nested.zip!inner.zip!dir/second.bin: C.Name FOUND" "$T/khien.out"

# Without --allmatch: the one detection per file is the same (clamscan
# tries the .cdb lines last loaded first, as Khiên does).
ALL= compare cdb_first "$T/cdb" "$T/a" 7

# The same databases packed by sigtool into one .cud.
B=$T/cud
mkdir -p "$B"
cp "$T/ftm0/t.ndb" "$B/main.ndb"
cp "$T/ftm0/t.ftm" "$B/main.ftm"
cp "$T/cdb/t.cdb" "$B/main.cdb"
echo "Test database for khien's tests" >"$B/COPYING"
(cd "$B" && echo y | sigtool --unsigned --build=main.cud --cvd-version=3 --datadir="$T/none" >"$T/sigtool.out" 2>&1)
check "sigtool builds main.cud" test -s "$B/main.cud"
mkdir -p "$T/all"
cp -r "$T/f" "$T/a" "$T/all/"
compare cud "$B/main.cud" "$T/all" 80

# Strict mode: a malformed line fails the load, naming file and line.
printf 'C.Ok:*:*:*:*:*:*:*:*:*\nC.Bad:*:*:*:*:*:2:*:*:*\n' >"$T/bad.cdb"
"$KHIEN" scan --strict --no-builtin --no-cache -d "$T/bad.cdb" "$T/f/plain" >"$T/out" 2>"$T/err"
check "strict: malformed .cdb fails (exit $?)" test $? -ge 2
check "strict: the error names file, line and column" has_err "bad.cdb:2:17"
"$KHIEN" scan --no-builtin --no-cache -d "$T/bad.cdb" "$T/a/a.zip" >"$T/out" 2>"$T/err"
check "lenient: the bad line skipped, the good one used" has "C.Ok FOUND"
check "lenient: the skip is reported" has_err "1 malformed line skipped"
printf '0:0:4b48:K:CL_TYPE_ANY:CL_TYPE_PDF\n0:0:4b48:K:CL_TYPE_ANY:CL_TYPE_NOPE\n' >"$T/bad.ftm"
"$KHIEN" scan --strict --no-builtin --no-cache -d "$T/bad.ftm" "$T/f/plain" >"$T/out" 2>"$T/err"
check "strict: malformed .ftm fails" test $? -ge 2
check "strict: the .ftm error names file, line and column" has_err "bad.ftm:2:24"
[ -n "${KH_KEEP:-}" ] && cp -r "$T" "$KH_KEEP"
finish
