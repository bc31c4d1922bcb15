#!/bin/bash
# khien scan -d with ClamAV containers: .cud built by sigtool, the same
# content as .cvd and .cld signed with the TEST keys (tests/tools/clamav_sign.py),
# a freshclam-like folder; detections equal clamscan's on the same database;
# damaged or wrongly signed containers refused (exit 2, a clear message)
# unless --unsigned-ok.
. "$SRC/tests/lib.sh"

need clamav sigtool clamscan
PY=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}
S="$SRC/tests/tools/clamav_sign.py"
TESTKEYS=$("$PY" "$S" keys)

# A database of every construct (tests/compat/gen.py), packed by sigtool.
G=$T/gen
"$PY" "$SRC/tests/compat/gen.py" --seed 7 --sigs 120 --files 60 --out "$G" >/dev/null
B=$T/build
mkdir -p "$B"
for f in "$G"/db/gen.*; do cp "$f" "$B/main.${f##*.}"; done
echo "Test database for khien's tests" >"$B/COPYING"
(cd "$B" && echo y | sigtool --unsigned --build=main.cud --cvd-version=3 --datadir="$T/none" >"$T/sigtool.out" 2>&1)
check "sigtool builds main.cud" test -s "$B/main.cud"
"$PY" "$S" sign-cvd "$B/main.cud" "$T/main.cvd"
"$PY" "$S" sign-cld "$B/main.cud" "$T/main.cld"

ks() { # khien scan with the test keys
    KHIEN_TEST_CLAMAV_KEYS="$TESTKEYS" "$KHIEN" scan --allmatch --no-summary --no-builtin --no-cache "$@"
}
clamscan --allmatch --no-summary -d "$B/main.cud" -r "$G/files" >"$T/clam.out" 2>"$T/clam.err"
check "clamscan loads the .cud" test $? -le 1
n=$(grep -c ' FOUND$' "$T/clam.out")
check "clamscan finds something ($n)" test "$n" -gt 0
for form in cud cvd cld; do
    db=$T/main.$form
    [ $form = cud ] && db=$B/main.cud
    ks -d "$db" "$G/files" >"$T/k-$form.out" 2>"$T/k-$form.err"
    rc=$?
    if [ $rc -le 1 ] && ! grep -q "error" "$T/k-$form.err"; then ok "khien loads main.$form"; else
        bad "khien loads main.$form (exit $rc)"
        head -5 "$T/k-$form.err"
    fi
    if "$PY" "$SRC/tests/compat/compare.py" --label "main.$form: " --files "$G/files" --db "$B" \
        --manifest "$G/manifest.tsv" "$T/clam.out" "$T/k-$form.out" >"$T/diff-$form.txt"; then
        ok "same detections as clamscan with main.$form: $(head -1 "$T/diff-$form.txt")"
    else
        bad "detections differ from clamscan with main.$form"
        head -20 "$T/diff-$form.txt"
    fi
done

# The official keys: a test-signed .cvd is refused, with the reason.
expect_rc 2 "test-signed .cvd refused with ClamAV's keys" \
    "$KHIEN" scan --no-summary --no-cache -d "$T/main.cvd" "$G/files"
check "message names the header signature" has_err "digital signature in the header is not valid"
check "message names --unsigned-ok" has_err "--unsigned-ok"
expect_rc 2 "test-signed .cld refused with ClamAV's keys" \
    "$KHIEN" scan --no-summary --no-cache -d "$T/main.cld" "$G/files"
check "message names the .info signature" has_err "signature of the .info file list is not valid"
"$KHIEN" scan --allmatch --no-summary --no-builtin --no-cache --unsigned-ok -d "$T/main.cvd" "$G/files" \
    >"$T/out" 2>"$T/err"
check "--unsigned-ok loads it with a warning" has_err "loaded anyway"
check "--unsigned-ok: same detections" cmp -s <(sort "$T/out") <(sort "$T/k-cvd.out")

# Damage: one byte of the body, a file changed inside, a truncated file.
cp "$T/main.cvd" "$T/bad.cvd"
flip_byte "$T/bad.cvd" 700
KHIEN_TEST_CLAMAV_KEYS="$TESTKEYS" expect_rc 2 "a .cvd with one byte changed is refused" \
    "$KHIEN" scan --no-summary --no-cache -d "$T/bad.cvd" "$G/files"
