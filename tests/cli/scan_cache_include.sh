#!/bin/bash
# End-to-end: the clean-file cache and YARA include files. The cache is keyed
# on the signature set's identity; a change to a file that a rule file
# includes (directly or through another include, relative to the including
# file) must change it, so files once found clean are read again. A missing
# include counts too: creating it changes the set.
. "$SRC/tests/lib.sh"
C=$T/c
R=$T/rules
mkdir -p "$C" "$R/sub"
printf 'nothing to see here\n' > "$C/a.txt"
printf 'an ordinary text with MARKER_TWO_42 inside\n' > "$C/b.txt"
printf 'and MARKER_THREE_7 in this one\n' > "$C/c.txt"
head -c 3000 /dev/urandom > "$C/d.bin"
# jnum KEY: the number after "KEY": in the JSON summary of $T/out
jnum() { sed -n "s/.*\"$1\":\\([0-9]*\\).*/\\1/p" "$T/out" | tail -1; }
rule() { # rule NAME TEXT: a rule matching TEXT
  printf 'rule %s { strings: $a = "%s" condition: $a }\n' "$1" "$2"
}

{ echo 'include "inc.yar"'; rule Top NOT_IN_ANY_FILE_1; } > "$R/rules.yar"
{ echo '/* a comment */ include /* between */ "sub/deep.yar"'; rule Inc NOT_IN_ANY_FILE_2; } > "$R/inc.yar"
rule Deep NOT_IN_ANY_FILE_3 > "$R/sub/deep.yar"

expect_rc 0 "first scan with included rules" "$KHIEN" scan --json -r "$R/rules.yar" "$C"
check "first scan: nothing cached" test "$(jnum cached)" -eq 0
expect_rc 0 "second scan, nothing changed" "$KHIEN" scan --json -r "$R/rules.yar" "$C"
check "second scan: all 4 unchanged" test "$(jnum cached)" -eq 4

# Only the included file changes: a file now matches.
{ echo '/* a comment */ include /* between */ "sub/deep.yar"'; rule Inc2 MARKER_TWO_42; } > "$R/inc.yar"
expect_rc 1 "included file changed: the new rule matches" "$KHIEN" scan --no-summary -r "$R/rules.yar" "$C"
check "included rule reported" has "$C/b.txt: Inc2 FOUND"
expect_rc 1 "included file changed, JSON" "$KHIEN" scan --json -r "$R/rules.yar" "$C"
check "changed include: one infected file" test "$(jnum infected_files)" -eq 1

# Include of an include, relative to the including file's folder (sub/).
expect_rc 1 "warm again" "$KHIEN" scan --json -r "$R/rules.yar" "$C"
check "warm: 3 unchanged" test "$(jnum cached)" -eq 3
rule Deep2 MARKER_THREE_7 > "$R/sub/deep.yar"
expect_rc 1 "nested include changed: found" "$KHIEN" scan --no-summary -r "$R/rules.yar" "$C"
check "nested include's rule reported" has "$C/c.txt: Deep2 FOUND"

# A change that keeps size and mtime (only the content tells).
expect_rc 1 "warm before same-size change" "$KHIEN" scan --json -r "$R/rules.yar" "$C"
check "warm: 2 unchanged" test "$(jnum cached)" -eq 2
touch -r "$R/sub/deep.yar" "$T/deep.ref"
rule Deep2 MARKER_THREE_7 | sed 's/Deep2/Deep3/' > "$R/sub/deep.yar.new"
mv "$R/sub/deep.yar.new" "$R/sub/deep.yar"
touch -r "$T/deep.ref" "$R/sub/deep.yar"
expect_rc 1 "same-size, same-mtime include change: found with the new name" "$KHIEN" scan --no-summary -r "$R/rules.yar" "$C"
check "renamed rule reported" has "$C/c.txt: Deep3 FOUND"

# A missing include: the set does not load; the file coming back (with
# another rule) is a new set.
rule Later NOT_IN_ANY_FILE_4 > "$R/later.yar"
{ echo 'include "inc.yar"'; echo 'include "later.yar"'; rule Top NOT_IN_ANY_FILE_1; } > "$R/rules.yar"
expect_rc 1 "with a second include" "$KHIEN" scan --json -r "$R/rules.yar" "$C"
expect_rc 1 "with a second include, warm" "$KHIEN" scan --json -r "$R/rules.yar" "$C"
check "warm: 2 unchanged" test "$(jnum cached)" -eq 2
rm "$R/later.yar"
expect_rc 2 "missing include: the set cannot load" "$KHIEN" scan --no-summary -r "$R/rules.yar" "$C"
rule Later 'nothing to see' > "$R/later.yar"
expect_rc 1 "the include is back: its new rule matches" "$KHIEN" scan --no-summary -r "$R/rules.yar" "$C"
check "rule of the new include reported" has "$C/a.txt: Later FOUND"

# Includes that the identity follows but the parser does not (one in a
# comment: found by the light scan, harmless) and a circular one (the
# identity follows each path once; the set itself fails to load): no hang.
{ echo '// include "nowhere.yar"'; echo 'include "inc.yar"'; rule Top2 NOT_IN_ANY_FILE_5; } > "$R/rules.yar"
expect_rc 1 "an include named in a comment" timeout 60 "$KHIEN" scan --no-summary -r "$R/rules.yar" "$C"
{ echo 'include "loop-b.yar"'; rule LoopA NOT_IN_ANY_FILE_6; } > "$R/loop-a.yar"
{ echo 'include "loop-a.yar"'; rule LoopB NOT_IN_ANY_FILE_7; } > "$R/loop-b.yar"
expect_rc 2 "circular includes: the set does not load, no hang" timeout 60 "$KHIEN" scan --no-summary -r "$R/loop-a.yar" "$C"
check "circular includes: said so" has_err "include"

# A file met first deep down a chain of commented-out includes (15 files),
# then really included at the top: what it includes is part of the identity.
D=$T/deep
mkdir -p "$D"
for i in $(seq 1 14); do echo "// include \"c$((i + 1)).yar\"" > "$D/c$i.yar"; done
echo '// include "x.yar"' > "$D/c15.yar"
{ echo 'include "y.yar"'; rule X NOT_IN_ANY_FILE_8; } > "$D/x.yar"
rule Y NOT_IN_ANY_FILE_9 > "$D/y.yar"
{ echo '// include "c1.yar"'; echo 'include "x.yar"'; rule Top3 NOT_IN_ANY_FILE_10; } > "$D/top.yar"
expect_rc 0 "deep chain: first scan" "$KHIEN" scan --json -r "$D/top.yar" "$C"
expect_rc 0 "deep chain: warm" "$KHIEN" scan --json -r "$D/top.yar" "$C"
check "deep chain: 4 unchanged" test "$(jnum cached)" -eq 4
rule Y2 MARKER_TWO_42 > "$D/y.yar"
expect_rc 1 "deep chain: the file x.yar includes changed: found" "$KHIEN" scan --no-summary -r "$D/top.yar" "$C"
check "deep chain: its rule reported" has "$C/b.txt: Y2 FOUND"

finish
