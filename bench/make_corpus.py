#!/usr/bin/env python3
"""Build the scan corpus: copy regular files from a system tree, in sorted
path order, until the byte budget is reached.

Every file under SRC (default /usr) is listed without following symbolic
links; the list is sorted by path (bytewise). Files are taken in that order,
skipping anything that is not a regular file (symlinks, devices, ...),
files larger than --max-file bytes, empty files, files that cannot be read,
and paths holding a newline or '!' (khien separates archive members with '!'
and the output is line based). The first file that would overflow the budget
ends the walk, so the corpus is a prefix of the sorted list: the same
machine always gives the same corpus.

The copy goes to OUT/<path without leading "/">; OUT.manifest (beside it) lists
"size<TAB>path" of every file. If the manifest already matches, nothing is
copied again (file times are then left as they were).

Usage: make_corpus.py OUT [--src /usr] [--budget BYTES] [--max-file BYTES]
"""
import argparse
import hashlib
import os
import shutil
import stat
import sys


def walk(src):
    out = []
    for root, dirs, files in os.walk(src, followlinks=False, onerror=lambda e: None):
        for f in files:
            out.append(os.path.join(root, f))
    out.sort(key=lambda p: os.fsencode(p))
    return out


def readable(p):
    try:
        with open(p, "rb") as f:
            f.read(1)
        return True
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--src", default="/usr")
    ap.add_argument("--budget", type=int, default=1_500_000_000)
    ap.add_argument("--max-file", type=int, default=100 * 1024 * 1024)
    a = ap.parse_args()

    chosen = []
    total = 0
    skipped = {"not regular": 0, "too big": 0, "empty": 0, "unreadable": 0, "odd name": 0}
    for p in walk(a.src):
        try:
            st = os.lstat(p)
        except OSError:
            skipped["unreadable"] += 1
            continue
        if not stat.S_ISREG(st.st_mode):
            skipped["not regular"] += 1
            continue
        if "\n" in p or "!" in p or "\r" in p:
            skipped["odd name"] += 1
            continue
        if st.st_size > a.max_file:
            skipped["too big"] += 1
            continue
        if st.st_size == 0:
            skipped["empty"] += 1
            continue
        if not readable(p):
            skipped["unreadable"] += 1
            continue
        if total + st.st_size > a.budget:
            break
        chosen.append((st.st_size, p))
        total += st.st_size

    manifest = "".join("%d\t%s\n" % (s, p) for s, p in chosen)
    mpath = a.out.rstrip("/") + ".manifest"
    old = None
    if os.path.exists(mpath):
        with open(mpath, encoding="utf-8", errors="surrogateescape") as f:
            old = f.read()
    digest = hashlib.sha256(manifest.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    if old == manifest and all(os.path.isfile(os.path.join(a.out, p.lstrip("/"))) for _, p in chosen):
        print("  corpus up to date: %d files, %d bytes (manifest %s)" % (len(chosen), total, digest))
        return 0
    if os.path.exists(a.out):
        shutil.rmtree(a.out)
    os.makedirs(a.out)
    for s, p in chosen:
        dst = os.path.join(a.out, p.lstrip("/"))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(p, dst)
    with open(mpath, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write(manifest)
    print("  corpus built: %d files, %d bytes from %s (manifest %s); skipped %s" %
          (len(chosen), total, a.src, digest, ", ".join("%s %d" % kv for kv in skipped.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
