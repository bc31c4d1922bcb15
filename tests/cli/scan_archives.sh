#!/bin/bash
# End-to-end: archives and compressed files. EICAR in zip, 7z, tar.gz,
# tar.bz2, tar.xz, plain tar and lone gz/bz2/xz; a payload behind zeros in a
# gz; nesting beyond --max-recursion; --max-files, --max-filesize and
# --max-scansize inside archives; encrypted and damaged archives; and
# decompression bombs made at test time (300 MB of zeros through a pipe,
# never stored) that must be reported quickly and in little memory.
. "$SRC/tests/lib.sh"
PY=/usr/bin/python3 # the system one starts fast; a pyenv shim can take seconds
[ -x "$PY" ] || PY=python3
F="Eicar-Test-Signature FOUND"
A=$T/a
mkdir -p "$A/src/dir/inner"
eicar "$A/src/eicar.com"
cp "$A/src/eicar.com" "$A/src/dir/inner/eicar.com"
(
  cd "$A/src" || exit 1
  zip -q ../e.zip eicar.com
  zip -q -r ../deep.zip dir
  tar cf ../e.tar eicar.com
  tar czf ../e.tar.gz eicar.com
  tar cjf ../e.tar.bz2 eicar.com
  tar cJf ../e.tar.xz eicar.com
  gzip -c eicar.com > ../eicar.com.gz
  bzip2 -c eicar.com > ../eicar.com.bz2
  xz -c eicar.com > ../eicar.com.xz
)

expect_rc 1 "EICAR in zip" "$KHIEN" scan --no-summary "$A/e.zip"
check "zip member named" has "$A/e.zip!eicar.com: $F"
expect_rc 1 "EICAR in a folder inside zip" "$KHIEN" scan --no-summary "$A/deep.zip"
check "member path inside zip kept" has "$A/deep.zip!dir/inner/eicar.com: $F"
expect_rc 1 "EICAR in plain tar" "$KHIEN" scan --no-summary "$A/e.tar"
check "tar member named" has "$A/e.tar!eicar.com: $F"
for ext in tar.gz tar.bz2 tar.xz; do
  expect_rc 1 "EICAR in $ext" "$KHIEN" scan --no-summary "$A/e.$ext"
  check "$ext member named" has "$A/e.$ext!eicar.com: $F"
done
for ext in gz bz2 xz; do
  expect_rc 1 "EICAR in a lone .$ext" "$KHIEN" scan --no-summary "$A/eicar.com.$ext"
  check "lone .$ext content named after the file" has "$A/eicar.com.$ext!eicar.com: $F"
done
if command -v 7z >/dev/null 2>&1; then
  (cd "$A/src" && 7z a -bd -bso0 -bsp0 ../e.7z eicar.com >/dev/null)
  expect_rc 1 "EICAR in 7z" "$KHIEN" scan --no-summary "$A/e.7z"
  check "7z member named" has "$A/e.7z!eicar.com: $F"
else
  echo "skip 7z: no 7z command to make the archive"
fi
expect_rc 0 "--no-archive does not open archives" "$KHIEN" scan --no-summary --no-archive "$A/e.zip" "$A/e.tar.gz"
check "--no-archive: nothing reported" test ! -s "$T/out"

# A whole folder: every archive above, each once, in name order.
expect_rc 1 "folder of archives" "$KHIEN" scan --no-summary "$A"
check "one line per infected file" test "$(grep -c "$F" "$T/out")" -eq "$(find "$A" -type f | wc -l)"
check "folder output sorted by path" bash -c "cut -d: -f1 '$T/out' | LC_ALL=C sort -c"

# A payload behind a block of zeros inside gzip: content no archive format
# takes must still be scanned. (A marker signature: EICAR must be at 0.)
mkdir -p "$T/z"
printf 'Test.Marker:0:*:%s\n' "$(printf 'khien-marker-7f3a' | od -An -tx1 | tr -d ' \n')" > "$T/marker.ndb"
{ head -c 4096 /dev/zero; printf 'khien-marker-7f3a'; } | gzip > "$T/z/zeros.bin.gz"
expect_rc 1 "payload after zeros in gz found" "$KHIEN" scan --no-summary -d "$T/marker.ndb" "$T/z/zeros.bin.gz"
check "named as the gz content" has "$T/z/zeros.bin.gz!zeros.bin: Test.Marker FOUND"
{ head -c 4096 /dev/zero; printf 'khien-marker-7f3a'; } | xz > "$T/z/zeros.xz"
expect_rc 1 "payload after zeros in xz found" "$KHIEN" scan --no-summary -d "$T/marker.ndb" "$T/z/zeros.xz"

# Nesting: l3.zip > l2.zip > l1.zip > eicar.com. --max-recursion N opens N levels.
N=$T/n
mkdir -p "$N"
cp "$A/src/eicar.com" "$N/"
(cd "$N" && zip -q l1.zip eicar.com && zip -q l2.zip l1.zip && zip -q l3.zip l2.zip && rm eicar.com l1.zip l2.zip)
expect_rc 1 "3 levels open with --max-recursion 3" "$KHIEN" scan --no-summary --max-recursion 3 "$N/l3.zip"
check "nested member path" has "$N/l3.zip!l2.zip!l1.zip!eicar.com: $F"
expect_rc 0 "--max-recursion 2 stops one level short" "$KHIEN" scan --no-summary --max-recursion 2 "$N/l3.zip"
check "nothing found beyond the limit" test ! -s "$T/out"
check "warning names the unopened archive" has_err "khien: warning: $N/l3.zip!l2.zip!l1.zip: archive not opened: nested deeper than max-recursion (2)"
expect_rc 1 "--alert-exceeds-max reports the limit" "$KHIEN" scan --no-summary --max-recursion 2 --alert-exceeds-max "$N/l3.zip"
check "MaxRecursion result" has "$N/l3.zip!l2.zip!l1.zip: Heuristics.Limits.Exceeded.MaxRecursion FOUND"
expect_rc 0 "--max-recursion 0 opens nothing" "$KHIEN" scan --no-summary --max-recursion 0 "$A/e.zip"

