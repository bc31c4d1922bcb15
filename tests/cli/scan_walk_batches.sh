#!/bin/bash
# End-to-end: the walk with the stat helper (-j > 1 shares the lstats of a
# folder of 16 entries or more with a second thread, in batches of up to 256
# names that end at each sub-folder). Large folders with files, sub-folders,
# symbolic links (to files, folders, nothing), a FIFO, excluded names and an
# excluded folder, files
# over --max-filesize and EICAR copies interleaved, and a chain of folders
# deeper than the walker keeps folders open (64), are walked with -j 1 and
# -j 2, with the clean-file cache cold and warm, with and without
# --follow-symlinks: every run must print exactly the lines an independent
# walk (Python, sorted by bytes, lstat) expects, in the same order; and
# khien yara without -r lists the files directly in a large folder.
. "$SRC/tests/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
eicar "$T/eicar.src"
W=$T/w
mkdir -p "$W"

# The tree: deterministic, built by Python.
"$PY" - "$W" "$T/eicar.src" <<'EOF'
import os, sys
root, eicar = sys.argv[1], open(sys.argv[2], "rb").read()
def big(d, n, seed):
    os.makedirs(d, exist_ok=True)
    for i in range(n):
        name = os.path.join(d, "f%04d%s" % (i, ".skip" if i % 53 == 7 else ""))
        if i % 41 == 5:                       # a sub-folder among the files
            os.makedirs(name)
            for k in range(3 + i % 19):      # some small, some above 16 entries
                with open(os.path.join(name, "g%02d" % k), "wb") as f:
                    f.write(b"inner %d %d\n" % (i, k))
        elif i % 97 == 11:
            with open(name, "wb") as f:
                f.write(eicar)
        elif i % 89 == 3:
            with open(name, "wb") as f:
                f.write(b"x" * 6000)          # over --max-filesize=5000
        else:
            with open(name, "wb") as f:
                f.write(b"file %d %d\n" % (seed, i))
    os.symlink("f0001", os.path.join(d, "f0001-link"))
    os.symlink("f0005", os.path.join(d, "f0005-dirlink"))   # to the sub-folder f0005
    os.symlink("nowhere", os.path.join(d, "f0002-dangling"))
    os.mkfifo(os.path.join(d, "f0003-fifo"))
    os.makedirs(os.path.join(d, "f0004.skip"))            # an excluded folder
    for k in range(20):
        with open(os.path.join(d, "f0004.skip", "h%02d" % k), "wb") as f:
            f.write(eicar if k == 3 else b"hidden\n")
    for odd in ("name with spaces", "tên-tiếng-việt", "Zupper", "_under", "~tilde"):
        with open(os.path.join(d, odd), "wb") as f:
            f.write(b"odd\n")
big(os.path.join(root, "a"), 600, 1)
big(os.path.join(root, "b"), 40, 2)
# A chain deeper than DIRFD_DEPTH (64): the walker falls back to full paths.
d = os.path.join(root, "c")
for level in range(72):
    d = os.path.join(d, "l%02d" % level)
    if level in (60, 63, 64, 65, 71):
        big(d, 20 + level % 3, level)
    else:
        os.makedirs(d, exist_ok=True)
EOF

