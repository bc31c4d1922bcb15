#!/usr/bin/env python3
"""Write a SHA-256 .hsb: COUNT random entries plus the true SHA-256:size of
REAL corpus files (so there are true hash detections).

Random entries: "hash:size:Bench.Hash.Random.N" with a random 256-bit hash
and a size drawn log-uniformly between 512 bytes and 50 MB (fixed seed).
Real entries: "hash:size:Bench.Hash.Real.N" for REAL files picked at an even
stride through the corpus manifest (sorted paths), hashed from the copy.
The lines are shuffled with the same seed, as a real database is not sorted.

Usage: make_hsb.py CORPUS_DIR OUT.hsb [--count 100000] [--real 20] [--seed 1]
"""
import argparse
import hashlib
import math
import os
import random
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("out")
    ap.add_argument("--count", type=int, default=100000)
    ap.add_argument("--real", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    rng = random.Random(a.seed)
    lines = []
    lo, hi = math.log(512), math.log(50_000_000)
    for i in range(a.count):
        h = rng.getrandbits(256).to_bytes(32, "big").hex()
        size = int(math.exp(rng.uniform(lo, hi)))
        lines.append("%s:%d:Bench.Hash.Random.%d" % (h, size, i + 1))

    with open(a.corpus.rstrip("/") + ".manifest", encoding="utf-8", errors="surrogateescape") as f:
        files = [l.rstrip("\n").split("\t", 1)[1] for l in f if l.strip()]
    picked = []
    if files and a.real:
        stride = max(1, len(files) // a.real)
        picked = files[stride // 2::stride][:a.real]
    for i, p in enumerate(picked):
        local = os.path.join(a.corpus, p.lstrip("/"))
        h = hashlib.sha256()
        n = 0
        with open(local, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
                n += len(chunk)
        lines.append("%s:%d:Bench.Hash.Real.%d" % (h.hexdigest(), n, i + 1))
    rng.shuffle(lines)
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, a.out)
    print("  %d random + %d real SHA-256 entries -> %s" % (a.count, len(picked), a.out))
    for i, p in enumerate(picked):
        print("    Bench.Hash.Real.%d  %s" % (i + 1, p))
    return 0


if __name__ == "__main__":
    sys.exit(main())
