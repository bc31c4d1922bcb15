#!/bin/bash
# khien vuln --compare against dpkg --compare-versions: hand-written tricky
# cases (epochs, revisions, ~, letters against non-letters, refused versions)
# and random versions from a seeded generator. Each pair is ordered by
# khien, and dpkg is asked to confirm that exact relation (one dpkg run per
# pair, two at a time). KH_VERCMP_PAIRS sets the number of random pairs
# (default 1000: 2000 random versions), KH_VERCMP_SEED the seed.
. "$SRC/tests/lib.sh"
command -v dpkg >/dev/null || { bad "dpkg --compare-versions is needed for this test"; finish; exit 1; }
PAIRS=${KH_VERCMP_PAIRS:-1000}
SEED=${KH_VERCMP_SEED:-20240601}

python3 - "$SEED" "$PAIRS" > "$T/pairs.tsv" <<'EOF'
import random, sys
rnd = random.Random(int(sys.argv[1]))
n = int(sys.argv[2])
tricky = [
    ("1.0", "1.0"), ("1.0", "1.0-0"), ("0:1.0", "1.0"), ("00:1", "0:1"), ("1:1.0", "2.0"),
    ("1.0~rc1", "1.0"), ("1.0~~", "1.0~"), ("1.0~~a", "1.0~~"), ("1.0~", "1.0"), ("1.0a", "1.0"),
    ("1.0a", "1.0+"), ("1.0+", "1.0."), ("1.0.", "1.0"), ("1.", "1"), ("1..", "1."), ("1.~", "1."),
    ("1a", "1."), ("1.a", "1.0"), ("A", "a"), ("1.0a", "1.0A"), ("a", "b"), ("a", "1"), ("Z", "a"),
    ("1.002", "1.2"), ("1.0.0", "1.0.00"), ("9", "10"), ("1.9", "1.10"), ("0001", "1"),
    ("123456789012345678901234567890", "123456789012345678901234567891"),
    ("1.0~alpha", "1.0~beta"), ("1.0-1ubuntu1", "1.0-1"), ("1.0-1~deb12u1", "1.0-1~deb11u1"),
    ("3.0.11-1~deb12u2", "3.0.11-1~deb12u1"), ("2.36-9+deb12u4", "2.36-9+deb12u10"),
    ("1:1.2.13.dfsg-1+b1", "1:1.2.13.dfsg-1"), ("1.0+dfsg-1", "1.0-1"), ("7.6p2-4", "7.6-0"),
    ("98.1p5-1", "98.1-pre2-b6-2"), ("1:3.0.5-2", "1:3.0.5.1"), ("1:2:3-4", "1:2:3-5"),
    ("1-2-3", "1-2-4"), ("1.0-~", "1.0-0"), ("1.0-+", "1.0-0"), ("1+", "1."), ("1~", "1"),
    ("2147483647:1", "2147483646:1"), ("+1:2", "1:2"), (" 1.0", "1.0"), ("1.0 ", "1.0"),
    ("1_2", "1-2"), ("1!", "1~"), ("1.0#", "1.0"), ("1\u00e9", "1e"), ("1.0-a_b", "1.0-a"),
    ("", "1"), ("1", ""), ("", ""), ("<unknown>", "0"), ("0", "<unknown>"),
    # refused by dpkg: both must exit 2
    ("1:", "1"), ("1.0-", "1"), (":1", "1"), ("1 2", "1"), ("a:1", "1"), ("99999999999:1", "1"),
    ("4294967296:1", "1"), ("1:-1", "1"), ("0x1:2", "2"), ("-1", "1"), ("1", "-1:2"), ("1: 2", "1"),
]
digits, letters = "0123456789", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
def num():
    return rnd.choice(["0", "1", "2", "9", "10", "11", "99", "100", "007", "00", str(rnd.randint(0, 99999))])
def piece(rev):
    r = rnd.random()
    if r < 0.4: return num()
    if r < 0.55: return rnd.choice(".+~" if rev else ".+~:")
    if r < 0.8: return rnd.choice(letters) * rnd.randint(1, 2)
    if r < 0.97: return rnd.choice(["~rc1", "~beta2", "+dfsg", "+really", "~~", "a", "z", "0", ".0", "+b1", "~deb12u1"])
    return rnd.choice("_!#%")  # dpkg only warns about these
def upstream(epoch):
    s = rnd.choice(digits) if rnd.random() < 0.95 else rnd.choice(letters)
    for _ in range(rnd.randint(0, 6)):
        p = piece(False)
        if ":" in p and not epoch: continue
        s += p
    return s
