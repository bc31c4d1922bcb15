#!/bin/bash
# khien update from an HTTP mirror (python3 -m http.server on a free port,
# serving a folder made here): first download, a .cdiff patch, a missing
# patch falling back to the whole .cvd, a mirror that answers 404.
. "$SRC/tests/lib.sh"

need clamav sigtool
PY=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}
S="$SRC/tests/tools/clamav_sign.py"
export KHIEN_TEST_CLAMAV_KEYS="$("$PY" "$S" keys)"

build() { # build NAME VERSION NDB-LINE...
    local n=$1 v=$2 d=$T/b/$1-$2
    shift 2
    mkdir -p "$d"
    echo "Test database for khien's tests" >"$d/COPYING"
    printf '%s\n' "$@" >"$d/$n.ndb"
    (cd "$d" && echo y | sigtool --unsigned --build=$n.cud --cvd-version=$v --datadir="$T/none" >/dev/null 2>&1)
    "$PY" "$S" sign-cvd "$d/$n.cud" "$d/$n.cvd"
}
build main 2 'Main.Two:0:*:6d61696e74776f6d61696e'
build daily 8 'Daily.Eight:0:*:6461696c796569676874'
build daily 9 'Daily.Eight:0:*:6461696c796569676874' 'Daily.Nine:0:*:6461696c796e696e65'
build daily 10 'Daily.Eight:0:*:6461696c796569676874' 'Daily.Nine:0:*:6461696c796e696e65' 'Daily.Ten:0:*:74656e74656e74656e'
(cd "$T/b/daily-9" && sigtool --diff="$T/b/daily-8/daily.cud" daily.cud >/dev/null 2>&1)
"$PY" "$S" cdiff "$T/b/daily-9/daily-9.script" "$T/b/daily-9/daily.cvd" "$T/b/daily-9.cdiff"

M=$T/www
mkdir -p "$M"
cp "$T/b/main-2/main.cvd" "$T/b/daily-8/daily.cvd" "$M/"
(cd "$M" && exec "$PY" -m http.server --bind 127.0.0.1 0 >"$T/http.log" 2>&1) &
server=$!
trap 'kill $server 2>/dev/null; chmod -R u+rwx "$T" 2>/dev/null; rm -rf "$T"' EXIT
port=""
for _ in $(seq 50); do
    port=$(sed -n 's/.*port \([0-9][0-9]*\).*/\1/p' "$T/http.log" | head -1)
    [ -n "$port" ] && break
    sleep 0.1
done
if [ -z "$port" ]; then
    echo "SKIP cannot start python3 -m http.server"
    exit 0
fi
U=http://127.0.0.1:$port
D=$T/db
printf 'maintwomain dailyeight dailynine tententen\n' >"$T/sample.txt"
scan() { "$KHIEN" scan --allmatch --no-summary --no-builtin --no-cache -d "$D" "$T/sample.txt"; }

expect_rc 0 "first update over HTTP" "$KHIEN" update --mirror "$U/" --dir "$D"
check "main version 2" has "main.cvd: tải về / downloaded version 2"
check "daily version 8" has "daily.cvd: tải về / downloaded version 8"
check "bytecode: 404 reported" has "bytecode: không có"
cp "$T/b/daily-9/daily.cvd" "$T/b/daily-9.cdiff" "$M/"
expect_rc 0 "patch over HTTP" "$KHIEN" update --mirror "$U" --dir "$D"
check "8 -> 9 by a .cdiff" has "daily.cld: cập nhật / updated 8 -> 9 with 1 .cdiff patch"
cp "$T/b/daily-10/daily.cvd" "$M/"
expect_rc 0 "no daily-10.cdiff: the whole file" "$KHIEN" update --mirror "$U" --dir "$D"
check "9 -> 10, whole file" has "daily.cvd: cập nhật / updated 9 -> 10, whole file"
check "the old .cld is gone" test ! -e "$D/daily.cld"
expect_rc 1 "scan" scan
check "Daily.Ten detected" has "Daily.Ten FOUND"
check "Main.Two detected" has "Main.Two FOUND"
expect_rc 2 "a folder without databases (404 everywhere)" "$KHIEN" update --mirror "$U/nothing" --dir "$T/db2"
expect_rc 2 "nothing listening" "$KHIEN" update --mirror "http://127.0.0.1:9/" --dir "$T/db3"
kill $server 2>/dev/null
finish
