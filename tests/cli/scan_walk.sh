#!/bin/bash
# End-to-end: walking folders. FIFOs and other special files are skipped and
# never block; unreadable files and folders are reported, counted, and give
# exit 2 only when nothing was found; symbolic links are not followed inside
# folders unless asked, and loops terminate when they are; --exclude;
# -j 1 and -j 4 print the same lines in the same (sorted walk) order;
# --json prints one well-formed JSON object per line, whatever the names.
. "$SRC/tests/lib.sh"
PY=/usr/bin/python3 # the system one starts fast; a pyenv shim can take seconds
[ -x "$PY" ] || PY=python3
F="Eicar-Test-Signature FOUND"
chmod 755 "$T"
eicar "$T/eicar.src"

# ---- FIFOs, sockets, devices ---------------------------------------------------
P=$T/p
mkdir -p "$P"
echo clean > "$P/a.txt"
mkfifo "$P/fifo"
"$PY" -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$P/sock"
cp "$T/eicar.src" "$P/z.com"
ln -s fifo "$P/to-fifo"
expect_rc 1 "folder with a FIFO and a socket: no hang" timeout 60 "$KHIEN" scan --verbose "$P"
check "FIFO skipped" has "$P/fifo: Skipped (not a regular file (FIFO, socket or device))"
check "socket skipped" has "$P/sock: Skipped (not a regular file (FIFO, socket or device))"
check "file after them scanned" has "$P/z.com: $F"
check "skips counted" has "Skipped files: 3" # fifo, sock, and the symlink (not followed)
expect_rc 1 "--follow-symlinks to a FIFO: no hang" timeout 60 "$KHIEN" scan --verbose --follow-symlinks "$P"
check "FIFO behind a followed link skipped" has "$P/to-fifo: Skipped (not a regular file (FIFO, socket or device))"
expect_rc 0 "a FIFO named on the command line: no hang" timeout 60 "$KHIEN" scan --verbose "$P/fifo"
check "named FIFO skipped" has "$P/fifo: Skipped (not a regular file"
expect_rc 0 "a character device: skipped" timeout 60 "$KHIEN" scan --verbose /dev/null
check "device skipped" has "/dev/null: Skipped (not a regular file"

# ---- Unreadable files and folders ------------------------------------------------
# in a folder of its own under /tmp: the uid the checks run as must be able
# to reach it (the scratch folder may sit below a 0700 home, as /root is)
U=$(mktemp -d /tmp/khien-walk.XXXXXX)
chmod 755 "$U"
trap 'chmod -R u+rwx "$T" "$U" 2>/dev/null; rm -rf "$T" "$U" "$U-state"' EXIT
mkdir -p "$U/locked"
echo clean > "$U/a.txt"
echo secret > "$U/secret.txt"
echo inside > "$U/locked/x.txt"
chmod 600 "$U/secret.txt"
chmod 700 "$U/locked"
# As root everything is readable: run khien as uid 65534 on files owned by
# root, or (as an ordinary user) on mode-000 files of our own.
AS=()
if [ "$(id -u)" -eq 0 ]; then
  if command -v setpriv >/dev/null 2>&1 && setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
    AS=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
  fi
else
  chmod 000 "$U/secret.txt" "$U/locked"
