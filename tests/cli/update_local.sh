#!/bin/bash
# khien update from a local mirror folder made here: databases built by
# sigtool (.cud), signed with the TEST keys (tests/tools/clamav_sign.py),
# .cdiff patches made from `sigtool --diff` scripts. First download, an
# incremental update through a .cdiff (the result is a .cld with the same
# files sigtool built), up to date, a damaged mirror refused with the
# previous set kept, the whole-file path, ClamAV's own keys refusing test
# signatures.
. "$SRC/tests/lib.sh"

need clamav sigtool
PY=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}
S="$SRC/tests/tools/clamav_sign.py"
TESTKEYS=$("$PY" "$S" keys)

# build NAME VERSION NDB-LINE... : $T/b/NAME-VERSION/NAME.cud and .cvd
build() {
    local n=$1 v=$2 d=$T/b/$1-$2
    shift 2
    mkdir -p "$d"
    echo "Test database for khien's tests" >"$d/COPYING"
    printf '%s\n' "$@" >"$d/$n.ndb"
    printf '%s:17:%s.Hash\n' "$(printf 'hash-of-%s-file\n' "$n" | md5sum | cut -d' ' -f1)" "$n" >"$d/$n.hdb"
    (cd "$d" && echo y | sigtool --unsigned --build=$n.cud --cvd-version=$v --datadir="$T/none" >/dev/null 2>&1)
    "$PY" "$S" sign-cvd "$d/$n.cud" "$d/$n.cvd"
}
# cdiff NAME OLD NEW : $T/b/NAME-NEW.cdiff (sigtool's script, signed)
cdiff() {
    (cd "$T/b/$1-$3" && sigtool --diff="$T/b/$1-$2/$1.cud" "$1.cud" >/dev/null 2>&1)
    "$PY" "$S" cdiff "$T/b/$1-$3/$1-$3.script" "$T/b/$1-$3/$1.cvd" "$T/b/$1-$3.cdiff"
}
build main 1 'Main.One:0:*:6d61696e6f6e656d61696e'
build daily 5 'Daily.Five:0:*:6461696c7966697665'
build daily 6 'Daily.Five:0:*:6461696c7966697665' 'Daily.Six:0:*:6461696c79736978'
build daily 7 'Daily.Five:0:*:6461696c7966697665' 'Daily.Six:0:*:6461696c79736978' 'Daily.Seven:0:*:736576656e736576656e'
cdiff daily 5 6
cdiff daily 6 7
check "sigtool made the cdiff script" test -s "$T/b/daily-6/daily-6.script"

M=$T/mirror
D=$T/db/clamav
mkdir -p "$M"
printf 'mainonemain dailyfive dailysix sevenseven\n' >"$T/sample.txt"
up() { KHIEN_TEST_CLAMAV_KEYS="$TESTKEYS" "$KHIEN" update --mirror "$M" --dir "$D" "$@"; }
scan() { KHIEN_TEST_CLAMAV_KEYS="$TESTKEYS" "$KHIEN" scan --allmatch --no-summary --no-builtin --no-cache -d "$D" "$T/sample.txt"; }
sums() { (cd "$D" && sha256sum * | sort); }

# 1. First download.
cp "$T/b/main-1/main.cvd" "$T/b/daily-5/daily.cvd" "$M/"
expect_rc 0 "first update" up
check "reports main version 1" has "main.cvd: tải về / downloaded version 1"
check "reports daily version 5" has "daily.cvd: tải về / downloaded version 5"
check "bytecode reported missing on the mirror" has "bytecode: không có trên máy chủ gương / not on the mirror"
check "files in place" test -f "$D/main.cvd" -a -f "$D/daily.cvd"
expect_rc 1 "scan with the new folder" scan
check "Main.One detected" has "Main.One FOUND"
check "Daily.Five detected" has "Daily.Five FOUND"
check "no Daily.Six yet" test "$(grep -c Daily.Six "$T/out")" -eq 0

