#!/bin/bash
# Differential test against Debian's yara 4.2.3 on random rules and files
# (tests/compat/yara_random.py): for each seed, one rule set (two
# namespaces) and a directory of files built to contain its strings; yara
# and `khien yara` must print the same thing with -s, -c, -n -g -m -e,
# -s -L and -f (records sorted, the documented regex-length difference
# compared on offsets only).
#
#   YARA_RANDOM_SEEDS   number of seeds (default 8; hundreds for a soak run)
#   YARA_RANDOM_TIMEOUT seconds yara may take per run before the seed is skipped (60)
#   YARA_RANDOM_FIRST   first seed (default 1)
#   YARA_RANDOM_RULES   rules per seed (default 24), YARA_RANDOM_FILES files (default 14)
#   YARA_RANDOM_KEEP    a directory: failing seeds are copied there
# On a difference the seed, the command and a diff are printed; reproduce with
#   python3 tests/compat/yara_random.py SEED DIR && yara -w $(sed 's/^/-d /' DIR/defines) \
#       -s main:DIR/rules.yar other:DIR/other.yar DIR/files
. "$SRC/tests/lib.sh"
command -v yara >/dev/null || { echo "yara not installed"; exit 1; }
GEN="$SRC/tests/compat/yara_random.py"
SEEDS=${YARA_RANDOM_SEEDS:-8}
YTIMEOUT=${YARA_RANDOM_TIMEOUT:-60}
FIRST=${YARA_RANDOM_FIRST:-1}
NRULES=${YARA_RANDOM_RULES:-24}
NFILES=${YARA_RANDOM_FILES:-14}
# -f is compared without -s: which matches yara lists in fast mode depends
# on its atom hits (all those found from the first one), documented in docs/YARA.md
MODES=("-s" "-c" "-n -g -m -e" "-s -L" "-f")
skipped=0
agree=0
for ((seed = FIRST; seed < FIRST + SEEDS; seed++)); do
  d="$T/s$seed"
  python3 "$GEN" "$seed" "$d" --rules "$NRULES" --files "$NFILES" || { bad "seed $seed: generator failed"; continue; }
  defs=()
  while IFS= read -r kv; do defs+=(-d "$kv"); done <"$d/defines"
  rules=(main:"$d/rules.yar" other:"$d/other.yar")
  if ! yara -w "${defs[@]}" "${rules[@]}" /dev/null >/dev/null 2>"$d/yerr"; then
    # the generator is not a type checker: a rule set yara rejects is skipped (counted)
    echo "seed $seed: skipped, yara rejects the generated rules: $(head -1 "$d/yerr")"
    skipped=$((skipped + 1))
    rm -rf "$d"
    continue
  fi
  if ! "$KHIEN" yara -w "${defs[@]}" "${rules[@]}" /dev/null >/dev/null 2>"$d/kerr"; then
    bad "seed $seed: khien rejects rules yara accepts: $(head -1 "$d/kerr")"
    [ -n "${YARA_RANDOM_KEEP:-}" ] && mkdir -p "$YARA_RANDOM_KEEP" && cp -r "$d" "$YARA_RANDOM_KEEP/"
    rm -rf "$d"
    continue
  fi
  seed_ok=1
  for mode in "${MODES[@]}"; do
    # shellcheck disable=SC2086 # mode is a list of flags
    timeout "$YTIMEOUT" yara -w $mode "${defs[@]}" "${rules[@]}" "$d/files" >"$d/y.raw" 2>"$d/y.err"
    yrc=$?
    if [ "$yrc" -eq 124 ]; then
      # some generated loops and regexes take yara minutes (its backtracking
      # regex engine, loops up to filesize): not a comparison we can afford
      echo "seed $seed: skipped, yara $mode took more than ${YTIMEOUT}s"
      skipped=$((skipped + 1)); seed_ok=2
      break
    fi
    # shellcheck disable=SC2086
    "$KHIEN" yara -w $mode "${defs[@]}" "${rules[@]}" "$d/files" >"$d/k.raw" 2>"$d/k.err"
    krc=$?
    python3 "$GEN" --normalise "$d" "$d/y.raw" >"$d/y.txt"
    python3 "$GEN" --normalise "$d" "$d/k.raw" >"$d/k.txt"
    if [ "$yrc" -ne "$krc" ] || ! cmp -s "$d/y.txt" "$d/k.txt"; then
      seed_ok=0
      bad "seed $seed, yara $mode: output differs (exit yara $yrc, khien $krc)"
      head -3 "$d/k.err" | sed 's/^/    khien: /'
      diff "$d/y.txt" "$d/k.txt" | head -30 | sed 's/^/    /'
      echo "    reproduce: python3 tests/compat/yara_random.py $seed DIR --rules $NRULES --files $NFILES"
    fi
  done
  if [ "$seed_ok" -eq 2 ]; then
    :
  elif [ "$seed_ok" -eq 1 ]; then
    agree=$((agree + 1))
  elif [ -n "${YARA_RANDOM_KEEP:-}" ]; then
    mkdir -p "$YARA_RANDOM_KEEP" && cp -r "$d" "$YARA_RANDOM_KEEP/"
  fi
  rm -rf "$d"
done
[ $((skipped * 2)) -gt "$SEEDS" ] && bad "$skipped of $SEEDS seeds skipped: the generator makes too many rule sets yara rejects"
[ "$agree" -gt 0 ] && ok "$agree of $SEEDS seeds ($FIRST..$((FIRST + SEEDS - 1))): identical output in ${#MODES[@]} modes ($NRULES rules, $NFILES files each)"
finish
