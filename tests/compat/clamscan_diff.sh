#!/bin/bash
# Differential test: khien scan against Debian's clamscan on generated
# databases and files (tests/compat/gen.py). For each seed both tools scan
# the same files with --allmatch and must report the same (file, signature)
# pairs. Any difference is printed with the signature line and what the
# generator planted, and fails the test.
#
# Seeds: KH_COMPAT_SEEDS="1-200" (a range or a list) for a soak run; sizes
# per seed with KH_COMPAT_SIGS and KH_COMPAT_FILES; KH_COMPAT_KEEP=DIR keeps
# the generated trees (DIR/seed-N) to look at afterwards.
. "$SRC/tests/lib.sh"

. "$SRC/tests/compat/diff_seeds.bash"

seeds=${KH_COMPAT_SEEDS:-1-16}
nsigs=${KH_COMPAT_SIGS:-150}
nfiles=${KH_COMPAT_FILES:-100}
total_sigs=0
total_files=0
for seed in $(expand "$seeds"); do
    diff_seed "$seed" "${KH_COMPAT_KEEP:-$T}/seed-$seed" "$SRC/tests/compat/gen.py" --sigs "$nsigs" --files "$nfiles" ||
        continue
    total_sigs=$((total_sigs + nsigs))
    total_files=$((total_files + nfiles))
done
echo "$total_sigs body signatures and $total_files files compared"
finish