check "message: MD5 differs" has_err "MD5 of the content"
"$PY" - "$T/main.cld" "$T/bad.cld" <<'EOF'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
i = d.index(b"\n", d.index(b"main.ndb") + 600)  # a line inside main.ndb's data
d[i - 1] ^= 1
open(sys.argv[2], "wb").write(bytes(d))
EOF
KHIEN_TEST_CLAMAV_KEYS="$TESTKEYS" expect_rc 2 "a .cld with a changed signature line is refused" \
    "$KHIEN" scan --no-summary --no-cache -d "$T/bad.cld" "$G/files"
check "message: does not match the .info" has_err "does not match the size and SHA-256"
head -c 3000 "$T/main.cvd" >"$T/short.cvd"
KHIEN_TEST_CLAMAV_KEYS="$TESTKEYS" expect_rc 2 "a truncated .cvd is refused" \
    "$KHIEN" scan --no-summary --no-cache --unsigned-ok -d "$T/short.cvd" "$G/files"
printf 'ClamAV-VDB:junk' >"$T/junk.cvd"
KHIEN_TEST_CLAMAV_KEYS="$TESTKEYS" expect_rc 2 "a header-only file is refused" \
    "$KHIEN" scan --no-summary --no-cache -d "$T/junk.cvd" "$G/files"
check "message: not a container" has_err "not a ClamAV database container"

# A freshclam folder: main.cvd, daily.cvd (version 5) beside a newer daily.cld
# (version 6): the .cld only is loaded (ClamAV's rule), detections of both
# databases; unknown files (freshclam.dat, *.sign) are ignored.
F=$T/freshclam
mkdir -p "$F" "$T/d5" "$T/d6"
for v in 5 6; do
    echo c >"$T/d$v/COPYING"
    printf 'Daily.Old:0:*:6f6c646f6c646f6c64\n' >"$T/d$v/daily.ndb"
    [ $v = 6 ] && printf 'Daily.Old:0:*:6f6c646f6c646f6c64\nDaily.New:0:*:6e65776e65776e6577\n' >"$T/d6/daily.ndb"
    (cd "$T/d$v" && echo y | sigtool --unsigned --build=daily.cud --cvd-version=$v --datadir="$T/none" >/dev/null 2>&1)
done
cp "$T/main.cvd" "$F/"
"$PY" "$S" sign-cvd "$T/d5/daily.cud" "$F/daily.cvd"
"$PY" "$S" sign-cld "$T/d6/daily.cud" "$F/daily.cld"
printf 'junk' >"$F/freshclam.dat"
printf 'oldoldold newnewnew\n' >"$T/sample.txt"
KHIEN_TEST_CLAMAV_KEYS="$TESTKEYS" expect_rc 1 "a freshclam folder loads" \
    "$KHIEN" scan --allmatch --no-summary --no-builtin --no-cache -d "$F" "$T/sample.txt"
check "daily.cld (version 6) detects Daily.New" has "Daily.New FOUND"
check "the folder's daily is loaded once" test "$(grep -c 'Daily.Old FOUND' "$T/out")" -eq 1
rm "$F/daily.cld"
KHIEN_TEST_CLAMAV_KEYS="$TESTKEYS" expect_rc 1 "without the .cld, daily.cvd (version 5)" \
    "$KHIEN" scan --allmatch --no-summary --no-builtin --no-cache -d "$F" "$T/sample.txt"
check "version 5 has no Daily.New" test "$(grep -c 'Daily.New' "$T/out")" -eq 0

# ClamAV 1.5 .sign files: a detached PKCS#7 signature by a certificate of a
# TEST CA (made here with openssl); when it verifies it replaces the header's
# MD5 signature (broken on purpose here); it must verify when a CA is given.
if command -v openssl >/dev/null 2>&1; then
    C=$T/certs
    mkdir -p "$C" "$T/other" "$T/signed"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ca.key" -out "$C/ca.crt" \
        -subj "/CN=Khien TEST Root CA" -days 2 >/dev/null 2>&1
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/s.key" -out "$T/s.csr" \
        -subj "/CN=Khien TEST database signer" >/dev/null 2>&1
    openssl x509 -req -in "$T/s.csr" -CA "$C/ca.crt" -CAkey "$T/ca.key" -CAcreateserial -out "$T/s.crt" -days 2 \
        >/dev/null 2>&1
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/o.key" -out "$T/other/o.crt" \
        -subj "/CN=Another CA" -days 2 >/dev/null 2>&1
    # main.cvd with the header's signature broken (its first digit changed)
    "$PY" - "$T/main.cvd" "$T/signed/main.cvd" <<'EOF2'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