# --max-files: four clean members, EICAR fifth.
M=$T/m
mkdir -p "$M"
(cd "$M" && for i in 1 2 3 4; do echo "clean $i" > "c$i.txt"; done && cp "$A/src/eicar.com" z5.com &&
  zip -q m.zip c1.txt c2.txt c3.txt c4.txt z5.com && rm c?.txt z5.com)
expect_rc 1 "--max-files 5 reaches the fifth member" "$KHIEN" scan --no-summary --max-files 5 "$M/m.zip"
check "fifth member found" has "$M/m.zip!z5.com: $F"
expect_rc 0 "--max-files 4 stops before it" "$KHIEN" scan --no-summary --max-files 4 "$M/m.zip"
check "max-files warning names the archive" has_err "khien: warning: $M/m.zip"
check "max-files warning text" has_err "too many archive members, the rest were not scanned: max-files (4)"
check "max-files warning does not blame a member" bash -c "! grep -q 'm.zip!c4.txt' '$T/err'"
expect_rc 1 "--max-files with --alert-exceeds-max" "$KHIEN" scan --no-summary --max-files 4 --alert-exceeds-max "$M/m.zip"
check "MaxFiles result on the archive" has "$M/m.zip: Heuristics.Limits.Exceeded.MaxFiles FOUND"

# --max-filesize and --max-scansize inside an archive.
L=$T/l
mkdir -p "$L"
head -c 2000000 /dev/urandom > "$L/big.bin"
yes 'khien' | head -c 2000000 > "$L/text.txt" # compresses to a few KB
cp "$A/src/eicar.com" "$L/z.com"
(cd "$L" && tar czf t.tgz big.bin z.com && zip -q s.zip text.txt z.com && rm big.bin text.txt z.com)
expect_rc 1 "member over --max-filesize skipped, the next one scanned" "$KHIEN" scan --no-summary --max-filesize 1M "$L/s.zip"
check "max-filesize warning" has_err "member not scanned: larger than max-filesize (1048576)"
check "member after it found" has "$L/s.zip!z.com: $F"
expect_rc 1 "EICAR after a big member within limits" "$KHIEN" scan --no-summary "$L/t.tgz"
check "second tar member found" has "$L/t.tgz!z.com: $F"
expect_rc 0 "--max-scansize stops the rest of the file" "$KHIEN" scan --no-summary --max-scansize 1M "$L/t.tgz"
check "max-scansize warning" has_err "max-scansize reached"

# Encrypted and damaged archives are warnings, and the scan goes on.
D=$T/d
mkdir -p "$D"
(cd "$A/src" && zip -q -P secret "$D/enc.zip" eicar.com)
head -c 60 "$A/e.zip" > "$D/cut.zip"
head -c 100 "$A/e.tar.gz" > "$D/cut.tar.gz"
cp "$A/src/eicar.com" "$D/zz.com"
expect_rc 1 "damaged and encrypted archives do not stop the scan" "$KHIEN" scan --no-summary "$D"
check "encrypted member warning" has_err "encrypted member not scanned"
check "the file after them is still found" has "$D/zz.com: $F"
check "no error for damaged archives" bash -c "! grep -q ERROR '$T/err'"

# Decompression bombs: 300 MB of zeros made through a pipe (never stored
# uncompressed), in zip and in gzip. Reported quickly, in little memory.
B=$T/b
mkdir -p "$B"
head -c 300M /dev/zero | zip -q "$B/bomb.zip" -
head -c 300M /dev/zero | gzip -6 > "$B/bomb.gz"
# run_measured CMD...: like expect_rc's run, and sets MAXRSS_KB and SECS.
run_measured() {
  local r
  r=$("$PY" - "$T/out" "$T/err" "$@" <<'EOF'
import resource, subprocess, sys, time
out, err, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
t = time.time()
with open(out, "wb") as o, open(err, "wb") as e:
    rc = subprocess.call(cmd, stdout=o, stderr=e)
secs = time.time() - t
kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(rc, int(secs), kb)
EOF
)
  set -- $r
  RC=$1 SECS=$2 MAXRSS_KB=$3
}
for bomb in bomb.zip bomb.gz; do
  run_measured "$KHIEN" scan --no-summary --no-cache "$B/$bomb"
  check "$bomb: exit 1 (a heuristic result)" test "$RC" -eq 1
  check "$bomb: MaxRatio result" hasre "^$B/$bomb(!.*)?: Heuristics.Limits.Exceeded.MaxRatio FOUND\$"
  check "$bomb: ratio warning" has_err "compression ratio above 250"
  check "$bomb: under 60 s (took ${SECS}s)" test "$SECS" -lt 60
  # 300 MB extracted would need more than 300 MB; the limit stops far earlier.
  check "$bomb: under 250 MB of memory (used $((MAXRSS_KB / 1024)) MB)" test "$MAXRSS_KB" -lt 256000
done
finish
