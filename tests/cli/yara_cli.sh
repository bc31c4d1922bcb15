#!/bin/bash
# khien yara / khien compile / khien scan --rules, end to end.
. "$SRC/tests/lib.sh"
command -v yara >/dev/null || { echo "yara not installed"; exit 1; }
cd "$T"
cat > r.yar <<'R'
import "math"
rule text_rule : tag1 { meta: author = "khien" level = 3 strings: $a = "needle" nocase $b = { 4E 45 [1-3] 44 } condition: any of them }
rule counted { strings: $x = "ab" condition: #x >= 2 and @x[1] < 10 }
private rule helper { condition: filesize > 0 }
rule uses_private { condition: helper and math.entropy(0, filesize) >= 0 }
R
printf 'xxNEEDLE..abab..NE12D' > hit.bin
printf 'nothing here' > miss.bin
mkdir -p dir/sub && cp hit.bin dir/ && cp hit.bin dir/sub/

# same_as_yara ARGS...: `yara ARGS` and `khien yara ARGS` print the same lines
# (sorted), and yara printed something (both refusing a rule file is no agreement)
same_as_yara() {
  yara "$@" 2>/dev/null | sort > y.out; "$KHIEN" yara "$@" 2>/dev/null | sort > k.out
  [ -s y.out ] && cmp -s y.out k.out
}
for flags in "" "-s" "-c" "-n" "-g -m -e" "-s -L" "-t tag1" "-i counted" "-f -s"; do
  yara $flags r.yar hit.bin 2>/dev/null | sort > y.out
  "$KHIEN" yara $flags r.yar hit.bin 2>/dev/null | sort > k.out
  check "khien yara $flags: same output as yara" cmp -s y.out k.out
done
yara r.yar dir 2>/dev/null | sort > y.out; "$KHIEN" yara r.yar dir 2>/dev/null | sort > k.out
check "directory without -r: only the files in it" cmp -s y.out k.out
yara -r r.yar dir 2>/dev/null | sort > y.out; "$KHIEN" yara -r r.yar dir 2>/dev/null | sort > k.out
check "directory with -r" cmp -s y.out k.out
# float corners, each rule against yara: x \ 0 on floats is +-inf or NaN,
# not undefined; == and != are within DBL_EPSILON, so NaN and inf are
# neither equal nor unequal to anything
cat > f.yar <<'R'
import "math"
rule nan_eq { condition: math.percentage(0, 0, filesize) \ (filesize - filesize) == 1 }
rule nan_ne { condition: math.percentage(0, 0, filesize) \ (filesize - filesize) != 1 }
rule nan_le { condition: (0.0 \ (filesize - filesize)) <= 1 }
rule nan_ge { condition: (0.0 \ (filesize - filesize)) >= 1 }
rule nan_mul { condition: (0.0 \ (filesize - filesize)) * 5 == 0 }
rule inf_gt { condition: (1.5 \ (filesize - filesize)) > 9223372036854775807 }
rule ninf_lt { condition: (-1.5 \ (filesize - filesize)) < -9223372036854775807 }
rule int_div0 { condition: not ((1 \ (filesize - filesize)) == 0) }
rule inf_eq { condition: (1.5 \ (filesize - filesize)) == (1.5 \ (filesize - filesize)) }
rule inf_ne { condition: (1.5 \ (filesize - filesize)) != (1.5 \ (filesize - filesize)) }
rule eps_eq { condition: 0.1 + 0.2 == 0.3 }
rule eps_ne { condition: 0.1 + 0.2 != 0.3 }
rule int_flt { condition: 3 == 3.0000000000000001 }
R
check "float NaN/inf comparisons: same rules as yara" same_as_yara f.yar miss.bin
# shifts (>> is arithmetic, a negative count is undefined, 64 or more gives
# 0), `at` an undefined offset (false, not undefined), and -L on a match
# longer than the 512 bytes yara keeps (it prints the kept length)
cat > s.yar <<'R'
rule shr_neg { condition: (-3 >> (filesize - filesize + 1)) == -2 }
rule shr_neg2 { condition: (-8 >> (filesize - filesize + 2)) == -2 }
rule shl_neg_count { condition: defined (5 << (filesize - filesize - 1)) }
rule shr_neg_count { condition: defined (5 >> (filesize - filesize - 1)) }
rule shr_64 { condition: (-8 >> (filesize - filesize + 64)) == 0 }
rule shl_64 { condition: (1 << (filesize - filesize + 64)) == 0 }
rule at_undef { strings: $x = "aaaa" condition: defined ($x at uint32be(filesize + 100)) }
rule at_undef_not { strings: $x = "aaaa" condition: not ($x at uint32be(filesize + 100)) }
rule in_undef { strings: $x = "aaaa" condition: defined ($x in (0..uint32be(filesize + 100))) }
rule long { strings: $r = /a+b?/ condition: $r }
R
head -c 700 /dev/zero | tr '\0' a > long.bin
check "shifts, at undefined, -L over 512 bytes: same as yara" same_as_yara -s -L s.yar long.bin
# \b and \B in wide regexes look at wide characters (word character, then 0x00)
printf 'xd_c\0/\0a\0 Q\0c\0/\0a\0 _c\0/\0a\0' > w.bin
cat > w.yar <<'R'
rule wide_nwb { strings: $w = /\Bc\/a/ wide condition: $w }
rule wide_wb { strings: $w = /\bc\/a/ wide condition: $w }
rule wide_wb_end { strings: $w = /c\/a\b/ wide condition: $w }
rule ascii_nwb { strings: $w = /\Bc/ condition: $w }
R
check "word boundaries in wide regexes: same matches as yara" same_as_yara -s w.yar w.bin
# strings whose only literal is one byte, found 64 bytes or more into the
# data (Debian's Vectorscan 5.4.9 misses those with AVX-512: khien finds
# them by memchr, mpm_vs.c kh_vs_blit), block and compiled forms
cat > b.yar <<'R'
rule one { strings: $s = "-" condition: #s == 3 }
rule one_nocase { strings: $s = "q" nocase condition: #s == 2 }
rule one_wide { strings: $s = "-" wide condition: $s }
rule re_tail { strings: $s = /-.{2,}$/s condition: $s }
rule re_plus { strings: $s = /-c[a-z]/ condition: $s }
rule hex_nibble { strings: $s = { 2D ?? 6? } condition: $s }
rule class_pair { strings: $s = /[Zz]!/ condition: $s }
R
{ head -c 300 /dev/zero | tr '\0' x; printf 'Q-cdq-\0z!x'; head -c 100 /dev/zero | tr '\0' y; printf -- '-cdef'; } > b.bin
check "one-byte strings past 64 bytes: same matches as yara" same_as_yara -s b.yar b.bin
"$KHIEN" compile b.yar -o b.kyc 2>/dev/null && "$KHIEN" yara -s -C b.kyc b.bin 2>/dev/null | sort > c.out
check "one-byte strings past 64 bytes: the same from compiled rules" cmp -s y.out c.out
# each rule alone too: a set of one pattern is where Vectorscan lost them
bad1=""
while IFS= read -r line; do
  printf '%s\n' "$line" > b1.yar
  same_as_yara -s b1.yar b.bin || bad1="$bad1 $(cut -d' ' -f2 b1.yar)"
done < b.yar
check "one-byte strings past 64 bytes, one rule per set: same as yara${bad1:+ (differ:$bad1)}" test -z "$bad1"
# a rule naming itself: accepted, false while its own condition runs (yara 4.2.3)
printf 'xxab' > self.bin
cat > self.yar <<'R'
rule self_a { condition: self_a }
rule self_b { strings: $x = "ab" condition: $x or self_b }
rule self_c { condition: not self_c }
rule self_d { condition: filesize < 10 and uint16(0) == 0x7878 and not self_d }
rule self_e { condition: filesize > 10 or uint16(0) == 0x5a4d }
R
check "self-referencing rules and gated conditions: same as yara" same_as_yara -s self.yar self.bin
expect_rc 0 "yara exit status 0 when rules match" "$KHIEN" yara r.yar hit.bin
printf 'rule bad { condition: undefined_thing }' > bad.yar
expect_rc 1 "yara exit status 1 on a rule error" "$KHIEN" yara bad.yar hit.bin
check "error names file, line and column" has_err "bad.yar:1:"

# compiled rules
expect_rc 0 "khien compile" "$KHIEN" compile r.yar -o r.kyc
"$KHIEN" yara -C r.kyc hit.bin | sort > c.out
"$KHIEN" yara r.yar hit.bin | sort > k.out
check "yara -C gives the same matches" cmp -s c.out k.out
head -c 1000 r.kyc > broken.kyc
expect_rc 1 "a truncated compiled file is refused" "$KHIEN" yara -C broken.kyc hit.bin
cp r.kyc flipped.kyc; printf '\x55' | dd of=flipped.kyc bs=1 seek=5000 conv=notrunc 2>/dev/null
expect_rc 1 "a damaged compiled file is refused" "$KHIEN" yara -C flipped.kyc hit.bin
check "refusal says why" has_err "damaged"

# the automatic compiled-rules cache: second run loads it; a changed include rebuilds
printf 'include "inc.yar"\nrule top { condition: inc_rule }\n' > main.yar
printf 'rule inc_rule { strings: $a = "needle" nocase condition: $a }\n' > inc.yar
"$KHIEN" yara -S main.yar hit.bin > s1.out
"$KHIEN" yara -S main.yar hit.bin > s2.out
check "first run compiles" grep -q "loaded from compiled cache *: no" s1.out
check "second run loads the cache" grep -q "loaded from compiled cache *: yes" s2.out
printf 'rule inc_rule { strings: $a = "absent" condition: $a }\n' > inc.yar
"$KHIEN" yara -S main.yar hit.bin > s3.out
check "changed include: rebuilt" grep -q "loaded from compiled cache *: no" s3.out
check "changed include: new result" bash -c "! grep -q '^top ' s3.out"

# khien scan with YARA rules
expect_rc 1 "khien scan --rules finds" "$KHIEN" scan --no-summary --rules r.yar hit.bin
check "FOUND line with the rule name" hasre 'hit.bin: (text_rule|counted|uses_private) FOUND'
printf 'rule only_needle { strings: $a = "needle" condition: $a }\n' > needle.yar
expect_rc 0 "khien scan --rules: clean file" "$KHIEN" scan --no-summary --rules needle.yar miss.bin
expect_rc 1 "khien scan -r FILE.yar" "$KHIEN" scan --no-summary -r r.yar hit.bin
expect_rc 1 "khien scan --json with rules" "$KHIEN" scan --json --allmatch --rules r.yar hit.bin
check "JSON rule detection with namespace, tags, meta, strings" \
  hasre '"signature":"text_rule".*"kind":"rule".*"namespace":"default","tags":\["tag1"\],"meta":\{"author":"khien","level":3\},"strings":\[\{"id":"\$a","offset":2'
check "every JSON line parses" bash -c 'while IFS= read -r l; do printf "%s" "$l" | python3 -m json.tool >/dev/null || exit 1; done < out'
# Big files: the workers take files of 2 MiB and more first, the largest
# first, and those of 16 MiB and more one at a time while other work is
# left (src/scan/walk.c). Whatever order they are scanned in, every file is
# scanned whole (a marker near the end of each 17 MiB file), and reports
# come in the same order at every thread count. The files are sparse: the
# test reads zeros, it does not store them.
mkdir -p big/huge-only
for i in 1 2 3 4; do
  truncate -s 17M "big/h$i.bin"
  [ "$i" -le 3 ] && printf 'KHIEN-BIG-MARKER' | dd of="big/h$i.bin" bs=1 seek=$((17 * 1048576 - 100)) conv=notrunc status=none
done
for i in 1 2 3; do
  truncate -s 3M "big/m$i.bin"
  [ "$i" -ne 2 ] && printf 'KHIEN-BIG-MARKER' | dd of="big/m$i.bin" bs=1 seek=$((3 * 1048576 - 50)) conv=notrunc status=none
done
for i in $(seq 1 40); do
  if [ $((i % 7)) -eq 0 ]; then printf 'small KHIEN-BIG-MARKER %d' "$i"; else printf 'small %d' "$i"; fi > "big/s$i.txt"
done
for i in 1 2 3; do cp --sparse=always "big/h$i.bin" "big/huge-only/x$i.bin"; done
printf 'rule big_marker { strings: $a = "KHIEN-BIG-MARKER" condition: $a }\n' > big.yar
# what must match, found without khien
(cd big && grep -rlF KHIEN-BIG-MARKER . | sed 's|^\./|big/|' | sort) > big.want
check "big files: the test found its own markers" test "$(wc -l < big.want)" -eq 13
for p in 1 2 4; do
  "$KHIEN" yara -r -p $p big.yar big > big.p$p 2>&1
  check "big files, -p $p: every marked file matched, no other" bash -c "sed 's/^big_marker //' big.p$p | sort | cmp -s - big.want"
done
yara -r -p 2 big.yar big 2>/dev/null | sort > y.out; sort big.p2 > k.out
check "big files: same as yara" cmp -s y.out k.out
expect_rc 1 "big files: khien scan -j 1" "$KHIEN" scan --verbose --no-summary --no-cache --rules big.yar -j 1 big
cp out big.j1
expect_rc 1 "big files: khien scan -j 4" "$KHIEN" scan --verbose --no-summary --no-cache --rules big.yar -j 4 big
check "big files: -j 1 and -j 4 report in the same (walk) order" cmp -s big.j1 out
check "big files: the 17 MiB files reported" has "big/h3.bin: big_marker FOUND"
timeout 120 "$KHIEN" yara -r -p 4 big.yar big/huge-only > big.huge 2>&1
check "only huge files, -p 4: all three scanned" test "$(grep -c '^big_marker ' big.huge)" -eq 3

finish
