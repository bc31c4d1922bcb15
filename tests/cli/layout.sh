#!/bin/bash
# End-to-end: the centre's subcommands live in libkhien-centre.so, loaded
# only when one of them runs. It is found beside the program (a build
# folder) or in ../lib/khien (an installed program); without it those
# subcommands fail with exit 2 and a message naming the module, and the
# scanner's subcommands still work. A scan does not load the module.
. "$SRC/tests/lib.sh"
MOD="$(dirname "$KHIEN")/libkhien-centre.so"
check "the module is built beside the program" test -f "$MOD"
expect_rc 0 "khien server --help from the build folder" "$KHIEN" server --help
check "server usage printed" has "khien server"

# installed: bin/khien and lib/khien/libkhien-centre.so
mkdir -p "$T/inst/bin" "$T/inst/lib/khien"
cp "$KHIEN" "$T/inst/bin/khien"
cp "$MOD" "$T/inst/lib/khien/"
expect_rc 0 "installed layout: khien agent --help" "$T/inst/bin/khien" agent --help
check "agent usage printed" has "khien agent"

# missing module
rm "$T/inst/lib/khien/libkhien-centre.so"
expect_rc 2 "module missing: khien update exits 2" "$T/inst/bin/khien" update --help
check "module missing: the message names it" has_err "libkhien-centre.so"
printf 'clean\n' > "$T/a.txt"
expect_rc 0 "module missing: khien scan still works" "$T/inst/bin/khien" scan --no-summary "$T/a.txt"

# a scan never loads it (the libraries of the centre stay out of the process)
if command -v strace >/dev/null 2>&1; then
  strace -f -e trace=openat -o "$T/trace" "$KHIEN" scan --no-summary "$T/a.txt" >/dev/null 2>&1
  check "khien scan does not open the module" bash -c "! grep -q 'libkhien-centre.so' '$T/trace'"
  check "khien scan does not load libpq or libmicrohttpd" bash -c "! grep -qE 'libpq|libmicrohttpd' '$T/trace'"
else
  ldd "$KHIEN" > "$T/ldd"
  check "khien is not linked with libpq or libmicrohttpd" bash -c "! grep -qE 'libpq|libmicrohttpd' '$T/ldd'"
fi
finish
