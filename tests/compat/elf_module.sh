#!/usr/bin/env bash
# Khiên — tests/compat: the elf module against yara 4.2.3.
#
# tests/compat/elf_dump.c loads our elf module on a file and prints every
# defined field the way a yara rule of console.log calls prints what yara
# sees (`elf_dump --rule` writes that rule, from the same field tables).
# For each file both outputs must be identical, line for line: all
# constants, header fields, sections[], segments[], dynamic[], symtab[] and
# dynsym[] with names.
#
# Files: ELF files of this machine (/bin/ls, bash, a static-pie ldconfig,
# shared libraries, crt*.o relocatables, 32-bit libraries from /usr/lib32
# when present), objects compiled here (64-bit, and 32-bit when the
# compiler can), big-endian copies made by elf_swap.py (this machine has no
# big-endian ELF), and deterministic mutants of small seeds made by
# elf_mutate.py (damaged headers, tables, links, names, truncations).
#
# Knobs: KH_ELF_MUTANTS (default 120), KH_ELF_SEED (default 1),
# KH_ELF_KEEP=DIR keeps the work directory. Prints SKIP and passes when
# yara, python3 or a C compiler is missing. Once `khien yara` exists, the
# same rule can be run through it as a third column.
set -u
SRC=${SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
W=${KH_ELF_KEEP:-${TMPROOT:-/tmp}/elf_module.$$}
mkdir -p "$W"
[ -n "${KH_ELF_KEEP:-}" ] || trap 'rm -rf "$W"' EXIT
for tool in yara python3 "${CC:-cc}"; do
  command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool is not installed"; exit 0; }
done
CC=${CC:-cc}
SAN=""
if [ -n "${KHIEN:-}" ] && grep -q 'KH_SANITIZE:BOOL=ON' "$(dirname "$KHIEN")/CMakeCache.txt" 2>/dev/null; then
  SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
fi
$CC -std=c11 -O1 -g $SAN -D_POSIX_C_SOURCE=200809L -I"$SRC/src" -I"$SRC/include" \
  "$SRC/tests/compat/elf_dump.c" "$SRC/src/formats/elf.c" "$SRC/src/engine/modules/elf.c" \
  "$SRC/src/engine/modules/object.c" -o "$W/elf_dump" || { echo "FAIL: cannot build elf_dump"; exit 1; }
"$W/elf_dump" --rule > "$W/dump.yar"
yara "$W/dump.yar" /dev/null >/dev/null 2>"$W/yara.err" || { echo "FAIL: yara rejects the dump rule"; cat "$W/yara.err"; exit 1; }

is_elf() { [ -f "$1" ] && [ "$(head -c 4 "$1" 2>/dev/null | od -An -c | tr -d ' ')" = '177ELF' ]; }

files=()
add() { local f; for f in "$@"; do is_elf "$f" && files+=("$f"); done; return 0; }

# ---- Files of this machine --------------------------------------------------------
add /bin/ls /bin/bash /sbin/ldconfig /usr/bin/yara
add $(ls /usr/lib/x86_64-linux-gnu/lib{c,m,z,yara,pthread,crypto}.so* 2>/dev/null | head -8)
add /usr/lib/x86_64-linux-gnu/crt1.o /usr/lib/x86_64-linux-gnu/crti.o /usr/lib/x86_64-linux-gnu/Scrt1.o
add $(ls /usr/lib32/*.so* /usr/lib32/ld-linux.so.2 2>/dev/null | head -6)
add $(ls /usr/lib/gcc/x86_64-linux-gnu/*/crtbegin*.o 2>/dev/null | head -3)

# ---- Objects made here ---------------------------------------------------------------
cat > "$W/s.c" <<'EOF'
int counter = 3;
static int helper(int x) { return x * counter; }
int visible(int y) { return helper(y) + 1; }
void _start(void) { volatile int r = visible(4); (void)r; for (;;) {} }
EOF
mkdir -p "$W/made"
$CC -c "$W/s.c" -o "$W/made/s64.o" 2>/dev/null
$CC -nostdlib -static -o "$W/made/s64_exec" "$W/s.c" 2>/dev/null
$CC -nostdlib -shared -fPIC -o "$W/made/s64.so" "$W/s.c" 2>/dev/null
$CC -m32 -c "$W/s.c" -o "$W/made/s32.o" 2>/dev/null
$CC -m32 -nostdlib -static -o "$W/made/s32_exec" "$W/s.c" 2>/dev/null
$CC -m32 -nostdlib -shared -fPIC -o "$W/made/s32.so" "$W/s.c" 2>/dev/null
for f in "$W"/made/*; do
  is_elf "$f" && python3 "$SRC/tests/compat/elf_swap.py" "$f" "$f.be" 2>/dev/null
done
python3 "$SRC/tests/compat/elf_swap.py" /bin/ls "$W/made/ls.be" 2>/dev/null
add "$W"/made/*

# ---- Mutants --------------------------------------------------------------------------
seeds=()
for f in "$W"/made/*; do is_elf "$f" && [ "$(stat -c %s "$f")" -lt 65536 ] && seeds+=("$f"); done
if [ ${#seeds[@]} -gt 0 ]; then
  python3 "$SRC/tests/compat/elf_mutate.py" "$W/mut" "${KH_ELF_MUTANTS:-120}" "${KH_ELF_SEED:-1}" "${seeds[@]}"
  for f in "$W"/mut/*; do files+=("$f"); done
fi

# ---- Compare --------------------------------------------------------------------------
fail=0 n=0 nelf=0
for f in "${files[@]}"; do
  n=$((n + 1))
  yara "$W/dump.yar" "$f" > "$W/yara.txt" 2>"$W/yara.err"
  if ! "$W/elf_dump" "$f" > "$W/ours.txt" 2>"$W/ours.err"; then
    echo "FAIL: elf_dump $f"; sed 's/^/    /' "$W/ours.err" | head -20; fail=1; continue
  fi
  grep -q '^type=' "$W/ours.txt" && nelf=$((nelf + 1))
  if ! cmp -s "$W/yara.txt" "$W/ours.txt"; then
    echo "DIFF: $f (< yara, > ours)"
    diff "$W/yara.txt" "$W/ours.txt" | head -"${KH_ELF_DIFF_LINES:-12}"
    fail=1
  fi
done
echo "elf_module: $n files compared with yara ($nelf parsed as ELF)"
if [ $n -lt 10 ]; then echo "FAIL: too few files"; fail=1; fi
[ $fail = 0 ] && echo "PASS" || echo "FAIL"
exit $fail