def revision():
    s = ""
    for _ in range(rnd.randint(1, 4)):
        s += piece(True)
    return s
def version():
    epoch = rnd.random() < 0.15
    v = (rnd.choice(["0", "1", "2", "10", "00"]) + ":") if epoch else ""
    v += upstream(epoch)
    if rnd.random() < 0.6:
        if rnd.random() < 0.1: v += "-" + rnd.choice(["beta", "1", "pre2"])
        v += "-" + revision()
    return v
def mutate(v):
    ops = [lambda s: s + "~", lambda s: s + "0", lambda s: s + ".0", lambda s: s + "+b1", lambda s: s + "a",
           lambda s: "0:" + s if ":" not in s else s, lambda s: s.replace("0", "00", 1), lambda s: s[:-1] or s,
           lambda s: s.replace(".", "~", 1), lambda s: s + "-1" if "-" not in s else s + "~1", lambda s: s]
    return rnd.choice(ops)(v)
out = list(tricky)
for i in range(n):
    a = version()
    out.append((a, version() if i % 2 else mutate(a)))
for a, b in out:
    print(a + "\t" + b)
EOF
total=$(wc -l < "$T/pairs.tsv")
check "generated $total pairs" test "$total" -gt "$PAIRS"

"$KHIEN" vuln --compare-file "$T/pairs.tsv" > "$T/ours" 2>"$T/err"
check "khien answered every pair" test "$(wc -l < "$T/ours")" -eq "$total"
# fields separated by \x1f: a tab separator would swallow empty versions in `read`
awk -F'\t' -v OFS=$'\x1f' 'NR == FNR { r[FNR] = $0; next } { print $1, $2, r[FNR] }' "$T/ours" "$T/pairs.tsv" > "$T/joined"

# confirm each answer with one dpkg run; two workers
verify() { # verify FILE -> prints mismatches
  while IFS=$'\x1f' read -r a b rel; do
    case $rel in
      '<') dpkg --compare-versions -- "$a" lt "$b" 2>/dev/null; rc=$?; want=0 ;;
      '=') dpkg --compare-versions -- "$a" eq "$b" 2>/dev/null; rc=$?; want=0 ;;
      '>') dpkg --compare-versions -- "$a" gt "$b" 2>/dev/null; rc=$?; want=0 ;;
      *)   dpkg --compare-versions -- "$a" lt "$b" 2>/dev/null; rc=$?; want=2 ;;
    esac
    [ "$rc" -eq "$want" ] || printf '%s\t%s\tkhien:%s\tdpkg-exit:%s\n' "$a" "$b" "$rel" "$rc"
  done < "$1"
}
split -n l/2 "$T/joined" "$T/part."
for p in "$T"/part.*; do verify "$p" > "$p.bad" & done
wait
cat "$T"/part.*.bad > "$T/mismatch"
if [ -s "$T/mismatch" ]; then
  bad "khien and dpkg agree on all $total pairs ($(wc -l < "$T/mismatch") differ)"
  head -20 "$T/mismatch" | sed 's/^/    /'
else
  ok "khien and dpkg agree on all $total pairs"
fi
check "some pairs are refused versions" grep -q '^!' "$T/ours"
check "all three relations occur" sh -c "grep -qx '<' '$T/ours' && grep -qx '=' '$T/ours' && grep -qx '>' '$T/ours'"

# the single-pair form and its errors
expect_rc 0 "--compare prints <" "$KHIEN" vuln --compare 1.0~rc1 1.0
check "answer is <" sh -c "[ \"\$(cat '$T/out')\" = '<' ]"
expect_rc 0 "--compare with an epoch" "$KHIEN" vuln --compare 1:0.9 2.0
check "answer is >" sh -c "[ \"\$(cat '$T/out')\" = '>' ]"
expect_rc 0 "--compare: a zero revision is no revision" "$KHIEN" vuln --compare 1.0 1.0-0
check "answer is =" sh -c "[ \"\$(cat '$T/out')\" = '=' ]"
expect_rc 2 "--compare: a version starting with a hyphen is a bad version, not an option" "$KHIEN" vuln --compare -1 1
check "... and said so" has_err "version number is empty"
expect_rc 2 "--compare refuses a bad version (exit 2)" "$KHIEN" vuln --compare 1.0- 1.0
check "the message names the version" has_err "1.0-"
expect_rc 2 "--compare needs two versions" "$KHIEN" vuln --compare 1.0
finish
