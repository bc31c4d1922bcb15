#!/bin/bash
# Differential test against yara 4.2.3 of the matcher's shortcuts for YARA
# strings (engine/mpm_vs.c, engine/yara/atoms.c): the second block database
# for rules gated on uint16(0) == 0x5a4d (searched only in files that start
# with "MZ"), atoms without two adjacent exact bytes enumerated into literals
# (`C6 0? E9`), the byte literals of unfiltered strings followed with memchr
# (many key bytes, few, one), an atom keyed on a rare byte, and the block
# database without the strings of rules on files under 2 MiB. Matches are
# placed past offset 64 (where Vectorscan 5.4.9 loses one-byte literals) and
# in files with and without "MZ" in front; `-s` output must be identical.
. "$SRC/tests/lib.sh"
command -v yara >/dev/null || { echo "yara not installed"; exit 1; }
cd "$T" || exit 1
cat > r.yar <<'R'
rule mz_text { strings: $a = "prefilter-mz-text" condition: uint16(0) == 0x5a4d and $a }
rule mz_hex { strings: $a = { 50 52 45 46 ?? 49 4C } condition: filesize < 1MB and uint16(0) == 0x5a4d and #a >= 1 }
rule mz_int16 { strings: $a = "int16-gated" condition: int16(0) == 0x5a4d and $a }
rule ungated_same_text { strings: $a = "prefilter-mz-text" condition: $a }
rule nibbles { strings: $a = { C6 0? E9 4? 8? 4? 05 [2] 89 4? 01 } condition: $a }
rule nibbles_mz { strings: $a = { C6 0? E9 4? 8? 4? 05 [2] 89 4? 01 } condition: uint16(0) == 0x5a4d and #a == 2 }
rule isolated { strings: $a = { 83 ?? 02 [1-16] 40 [1-16] F3 A4 } condition: $a }
rule case_pair { strings: $a = { 4? [1] 7A 5? } condition: #a > 0 and @a[1] > 64 }
rule unfiltered_e { strings: $a = /(e|\\x65)(v|\\x76)al\(/ nocase condition: $a }
rule unfiltered_tick { strings: $a = /`\s*\$_(POST|GET)/ condition: $a }
rule unfiltered_many { strings: $a = /[!#%&]z[0-9]/ $b = /q[,;]w/ condition: any of them }
rule small_gate { strings: $a = "small-gate-text" condition: filesize < 100KB and $a }
rule mid_gate { strings: $a = "mid-gate-text" condition: $a and filesize <= 3MB }
rule edge_gate { strings: $a = "edge-gate-text" condition: filesize < 2097153 and $a }
rule small_gate_mz { strings: $a = "small-gate-mz" condition: uint16(0) == 0x5a4d and filesize < 1MB and $a }
R
python3 - <<'P'
import random
random.seed(7)
def noise(n): return bytes(random.choice(b'abcdefghijklmnopqrstuvwxyz \n') for _ in range(n))
body = (noise(100) + b'prefilter-mz-text' + noise(80) + b'PREFxIL' + noise(70) + b'int16-gated' + noise(90)
        + bytes([0xC6, 0x03, 0xE9, 0x41, 0x85, 0x4F, 0x05, 0x11, 0x22, 0x89, 0x47, 0x01]) + noise(65)
        + bytes([0xC6, 0x0F, 0xE9, 0x40, 0x80, 0x40, 0x05, 0x00, 0x00, 0x89, 0x40, 0x01]) + noise(70)
        + bytes([0x83, 0x55, 0x02]) + noise(5) + b'\x40' + noise(3) + b'\xF3\xA4' + noise(77)
        + b'Ax\x7aQ' + noise(90) + b'EvAl(' + noise(64) + b'`  $_GET' + noise(70) + b'%z7 q;w' + noise(50))
open('plain.bin', 'wb').write(b'xx' + body)
open('mz.bin', 'wb').write(b'MZ' + body)
open('mz_short.bin', 'wb').write(b'M')
open('z.bin', 'wb').write(b'ZM' + body)
# hits only far into a larger file, and the same strings twice
open('far.bin', 'wb').write(b'MZ' + noise(300000) + body + noise(1000) + body)
# the filesize-gated rules: small files, a file of exactly 2 MiB (the size
# from which the matcher leaves out strings of rules on smaller files), larger
gated = b'small-gate-text mid-gate-text edge-gate-text small-gate-mz '
open('small.bin', 'wb').write(b'MZ' + noise(5000) + gated + body)
for name, size in (('edge.bin', 2 << 20), ('edge1.bin', (2 << 20) + 1), ('big.bin', (5 << 19) + 7)):
    head = b'MZ' + noise(4000) + gated + body
    open(name, 'wb').write(head + noise(size - len(head) - len(gated)) + gated)
P
mkdir d && cp ./*.bin d/
for f in plain.bin mz.bin mz_short.bin z.bin far.bin small.bin edge.bin edge1.bin big.bin; do
  yara -w -s r.yar "$f" 2>/dev/null | sort > y.out; "$KHIEN" yara -w -s r.yar "$f" 2>/dev/null | sort > k.out
  check "$f: same rules and strings as yara" cmp -s y.out k.out
  cmp -s y.out k.out || diff y.out k.out | head -20
done
yara -w -r r.yar d 2>/dev/null | sort > y.out; "$KHIEN" yara -w -p 2 -r r.yar d 2>/dev/null | sort > k.out
check "folder, -p 2: same rules as yara" cmp -s y.out k.out
# the MZ-gated rules match only where yara says so, and the test means it
check "gated rules match in mz.bin" grep -q '^mz_hex ' y.out
check "gated rules do not match in plain.bin" sh -c '! grep -q "^mz_text .*plain.bin" y.out'
check "filesize-gated rules match in small.bin, not in big.bin" sh -c 'grep -q "^small_gate d/small.bin" y.out && grep -q "^mid_gate d/big.bin" y.out && ! grep -q "^small_gate d/big.bin" y.out'
finish
