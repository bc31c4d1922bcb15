#!/bin/bash
# End-to-end: signature databases with problems. A malformed line is an
# error naming file:line:column plus a warning with the count, and the scan
# still runs with the rest; --strict makes it exit 2; a missing, unreadable,
# unknown or non-regular database exits 2 at once; formats and signatures
# we cannot use yet are reported, never dropped silently.
. "$SRC/tests/lib.sh"
chmod 755 "$T"
hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
MARK=khien-marker-51c2
printf 'has %s inside\n' "$MARK" > "$T/target.txt"
echo "nothing here" > "$T/clean.txt"
DB=$T/db
mkdir -p "$DB"
{
  echo "# line 1: a comment"
  echo "Good.Marker:0:*:$(hex "$MARK")"
  echo "Bad.Hex:0:*:41zz"
} > "$DB/one.ndb"

expect_rc 1 "malformed line: the scan still runs" "$KHIEN" scan --no-summary -d "$DB/one.ndb" "$T/target.txt"
check "the good signature is used" has "$T/target.txt: Good.Marker FOUND"
check "error names file:line:column" has_err "khien: $DB/one.ndb:3:15: error: bad hex signature"
check "warning with the count" has_err "khien: $DB/one.ndb: warning: 1 malformed line skipped"
# The second start maps the compiled set: the same messages again.
cp "$T/err" "$T/err.first"
expect_rc 1 "second start (compiled cache)" "$KHIEN" scan --no-summary -d "$DB/one.ndb" "$T/target.txt"
check "same diagnostics from the compiled cache" cmp -s "$T/err.first" "$T/err"
expect_rc 1 "--quiet keeps the error, drops the warning" "$KHIEN" scan --quiet -d "$DB/one.ndb" "$T/target.txt"
check "--quiet: error kept" has_err "one.ndb:3:15: error:"
check "--quiet: warning dropped" bash -c "! grep -q 'warning' '$T/err'"

expect_rc 2 "--strict: a malformed line is exit 2" "$KHIEN" scan --strict --no-summary -d "$DB/one.ndb" "$T/target.txt"
check "--strict: error named" has_err "khien: $DB/one.ndb:3:15: error: bad hex signature"
check "--strict: nothing scanned" test ! -s "$T/out"
expect_rc 2 "--strict on a directory with a malformed file" "$KHIEN" scan --strict --no-summary -d "$DB" "$T/clean.txt"

# Several kinds in a folder, bad lines in two of them.
{
  echo "900150983cd24fb0d6963f7d28e17f72:3:Abc.Md5"
  echo "900150983cd24fb0d6963f7d28e17f72:three:Bad.Size"
  echo "9001509x3cd24fb0d6963f7d28e17f72:3:Bad.Digit"
} > "$DB/two.hdb"
echo "ClamBCafhm...bytecode" > "$DB/three.cbc"
{
  echo "Html.Only:3:*:$(hex "$MARK")"
  echo "Version.Info:1:VI:$(hex "$MARK")"
} > "$DB/four.ndb"
echo "not a database" > "$DB/notes.txt"
printf abc > "$T/abc.bin"
expect_rc 1 "folder of databases with problems" "$KHIEN" scan --no-summary -d "$DB" "$T/target.txt" "$T/abc.bin"
check "hash signature used" has "$T/abc.bin: Abc.Md5 FOUND"
check "bad size column" has_err "khien: $DB/two.hdb:2:34: error: file size"
check "bad hex digit column" has_err "khien: $DB/two.hdb:3:8: error: invalid hex digit 'x'"
check "count for two.hdb" has_err "khien: $DB/two.hdb: warning: 2 malformed lines skipped"
check "count for one.ndb" has_err "khien: $DB/one.ndb: warning: 1 malformed line skipped"
check "later format reported" has_err "khien: $DB/three.cbc: warning: 1 signature of the .cbc format not loaded: bytecode"
check "target type reported" has_err "khien: $DB/four.ndb: warning: 1 signature for OLE2, HTML, mail or ASCII text files"
check "VI offset reported" has_err "khien: $DB/four.ndb: warning: 1 signature with version-information offsets (VI)"
check "unknown files in the folder ignored" bash -c "! grep -q notes.txt '$T/err'"
check "known viruses: built-in + Good.Marker + Abc.Md5" bash -c "'$KHIEN' scan -d '$DB' '$T/clean.txt' 2>/dev/null | grep -q '^Known viruses: 3\$'"

# Many malformed lines: only so many errors are printed, but the count is.
for i in $(seq 1 300); do echo "Bad.$i:0:*:zz"; done > "$T/many.ndb"
expect_rc 0 "300 malformed lines" "$KHIEN" scan --no-summary -d "$T/many.ndb" "$T/clean.txt"
check "at most a few hundred messages" test "$(wc -l < "$T/err")" -le 250
check "the count of all 300 is given" has_err "300 malformed lines skipped"

# Databases that cannot be used at all: exit 2 before scanning anything.
expect_rc 2 "missing database" "$KHIEN" scan --no-summary -d "$T/none.ndb" "$T/target.txt"
check "missing database named" has_err "$T/none.ndb"
check "missing database: reason" has_err "No such file or directory"
check "missing database: nothing scanned" test ! -s "$T/out"
expect_rc 2 "unknown database type" "$KHIEN" scan --no-summary -d "$T/clean.txt" "$T/target.txt"
check "unknown type explained" has_err "not a known signature database type (.txt)"
mkdir -p "$T/emptydb"
expect_rc 2 "folder without databases" "$KHIEN" scan --no-summary -d "$T/emptydb" "$T/target.txt"
check "empty folder explained" has_err "no supported database files found"
mkfifo "$T/pipe.ndb"
expect_rc 2 "a FIFO as database: exit 2, no hang" timeout 20 "$KHIEN" scan --no-summary -d "$T/pipe.ndb" "$T/target.txt"
mkdir -p "$T/dir.ndb"
expect_rc 2 "a folder named like a database with nothing in it" "$KHIEN" scan --no-summary -d "$T/dir.ndb" "$T/target.txt"

# Unreadable database: as root, checked as uid 65534.
cp "$DB/one.ndb" "$T/locked.ndb"
chmod 600 "$T/locked.ndb"
AS=()
if [ "$(id -u)" -eq 0 ]; then
  if command -v setpriv >/dev/null 2>&1 && setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
    AS=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
  fi
else
  chmod 000 "$T/locked.ndb"
fi
if [ "$(id -u)" -eq 0 ] && [ ${#AS[@]} -eq 0 ]; then
  echo "skip unreadable-database check: running as root and cannot switch to uid 65534 (no setpriv)"
else
  mkdir -p "$T/nstate" && chmod 777 "$T/nstate"
  chmod 644 "$T/target.txt"
  expect_rc 2 "unreadable database" env KHIEN_STATE_DIR="$T/nstate" "${AS[@]}" "$KHIEN" scan --no-summary -d "$T/locked.ndb" "$T/target.txt"
  check "unreadable database named with the reason" has_err "$T/locked.ndb: error: cannot open database: Permission denied"
  check "unreadable database: nothing scanned" test ! -s "$T/out"
fi
finish