fi
if [ "$(id -u)" -eq 0 ] && [ ${#AS[@]} -eq 0 ]; then
  echo "skip unreadable-file checks: running as root and cannot switch to uid 65534 (no setpriv)"
else
  NS=$U-state
  mkdir -p "$NS" && chmod 777 "$NS"
  run_as() { KHIEN_STATE_DIR=$NS "${AS[@]}" "$@"; }
  expect_rc 2 "unreadable file and folder, nothing found: exit 2" run_as "$KHIEN" scan "$U"
  check "unreadable file reported" has_err "$U/secret.txt: Permission denied ERROR"
  check "unreadable folder reported" has_err "$U/locked: Permission denied ERROR"
  check "errors counted" has "Total errors: 2"
  check "the readable file still scanned" has "Scanned files: 1"
  cp "$T/eicar.src" "$U/z.com"
  chmod 644 "$U/z.com"
  expect_rc 1 "unreadable file but something found: exit 1" run_as "$KHIEN" scan "$U"
  check "detection printed" has "$U/z.com: $F"
  check "error still reported" has_err "$U/secret.txt: Permission denied ERROR"
  expect_rc 1 "unreadable file in JSON" run_as "$KHIEN" scan --json "$U"
  check "JSON error object" hasre "^\\{\"type\":\"error\",\"path\":\"$U/secret.txt\",\"message\":\"Permission denied\"\\}\$"
  check "JSON summary counts the errors" hasre '"errors":2[,}]'
  rm -f "$U/z.com"
fi

# ---- Symbolic links ----------------------------------------------------------------
S=$T/s
mkdir -p "$S/a" "$T/outside"
cp "$T/eicar.src" "$S/a/x.com"
cp "$T/eicar.src" "$T/outside/o.com"
ln -s .. "$S/a/loop"
ln -s self "$S/self"
ln -s a "$S/b"
ln -s "$T/outside/o.com" "$S/ext.com"
ln -s "$T/outside" "$S/extdir"
expect_rc 1 "links not followed by default" timeout 60 "$KHIEN" scan --verbose "$S"
check "real file found" has "$S/a/x.com: $F"
check "link to a file skipped" has "$S/ext.com: Skipped (symbolic link)"
check "link to a folder skipped" has "$S/extdir: Skipped (symbolic link)"
check "nothing outside found" bash -c "! grep -q 'outside\|ext.com: Eicar\|extdir/' '$T/out'"
check "one infected file" has "Infected files: 1"
expect_rc 1 "--follow-symlinks with loops terminates" timeout 60 "$KHIEN" scan --verbose --follow-symlinks "$S"
check "loop to a parent skipped" has "$S/a/loop: Skipped (symbolic link loop)"
check "self link skipped" has "$S/self: Skipped (symbolic link loop)"
check "second way into a folder skipped" has "$S/b: Skipped (symbolic link loop)"
check "followed link to a file" has "$S/ext.com: $F"
check "followed link to a folder" has "$S/extdir/o.com: $F"
check "each file once" has "Infected files: 3"
check "x.com reported once" test "$(grep -c 'x.com: Eicar' "$T/out")" -eq 1
expect_rc 1 "a link named on the command line is followed" "$KHIEN" scan --no-summary "$S/ext.com"
check "named link scanned" has "$S/ext.com: $F"
expect_rc 1 "a folder link named on the command line is entered" "$KHIEN" scan --no-summary "$S/extdir"
check "named folder link scanned" has "$S/extdir/o.com: $F"

# ---- --exclude ------------------------------------------------------------------------
X=$T/x
mkdir -p "$X/sub" "$X/logs"
for f in keep.com skip.com sub/deep.com logs/a.log; do cp "$T/eicar.src" "$X/$f"; done
expect_rc 1 "--exclude by name, glob, folder name and full path" "$KHIEN" scan --verbose --no-summary \
  --exclude skip.com --exclude 'sub' --exclude "$X/logs/*" "$X"
check "kept file found" has "$X/keep.com: $F"
check "excluded name skipped" has "$X/skip.com: Skipped (excluded)"
check "excluded folder skipped" has "$X/sub: Skipped (excluded)"
check "excluded full path skipped" has "$X/logs/a.log: Skipped (excluded)"
check "only one detection" test "$(grep -c "$F" "$T/out")" -eq 1
expect_rc 0 "--exclude '*.com' and '*.log'" "$KHIEN" scan --no-summary --exclude '*.com' --exclude '*.log' "$X"

# ---- Deterministic order with 1 and 4 threads --------------------------------------------
O=$T/o
"$PY" - "$O" "$T/eicar.src" "$T/expected" <<'EOF'
import os, sys, zipfile
root, eicar, expected = sys.argv[1], open(sys.argv[2], "rb").read(), sys.argv[3]
infected = set()
for d in range(6):
    for f in range(25):
        sub = os.path.join(root, "d%d" % d, "e%d" % (f % 3))
        os.makedirs(sub, exist_ok=True)
        p = os.path.join(sub, "f%02d.bin" % f)
        if (d * 25 + f) % 11 == 0:
            data = eicar
            infected.add(p)
        else:
            data = (b"clean file %d %d\n" % (d, f)) * (1 + f * 37)
        open(p, "wb").write(data)
z = os.path.join(root, "d2", "arch.zip")
with zipfile.ZipFile(z, "w") as zf:
    zf.writestr("inner/m.com", eicar)
# The expected report: depth-first, entries sorted by name (bytes).
lines = []
for dirpath, dirs, files in os.walk(root):
    dirs.sort()
    for name in sorted(files):
        p = os.path.join(dirpath, name)
        if p == z:
            lines.append("%s!inner/m.com: Eicar-Test-Signature FOUND" % p)
        elif p in infected:
            lines.append("%s: Eicar-Test-Signature FOUND" % p)
        else:
            lines.append("%s: OK" % p)
# os.walk yields a folder's files before its subfolders; khien sorts files
# and folders together: order by path components instead.
lines.sort(key=lambda l: l.split(": ")[0].split("!")[0].split("/"))
open(expected, "w").write("\n".join(lines) + "\n")
EOF
expect_rc 1 "-j 1" "$KHIEN" scan --verbose --no-summary --no-cache -j 1 "$O"
cp "$T/out" "$T/j1"
expect_rc 1 "-j 4" "$KHIEN" scan --verbose --no-summary --no-cache -j 4 "$O"
cp "$T/out" "$T/j4"
expect_rc 1 "-j 4 again" "$KHIEN" scan --verbose --no-summary --no-cache -j 4 "$O"
cp "$T/out" "$T/j4b"
check "-j 1 and -j 4 print identical output" cmp -s "$T/j1" "$T/j4"
check "two -j 4 runs identical" cmp -s "$T/j4" "$T/j4b"
check "output is the sorted walk order (independently computed)" cmp -s "$T/expected" "$T/j4"
if ! cmp -s "$T/expected" "$T/j4"; then diff "$T/expected" "$T/j4" | head -10 | sed 's/^/    /'; fi
expect_rc 1 "--json -j 1" "$KHIEN" scan --json --verbose --no-summary --no-cache -j 1 "$O"
cp "$T/out" "$T/json1"
expect_rc 1 "--json -j 4" "$KHIEN" scan --json --verbose --no-summary --no-cache -j 4 "$O"
check "--json -j 1 and -j 4 identical" cmp -s "$T/json1" "$T/out"

# ---- JSON with awkward names --------------------------------------------------------------
J=$T/j
mkdir -p "$J"
"$PY" - "$J" "$T/eicar.src" <<'EOF'
import os, sys
d, eicar = os.fsencode(sys.argv[1]), open(sys.argv[2], "rb").read()
for name in [b'quote"name', b'back\\slash', b'new\nline', b'tab\tname', b'ctl\x01x', b'bad\xffutf8',
             b'Khi\xc3\xaan.txt', b'sp ace:colon']:
    open(os.path.join(d, name), "wb").write(eicar)
open(os.path.join(d, b"clean.txt"), "wb").write(b"hello\n")
EOF
(cd "$T" && cp eicar.src e.com && zip -q -P pw "$J/enc.zip" e.com && rm e.com)
expect_rc 1 "--json on awkward names" "$KHIEN" scan --json --verbose --allmatch "$J"
cp "$T/out" "$T/json"
jt_bad=0
while IFS= read -r line; do
  printf '%s\n' "$line" | "$PY" -m json.tool >/dev/null 2>&1 || { jt_bad=$((jt_bad + 1)); echo "    not JSON: $line"; }
done < "$T/json"
check "every line passes python3 -m json.tool" test "$jt_bad" -eq 0
check "one object per line (names with newlines escaped)" test "$(wc -l < "$T/json")" -eq 12
check "JSON content" "$PY" - "$T/json" "$J" <<'EOF'
import json, os, sys
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
d = sys.argv[2]
det = {r["path"] for r in rows if r["type"] == "detection"}
want = {os.path.join(d, n) for n in ['quote"name', 'back\\slash', 'new\nline', 'tab\tname', 'ctl\x01x',
                                      'Khi\u00ean.txt', 'sp ace:colon']}
ok = want <= det and len(det) == 8
ok &= any(r["type"] == "detection" and r["path"].startswith(os.path.join(d, "bad")) for r in rows)
ok &= any(r["type"] == "warning" and r["path"].endswith("enc.zip") and "encrypted" in r["message"] for r in rows)
ok &= any(r["type"] == "clean" and r["path"].endswith("clean.txt") for r in rows)
s = [r for r in rows if r["type"] == "summary"]
ok &= len(s) == 1 and s[0]["infected_files"] == 8 and s[0]["files"] == 10 and rows[-1]["type"] == "summary"
sys.exit(0 if ok else 1)
EOF
finish
