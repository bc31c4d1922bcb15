#!/bin/bash
# End-to-end: the clean-file cache. A second scan reads nothing it found
# clean before; a modified file (even with its mtime put back) is scanned
# again; another signature set, or a changed database, invalidates the
# cache; a damaged cache file (clean-file or compiled signatures) never
# breaks a scan nor is trusted; a partial scan (--no-archive, or one that
# gave a warning) is never remembered as clean. The signature set is loaded
# only when a file has to be read; options that can change a clean verdict
# (the limits) invalidate.
. "$SRC/tests/lib.sh"
F="Eicar-Test-Signature FOUND"
STATE=$KHIEN_STATE_DIR
CACHE=$STATE/clean-cache.bin
eicar "$T/eicar.src"
C=$T/c
mkdir -p "$C/sub"
for i in 1 2 3 4; do head -c $((i * 1000)) /dev/urandom > "$C/f$i.bin"; done
head -c "$(wc -c < "$T/eicar.src")" /dev/zero | tr '\0' 'x' > "$C/sub/same-size.txt"
# summary VALUE KEY: the number after "KEY": in the JSON summary of $T/out
jnum() { sed -n "s/.*\"$1\":\\([0-9]*\\).*/\\1/p" "$T/out" | tail -1; }

expect_rc 0 "first scan" "$KHIEN" scan --json "$C"
check "first scan: nothing cached" test "$(jnum cached)" -eq 0
check "first scan: 5 files" test "$(jnum files)" -eq 5
check "first scan: the cache file was written" test -s "$CACHE"
expect_rc 0 "second scan" "$KHIEN" scan --json --verbose "$C"
check "second scan: all 5 unchanged" test "$(jnum cached)" -eq 5
check "second scan: no byte read" test "$(jnum bytes_scanned)" -eq 0
check "second scan: each clean file marked cached" test "$(grep -c '"type":"clean".*"cached":true' "$T/out")" -eq 5
expect_rc 0 "text summary" "$KHIEN" scan "$C"
check "summary line for unchanged files" has "Unchanged since a clean scan (not read): 5"

# A modified file is scanned again.
echo more >> "$C/f2.bin"
expect_rc 0 "after appending to one file" "$KHIEN" scan --json --verbose "$C"
check "4 unchanged" test "$(jnum cached)" -eq 4
check "the modified file was read" hasre "\"type\":\"clean\",\"path\":\"$C/f2.bin\"}"
# Same size, same mtime: only the ctime tells. The content becomes EICAR.
touch -r "$C/sub/same-size.txt" "$T/mtime.ref"
expect_rc 0 "before the swap" "$KHIEN" scan --json "$C"
check "all 5 unchanged before the swap" test "$(jnum cached)" -eq 5
sleep 0.05
cat "$T/eicar.src" > "$C/sub/same-size.txt"
touch -r "$T/mtime.ref" "$C/sub/same-size.txt"
check "same size after the swap" test "$(wc -c < "$C/sub/same-size.txt")" -eq "$(wc -c < "$T/eicar.src")"
expect_rc 1 "content swapped, size and mtime kept: found" "$KHIEN" scan --no-summary "$C"
check "swapped file reported" has "$C/sub/same-size.txt: $F"
rm "$C/sub/same-size.txt"

# Infected files are never remembered.
cp "$T/eicar.src" "$C/z.com"
expect_rc 1 "infected file, first time" "$KHIEN" scan --no-summary "$C"
expect_rc 1 "infected file, second time" "$KHIEN" scan --no-summary "$C"
check "still reported" has "$C/z.com: $F"
rm "$C/z.com"

# Another signature set: nothing is trusted.
printf 'Extra.Sig:0:*:%s\n' "$(printf 'not-in-any-file' | od -An -tx1 | tr -d ' \n')" > "$T/extra.ndb"
expect_rc 0 "built-in set again" "$KHIEN" scan --json "$C"
check "built-in set: 4 unchanged" test "$(jnum cached)" -eq 4
expect_rc 0 "with an extra database" "$KHIEN" scan --json -d "$T/extra.ndb" "$C"
check "another set: nothing cached" test "$(jnum cached)" -eq 0
expect_rc 0 "with the extra database again" "$KHIEN" scan --json -d "$T/extra.ndb" "$C"
check "same set again: 4 unchanged" test "$(jnum cached)" -eq 4
echo 'Extra.Two:0:*:6e6f742d796574' >> "$T/extra.ndb"
expect_rc 0 "after the database changed" "$KHIEN" scan --json -d "$T/extra.ndb" "$C"
check "changed database: nothing cached" test "$(jnum cached)" -eq 0
expect_rc 0 "--no-cache" "$KHIEN" scan --json --no-cache -d "$T/extra.ndb" "$C"
check "--no-cache: nothing cached" test "$(jnum cached)" -eq 0
check "--no-cache: every byte read" test "$(jnum bytes_scanned)" -gt 10000