# 2. Incremental: daily 6 with its .cdiff.
cp "$T/b/daily-6/daily.cvd" "$T/b/daily-6.cdiff" "$M/"
expect_rc 0 "incremental update" up
check "daily updated 5 -> 6 by one .cdiff" has "daily.cld: cập nhật / updated 5 -> 6 with 1 .cdiff patch"
check "main up to date" has "main.cvd: đã mới nhất / up to date (version 1"
check "daily.cld replaces daily.cvd" test -f "$D/daily.cld" -a ! -e "$D/daily.cvd"
check "previous set kept" test -f "$T/db/clamav.previous/daily.cvd"
# the patched .cld holds exactly the files sigtool built for version 6
"$PY" - "$D/daily.cld" "$T/b/daily-6/daily.cud" >"$T/cmp.txt" <<'EOF'
import io, sys, tarfile
def files(p):
    d = open(p, "rb").read()[512:]
    t = tarfile.open(fileobj=io.BytesIO(d), mode="r:*")
    return {m.name: t.extractfile(m).read() for m in t.getmembers()}
a, b = files(sys.argv[1]), files(sys.argv[2])
ok = sorted(a) == sorted(b) and all(a[n] == b[n] for n in a if not n.endswith(".info"))
info = a["daily.info"].split(b"DSIG:")[0] == b["daily.info"]
print("same" if ok and info else "differ: %s %s" % (sorted(a), sorted(b)))
EOF
check "the .cld has sigtool's version 6 files" grep -qx same "$T/cmp.txt"
check "the .cld header is version 6" grep -q "^ClamAV-VDB:[^:]*:6:" <(head -c 512 "$D/daily.cld")
expect_rc 1 "scan after the patch" scan
check "Daily.Six detected" has "Daily.Six FOUND"

# 3. Nothing new.
before=$(sums)
expect_rc 0 "up to date" up
check "daily up to date" has "daily.cld: đã mới nhất / up to date (version 6"
check "nothing changed" test "$before" = "$(sums)"

# 4. A damaged mirror: daily 7 with one byte changed, its .cdiff wrongly signed.
cp "$T/b/daily-7/daily.cvd" "$M/daily.cvd"
flip_byte "$M/daily.cvd" 800
cp "$T/b/daily-7.cdiff" "$M/daily-7.cdiff"
flip_byte "$M/daily-7.cdiff" 60
expect_rc 2 "damaged mirror refused" up
check "the .cdiff's signature is named" has_err "digital signature is not valid"
check "the .cvd's MD5 is named" has_err "MD5 of the content"
check "says nothing changed" has_err "nothing was changed"
check "previous set kept as it was" test "$before" = "$(sums)"
check "no staging folder left" test ! -e "$T/db/clamav.new"

# 5. A good .cdiff beside the damaged .cvd: the patch path needs no .cvd.
cp "$T/b/daily-7.cdiff" "$M/daily-7.cdiff"
cp "$T/b/daily-7/daily.cvd" "$T/good7.cvd"
head -c 512 "$T/good7.cvd" >"$T/h"
dd if="$T/h" of="$M/daily.cvd" bs=512 count=1 conv=notrunc 2>/dev/null # header of 7, body damaged
expect_rc 0 "patched to 7 through the .cdiff" up
check "6 -> 7 by one .cdiff" has "updated 6 -> 7 with 1 .cdiff patch"
expect_rc 1 "scan after the second patch" scan
check "Daily.Seven detected" has "Daily.Seven FOUND"

# 6. Whole files (--no-cdiff) into a new folder; ClamAV's keys refuse test signatures.
cp "$T/good7.cvd" "$M/daily.cvd"
D=$T/db2
expect_rc 0 "--no-cdiff fetches whole files" up --no-cdiff
check "daily version 7 downloaded" has "daily.cvd: tải về / downloaded version 7"
D=$T/db3
expect_rc 2 "ClamAV's keys refuse the test-signed mirror" "$KHIEN" update --mirror "$M" --dir "$D"
check "refusal message" has_err "refused"
check "no folder created" test ! -e "$D"
expect_rc 0 "--unsigned-ok accepts it" "$KHIEN" update --mirror "$M" --dir "$D" --unsigned-ok
check "with a warning" has_err "signature in the header is not valid"

# 7. Bad usage.
expect_rc 2 "no --mirror" "$KHIEN" update --dir "$D"
expect_rc 2 "mirror that does not exist" "$KHIEN" update --mirror "$T/nowhere" --dir "$D"
mkdir -p "$T/empty"
expect_rc 2 "mirror without databases" "$KHIEN" update --mirror "$T/empty" --dir "$T/db4"
finish
