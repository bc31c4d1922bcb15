# Khiên — shared helpers for shell tests (sourced).
# Environment from ctest: KHIEN (the binary), SRC (source tree), SHARED (../shared), TMPROOT.
set -u
: "${KHIEN:?KHIEN must point to the khien binary}"
: "${SRC:?}"
TMPROOT=${TMPROOT:-/tmp}
mkdir -p "$TMPROOT"
T=$(mktemp -d "$TMPROOT/t.XXXXXX")
export KHIEN_STATE_DIR="$T/state"
kt_pass=0
kt_fail=0
trap 'chmod -R u+rwx "$T" 2>/dev/null; rm -rf "$T"' EXIT

ok()   { kt_pass=$((kt_pass + 1)); echo "ok   $1"; }
bad()  { kt_fail=$((kt_fail + 1)); echo "FAIL $1"; }
check() { # check "description" command...
  local d=$1; shift
  if "$@"; then ok "$d"; else bad "$d"; fi
}
# expect_rc N "description" command... : runs command, compares its exit status
expect_rc() {
  local want=$1 d=$2; shift 2
  "$@" >"$T/out" 2>"$T/err"
  local rc=$?
  if [ "$rc" -eq "$want" ]; then ok "$d"; else bad "$d (exit $rc, want $want)"; sed 's/^/    /' "$T/out" "$T/err" | head -20; fi
}
has()   { grep -qF -- "$1" "$T/out"; }
hasre() { grep -qE -- "$1" "$T/out"; }
has_err() { grep -qF -- "$1" "$T/err"; }
finish() { echo "$kt_pass passed, $kt_fail failed"; [ "$kt_fail" -eq 0 ] && [ "$kt_pass" -gt 0 ]; }

# need PACKAGE TOOL...: skips the test (exit 0, "SKIP ...") unless every tool is on PATH
need() {
  local pkg=$1 t; shift
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || { echo "SKIP $t is not installed (apt-get install $pkg)"; exit 0; }
  done
}

# flip_byte FILE OFFSET: inverts one byte in place (a damage that always changes the file; writing a
# fixed character left it unchanged whenever the byte already was that character, 1 run in 256)
flip_byte() {
  python3 -c 'import sys; p, o = sys.argv[1], int(sys.argv[2]); d = bytearray(open(p, "rb").read()); d[o] ^= 0xff; open(p, "wb").write(d)' "$1" "$2"
}

# The EICAR test file, kept XOR-scrambled (0x5a) in tests/data so that the
# repository never trips a virus scanner; decoded here at run time.
unscramble() { # unscramble SRC DST
  python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); open(sys.argv[2],"wb").write(bytes(b ^ 0x5a for b in d))' "$1" "$2"
}
eicar() { unscramble "$SRC/tests/data/eicar.x5a" "$1"; }