# Damaged cache files: the scan works and trusts nothing.
expect_rc 0 "cache warm" "$KHIEN" scan --json "$C"
expect_rc 0 "cache warm, check" "$KHIEN" scan --json "$C"
check "warm cache: 4 unchanged" test "$(jnum cached)" -eq 4
size=$(wc -c < "$CACHE")
damage_cache() {
  case $1 in
    garbage) head -c "$size" /dev/urandom > "$CACHE" ;;
    truncate) truncate -s $((size - 1)) "$CACHE" ;;
    short) truncate -s 10 "$CACHE" ;;
    empty) : > "$CACHE" ;;
    flip) printf '\xff' | dd of="$CACHE" bs=1 seek=$((size - 5)) conv=notrunc 2>/dev/null ;;
  esac
}
for how in garbage truncate short empty flip; do
  expect_rc 0 "cache warm before '$how'" "$KHIEN" scan --json "$C"
  damage_cache "$how"
  expect_rc 0 "damaged cache ($how): scan works" "$KHIEN" scan --json "$C"
  check "damaged cache ($how): nothing trusted" test "$(jnum cached)" -eq 0
  check "damaged cache ($how): no error" test "$(jnum errors)" -eq 0
  expect_rc 0 "damaged cache ($how): rewritten" "$KHIEN" scan --json "$C"
  check "damaged cache ($how): works again afterwards" test "$(jnum cached)" -eq 4
done
# A damaged file of another kind in the way: a directory.
rm -f "$CACHE"
mkdir "$CACHE"
expect_rc 0 "cache path is a directory: scan works" "$KHIEN" scan "$C"
check "cache path is a directory: nothing cached" bash -c "! grep -q Unchanged '$T/out'"
rmdir "$CACHE"

