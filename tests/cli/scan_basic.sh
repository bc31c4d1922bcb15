#!/bin/bash
# End-to-end: khien scan on EICAR (plain, zip, zip in tar.gz), exit codes, JSON.
. "$SRC/tests/lib.sh"
mkdir -p "$T/d/sub"
eicar "$T/d/eicar.com"
echo "hello" > "$T/d/clean.txt"
(cd "$T/d" && zip -q sub/e.zip eicar.com && tar czf nested.tar.gz -C sub e.zip)

expect_rc 1 "EICAR found (exit 1)" "$KHIEN" scan --no-summary "$T/d/eicar.com"
check "FOUND line names the built-in signature" has "$T/d/eicar.com: Eicar-Test-Signature FOUND"
expect_rc 0 "clean file (exit 0)" "$KHIEN" scan --no-summary "$T/d/clean.txt"
check "clean file prints nothing without --verbose" test ! -s "$T/out"
expect_rc 0 "clean file with --verbose" "$KHIEN" scan --no-summary --verbose "$T/d/clean.txt"
check "--verbose prints OK" has "$T/d/clean.txt: OK"
expect_rc 1 "folder with archives" "$KHIEN" scan --allmatch --no-summary "$T/d"
check "member of zip reported" has "$T/d/sub/e.zip!eicar.com: Eicar-Test-Signature FOUND"
check "zip inside tar.gz reported" has "$T/d/nested.tar.gz!e.zip!eicar.com: Eicar-Test-Signature FOUND"
printf 'Other:0:*:6e6f742d696e2d66696c65\n' > "$T/other.ndb"
expect_rc 0 "--no-builtin finds nothing" "$KHIEN" scan --no-builtin -d "$T/other.ndb" --no-summary "$T/d/eicar.com"
expect_rc 2 "--no-builtin without databases is an error" "$KHIEN" scan --no-builtin "$T/d/eicar.com"
expect_rc 1 "JSON output" "$KHIEN" scan --json "$T/d/sub/e.zip"
check "JSON detection line" hasre '^\{"type":"detection","path":"[^"]*/e.zip","member":"!eicar.com","signature":"Eicar-Test-Signature","source":"<builtin>","kind":"body","offset":0\}$'
check "JSON summary line" hasre '^\{"type":"summary".*"infected_files":1'
expect_rc 2 "missing path is an error (exit 2)" "$KHIEN" scan --no-summary "$T/nope"
expect_rc 2 "missing database is exit 2" "$KHIEN" scan -d "$T/none.ndb" "$T/d/clean.txt"
check "missing database named" has_err "$T/none.ndb"
expect_rc 2 "bad option is exit 2" "$KHIEN" scan --bogus
finish
