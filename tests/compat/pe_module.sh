#!/usr/bin/env bash
# Khiên — tests/compat: the pe module against yara 4.2.3 on real PE files.
#
# For each PE file found on this machine (clamav-testfiles, setuptools and
# pip launchers, wininst stubs, any *.efi), compares every field yara shows
# with `yara -D` against what our module loads (tests/compat/pe_dump.c),
# and the answers of the module functions (imphash, imports, exports,
# section_index, rich_signature, valid_on, ...) asked through console.log
# rules generated from the file's own names. Also runs crafted signed and
# damaged files made at test time. Skips (exit 77) when yara is missing.
# Once `khien yara` exists the generated rules can be run through it too.
set -u
SRC=${SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
TMP=${TMPROOT:-/tmp}/pe_module.$$
mkdir -p "$TMP"
[ -n "${PE_KEEP:-}" ] || trap 'rm -rf "$TMP"' EXIT
command -v yara >/dev/null || { echo "SKIP: no yara"; exit 77; }
CC=${CC:-cc}
# The system interpreter: a version-manager shim can cost seconds per call.
PY=python3; [ -x /usr/bin/python3 ] && PY=/usr/bin/python3
SAN=""
if [ -n "${KHIEN:-}" ] && grep -q 'KH_SANITIZE:BOOL=ON' "$(dirname "$KHIEN")/CMakeCache.txt" 2>/dev/null; then
  SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
fi
$CC -std=c11 -O1 -g $SAN -D_POSIX_C_SOURCE=200809L -I"$SRC/src" -I"$SRC/include" \
  "$SRC/tests/compat/pe_dump.c" "$SRC/src/formats/pe.c" "$SRC/src/formats/authenticode.c" \
  "$SRC/src/engine/modules/pe.c" "$SRC/src/engine/modules/object.c" "$SRC/src/util/util.c" \
  -lcrypto -o "$TMP/pe_dump" || { echo "FAIL: cannot build pe_dump"; exit 1; }

files=()
for f in "$SRC"/tests/fuzz/corpus/pe/* /usr/share/clamav-testfiles/*.exe; do [ -f "$f" ] && files+=("$f"); done
while IFS= read -r f; do files+=("$f"); done < <(
  find /root/.pyenv /usr/lib/python3* /usr/share /usr/lib -xdev \( -iname '*.exe' -o -iname '*.dll' -o -iname '*.efi' \) \
    -type f -size -8M 2>/dev/null | sort | head -40)

# Crafted files: a self-signed Authenticode-like signature appended to a PE,
# and truncated copies of a real file.
if command -v openssl >/dev/null && [ ${#files[@]} -gt 0 ]; then
  base=/usr/share/clamav-testfiles/clam.exe; [ -f "$base" ] || base=${files[0]}
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/k.pem" -out "$TMP/c.pem" -days 30 \
    -subj "/C=VN/O=Khien Test/CN=pe module" -set_serial 0x0123456789abcdef >/dev/null 2>&1
  printf 'khien' > "$TMP/content"
  openssl smime -sign -binary -in "$TMP/content" -signer "$TMP/c.pem" -inkey "$TMP/k.pem" -outform DER \
    -out "$TMP/sig.der" -nodetach >/dev/null 2>&1
  if [ -s "$TMP/sig.der" ]; then
    $PY - "$base" "$TMP/sig.der" "$TMP/signed.exe" <<'PY'
import struct, sys
pe = bytearray(open(sys.argv[1], 'rb').read()); sig = open(sys.argv[2], 'rb').read()
while len(pe) % 8: pe += b'\0'
off = len(pe); cert = struct.pack('<IHH', 8 + len(sig), 0x200, 2) + sig
while len(cert) % 8: cert += b'\0'
pe += cert
nt = struct.unpack_from('<I', pe, 0x3c)[0]; magic = struct.unpack_from('<H', pe, nt + 24)[0]
dd = nt + 24 + (112 if magic == 0x20b else 96) + 4 * 8
struct.pack_into('<II', pe, dd, off, len(cert))
open(sys.argv[3], 'wb').write(pe)
PY
    files+=("$TMP/signed.exe")
  fi
  for cut in 64 200 400 700; do head -c $cut "$base" > "$TMP/cut$cut.exe"; files+=("$TMP/cut$cut.exe"); done
fi

fail=0; n=0
echo 'import "pe" rule dump { condition: true }' > "$TMP/dump.yar"
for f in "${files[@]}"; do
  n=$((n + 1))
  "$TMP/pe_dump" --rule "$f" > "$TMP/calls.yar" || { echo "FAIL: pe_dump --rule $f"; fail=1; continue; }
  { yara -D "$TMP/dump.yar" "$f" 2>/dev/null; yara "$TMP/calls.yar" "$f" 2>/dev/null | grep '^@ '; } |
    $PY "$SRC/tests/compat/pe_flatten.py" > "$TMP/yara.txt"
  "$TMP/pe_dump" "$f" | sort > "$TMP/ours.txt" || { echo "FAIL: pe_dump $f"; fail=1; continue; }
  if ! diff -q "$TMP/yara.txt" "$TMP/ours.txt" >/dev/null; then
    echo "DIFF: $f"
    diff "$TMP/yara.txt" "$TMP/ours.txt" | head -${PE_DIFF_LINES:-10}
    fail=1
  fi
done
echo "pe_module: $n files compared"
[ $fail = 0 ] && echo "PASS" || echo "FAIL"
exit $fail