# expect OUT FOLLOW: the lines khien --verbose --no-summary should print
expect_lines() {
  "$PY" - "$W" "$T/eicar.src" "$2" > "$1" <<'EOF'
import fnmatch, os, stat, sys
root, eicar, follow = sys.argv[1], open(sys.argv[2], "rb").read(), sys.argv[3] == "1"
seen = set()
out = sys.stdout.buffer
def excluded(path):
    base = path.rsplit(b"/", 1)[-1]
    return any(fnmatch.fnmatchcase(x, b"*.skip") for x in (path, base))
def visit(path, top):
    if not top and excluded(path):
        out.write(path + b": Skipped (excluded)\n"); return
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        if not top and not follow:
            out.write(path + b": Skipped (symbolic link)\n"); return
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return  # an error, on stderr
    if stat.S_ISDIR(st.st_mode):
        if follow:
            if (st.st_dev, st.st_ino) in seen:
                out.write(path + b": Skipped (symbolic link loop)\n"); return
            seen.add((st.st_dev, st.st_ino))
        for name in sorted(os.listdir(path)):
            visit(path + b"/" + name, False)
        return
    if not stat.S_ISREG(st.st_mode):
        out.write(path + b": Skipped (not a regular file (FIFO, socket or device))\n"); return
    if st.st_size > 5000:
        out.write(path + b": Skipped (larger than max-filesize)\n"); return
    with open(path, "rb") as f:
        infected = f.read() == eicar
    out.write(path + (b": Eicar-Test-Signature FOUND\n" if infected else b": OK\n"))
visit(os.fsencode(root), True)
EOF
}
expect_lines "$T/want" 0
expect_lines "$T/want-follow" 1
check "the oracle sees the deep chain" grep -q "/l71/f0000: OK" "$T/want"
check "the oracle finds EICAR copies" test "$(grep -c 'FOUND$' "$T/want")" -ge 6

run() { # run NAME ARGS...: khien's lines vs the oracle's
  local name=$1 want=$2; shift 2
  "$KHIEN" scan --verbose --no-summary --exclude='*.skip' --max-filesize=5000 "$@" "$W" > "$T/got" 2> "$T/err"
  local rc=$?
  check "$name: exit 1 (EICAR found)" test "$rc" -eq 1
  if cmp -s "$T/want$want" "$T/got"; then ok "$name: the expected lines in walk order"
  else bad "$name: the expected lines in walk order"; diff "$T/want$want" "$T/got" | head -10 | sed 's/^/    /'; fi
}
run "-j 1, cache cold" "" -j 1
run "-j 1, cache warm" "" -j 1
run "-j 2, cache warm" "" -j 2
run "-j 2, no cache" "" -j 2 --no-cache
rm -rf "$KHIEN_STATE_DIR"
run "-j 2, cache cold" "" -j 2
run "-j 2, cache warm again" "" -j 2
run "-j 2, --follow-symlinks" "-follow" -j 2 --follow-symlinks
run "-j 1, --follow-symlinks" "-follow" -j 1 --follow-symlinks
# The dangling link, followed, is an error on stderr (not in the lines above).
check "--follow-symlinks: the dangling link is an error" grep -q "f0002-dangling: .*ERROR" "$T/err"
"$KHIEN" scan --json --exclude='*.skip' --max-filesize=5000 -j 2 "$W" > "$T/out" 2>&1
check "warm -j 2: files cached" grep -q '"cached":[1-9][0-9][0-9]' "$T/out"

# khien yara without -r (the walk's max_depth 1): the files directly in the
# folder, none below, with one thread or two.
printf 'rule All { condition: true }\n' > "$T/all.yar"
"$PY" - "$W/a" > "$T/want-yara" <<'EOF'
import os, sys
d = sys.argv[1]
for name in sorted(os.listdir(d)):
    if os.path.isfile(os.path.join(d, name)):   # follows links; not the FIFO, not folders
        print("All " + os.path.join(d, name))
EOF
LC_ALL=C sort "$T/want-yara" > "$T/want-yara.s"
for p in 1 2; do
  "$KHIEN" yara -p $p "$T/all.yar" "$W/a" 2>/dev/null | LC_ALL=C sort > "$T/got-yara"
  if cmp -s "$T/want-yara.s" "$T/got-yara"; then ok "yara -p $p, not recursive: the files directly in the folder"
  else bad "yara -p $p, not recursive: the files directly in the folder"; diff "$T/want-yara.s" "$T/got-yara" | head -5 | sed 's/^/    /'; fi
done

finish