# A damaged compiled-signature cache is rebuilt, never trusted.
cp "$T/eicar.src" "$T/e.com"
expect_rc 1 "compiled cache warm" "$KHIEN" scan --no-summary "$T/e.com"
n=0
for kdb in "$STATE"/compiled/*.kdb; do
  [ -f "$kdb" ] || continue
  n=$((n + 1))
  head -c "$(wc -c < "$kdb")" /dev/urandom > "$kdb"
done
check "compiled sets exist in the state folder" test "$n" -gt 0
expect_rc 1 "damaged compiled cache: EICAR still found" "$KHIEN" scan --no-summary "$T/e.com"
check "found with a rebuilt set" has "$T/e.com: $F"
for kdb in "$STATE"/compiled/*.kdb; do [ -f "$kdb" ] && : > "$kdb"; done
expect_rc 1 "empty compiled cache: EICAR still found" "$KHIEN" scan --no-summary "$T/e.com"

# The signature set is loaded only when a file has to be read. With every
# file known clean it is not even opened: a damaged compiled set goes
# unnoticed (and is not rebuilt) until a changed file needs it.
rm -rf "$STATE/compiled" "$CACHE"
expect_rc 0 "lazy: first scan" "$KHIEN" scan --json "$C"
expect_rc 0 "lazy: second scan" "$KHIEN" scan --json "$C"
check "lazy: all 4 unchanged" test "$(jnum cached)" -eq 4
expect_rc 0 "lazy: text summary, set not loaded" "$KHIEN" scan "$C"
grep '^Known viruses:' "$T/out" > "$T/known.lazy"
expect_rc 0 "lazy: text summary, set loaded (--no-cache)" "$KHIEN" scan --no-cache "$C"
grep '^Known viruses:' "$T/out" > "$T/known.eager"
check "lazy: same signature count whether loaded or read from the compiled set's header" \
  cmp -s "$T/known.lazy" "$T/known.eager"
check "lazy: the count is not zero" bash -c "! grep -qx 'Known viruses: 0' '$T/known.lazy'"
set -- "$STATE"/compiled/*.kdb
check "lazy: one compiled set" test "$#" -eq 1 -a -f "$1"
KDB=$1
head -c "$(wc -c < "$KDB")" /dev/urandom > "$KDB"
before=$(stat -c '%i %s %y' "$KDB")
expect_rc 0 "lazy: damaged compiled set, unchanged files: scan works" "$KHIEN" scan --no-summary "$C"
check "lazy: damaged compiled set not needed, so not rebuilt" test "$(stat -c '%i %s %y' "$KDB")" = "$before"
sleep 0.05
cat "$T/eicar.src" > "$C/f1.bin"
expect_rc 1 "lazy: a changed file needs the set: damage noticed, set rebuilt, file scanned" \
  "$KHIEN" scan --no-summary "$C"
check "lazy: the changed file's detection" has "$C/f1.bin: $F"
check "lazy: the damaged compiled set was replaced" test "$(stat -c '%i %s %y' "$KDB")" != "$before"
head -c 1000 /dev/urandom > "$C/f1.bin"
# A changed database invalidates every entry even when no scanned file
# changed, and even with the same size and mtime (its ctime and inode tell).
printf 'lazy-marker-0123456789\n' > "$C/marker.txt"
hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
printf 'Lazy.Sig:0:*:%s\n' "$(hex lazy-marker-9876543210)" > "$T/lazy.ndb"
expect_rc 0 "db change: first scan" "$KHIEN" scan --json -d "$T/lazy.ndb" "$C"
expect_rc 0 "db change: second scan" "$KHIEN" scan --json -d "$T/lazy.ndb" "$C"
check "db change: all 5 unchanged before" test "$(jnum cached)" -eq 5
touch -r "$T/lazy.ndb" "$T/ndb.ref"
printf 'Lazy.Sig:0:*:%s\n' "$(hex lazy-marker-0123456789)" > "$T/lazy.new"
check "db change: same size" test "$(wc -c < "$T/lazy.new")" -eq "$(wc -c < "$T/lazy.ndb")"
cat "$T/lazy.new" > "$T/lazy.ndb"
touch -r "$T/ndb.ref" "$T/lazy.ndb"
expect_rc 1 "db change (same size and mtime): the unchanged file is scanned again and found" \
  "$KHIEN" scan --no-summary -d "$T/lazy.ndb" "$C"
check "db change: detection" has "$C/marker.txt: Lazy.Sig FOUND"
rm "$C/marker.txt"
# --verbose lists the set's databases: it loads the set, and the cache still works.
expect_rc 0 "verbose: scan" "$KHIEN" scan --verbose "$C"
expect_rc 0 "verbose: again" "$KHIEN" scan --verbose "$C"
check "verbose: files unchanged" has "Unchanged since a clean scan (not read): 4"
check "verbose: the databases are listed" has "<builtin>"
expect_rc 0 "lazy after a loaded run: same identity" "$KHIEN" scan --json "$C"
check "lazy after a loaded run: all 4 unchanged (kh_compiler_identity = kh_rules_id)" test "$(jnum cached)" -eq 4
# A strict load that fails is still an error when the set is needed.
printf 'Bad.Line\n' > "$T/bad.ndb"
expect_rc 2 "strict, malformed database, files to read: exit 2" "$KHIEN" scan --strict -d "$T/bad.ndb" "$C"

# Options that can change a clean verdict are part of the cache's identity:
# a zip found clean with the default limits holds a member larger than a
# lower --max-filesize, which --alert-exceeds-max reports.
L=$T/limits
mkdir -p "$L"
head -c 60000 /dev/urandom | base64 > "$T/member.txt"
(cd "$T" && zip -q "$L/m.zip" member.txt)
expect_rc 0 "limits: default scan of the zip" "$KHIEN" scan --json "$L"
expect_rc 0 "limits: again" "$KHIEN" scan --json "$L"
check "limits: zip remembered clean" test "$(jnum cached)" -eq 1
expect_rc 1 "limits: lower --max-filesize with --alert-exceeds-max: the member is over it" \
  "$KHIEN" scan --no-summary --max-filesize=70K --alert-exceeds-max "$L"
check "limits: reported, not taken from the cache" has "Heuristics.Limits.Exceeded"
# --allmatch is not: a file is remembered only when nothing at all matched,
# which --allmatch does not change (files with detections are always read).
expect_rc 0 "allmatch: default scan" "$KHIEN" scan --json "$C"
expect_rc 0 "allmatch: -z scan of the same files" "$KHIEN" scan --json -z "$C"
check "allmatch: unchanged clean files still known clean" test "$(jnum cached)" -eq 4
cp "$T/eicar.src" "$C/z2.com"
expect_rc 1 "allmatch: a detection is always read" "$KHIEN" scan --no-summary -z "$C"
check "allmatch: found" has "$C/z2.com: $F"
rm "$C/z2.com"

# Partial scans are not remembered as clean.
Z=$T/z
mkdir -p "$Z"
(cd "$T" && zip -q "$Z/e.zip" e.com && zip -q -P pw "$Z/enc.zip" e.com)
expect_rc 0 "--no-archive scan of a zip with EICAR" "$KHIEN" scan --no-archive --json "$Z/e.zip"
expect_rc 1 "then a full scan finds it" "$KHIEN" scan --no-summary "$Z/e.zip"
check "member reported after a --no-archive scan" has "$Z/e.zip!e.com: $F"
expect_rc 0 "encrypted zip: warning" "$KHIEN" scan --json "$Z/enc.zip"
expect_rc 0 "encrypted zip again" "$KHIEN" scan --json "$Z/enc.zip"
check "a file with a warning is scanned again" test "$(jnum cached)" -eq 0
check "and warns again" has '"type":"warning"'
finish