f = d[:512].split(b":")
f[6] = (b"b" if f[6][:1] == b"a" else b"a") + f[6][1:]
h = b":".join(f)
open(sys.argv[2], "wb").write(bytes(h) + d[len(h):])
EOF2
    sign() { # sign FILE SIGNFILE
        openssl smime -sign -binary -in "$1" -signer "$T/s.crt" -inkey "$T/s.key" -outform PEM -out "$T/p7.pem" 2>/dev/null
        { echo "#clamsign-1.0"; printf '220::pkcs7-pem:'; grep -v -- '-----' "$T/p7.pem" | tr -d '\n'; echo; } >"$2"
    }
    sign "$T/signed/main.cvd" "$T/signed/main-3.cvd.sign"
    check ".sign file written" grep -q '^220::pkcs7-pem:M' "$T/signed/main-3.cvd.sign"
    KHIEN_TEST_CLAMAV_KEYS="$TESTKEYS" expect_rc 1 "a verified .sign replaces the broken header signature" \
        "$KHIEN" scan --allmatch --no-summary --no-builtin --no-cache --cvd-certs "$C" -d "$T/signed/main.cvd" "$G/files"
    check "same detections with the .sign" cmp -s <(sort "$T/out") <(sort "$T/k-cvd.out")
    KHIEN_TEST_CLAMAV_KEYS="$TESTKEYS" expect_rc 2 "without the CA the .sign is not used: header signature refused" \
        "$KHIEN" scan --no-summary --no-cache --cvd-certs "$T/nowhere" -d "$T/signed/main.cvd" "$G/files"
    check "message: header signature" has_err "digital signature in the header is not valid"
    KHIEN_TEST_CLAMAV_KEYS="$TESTKEYS" expect_rc 2 "a .sign from another CA is refused" \
        "$KHIEN" scan --no-summary --no-cache --cvd-certs "$T/other" -d "$T/signed/main.cvd" "$G/files"
    check "message: .sign does not verify" has_err "the .sign file's signature does not verify"
    sign "$T/main.cvd" "$T/signed/main-3.cvd.sign" # signs other bytes
    KHIEN_TEST_CLAMAV_KEYS="$TESTKEYS" expect_rc 2 "a .sign of other content is refused" \
        "$KHIEN" scan --no-summary --no-cache --cvd-certs "$C" -d "$T/signed/main.cvd" "$G/files"
    check "message: .sign does not verify (content)" has_err "the .sign file's signature does not verify"
    printf '#clamsign-9.9\n' >"$T/signed/main-3.cvd.sign"
    KHIEN_TEST_CLAMAV_KEYS="$TESTKEYS" expect_rc 2 "a .sign of an unknown version is refused" \
        "$KHIEN" scan --no-summary --no-cache --cvd-certs "$C" -d "$T/signed/main.cvd" "$G/files"
else
    echo "SKIP .sign tests: openssl is not installed"
fi

# The compiled set is cached per container file: a second start maps it.
KHIEN_TEST_CLAMAV_KEYS="$TESTKEYS" "$KHIEN" scan --json --no-builtin --no-cache -d "$T/main.cvd" "$T/sample.txt" >/dev/null 2>&1
KHIEN_TEST_CLAMAV_KEYS="$TESTKEYS" expect_rc 0 "second start from the compiled cache" \
    "$KHIEN" scan --no-builtin --no-cache -d "$T/main.cvd" "$T/sample.txt"
# a cached set compiled with the test keys is not reused with ClamAV's keys
expect_rc 2 "the cache does not bypass the signature check" \
    "$KHIEN" scan --no-builtin --no-cache -d "$T/main.cvd" "$T/sample.txt"
finish
