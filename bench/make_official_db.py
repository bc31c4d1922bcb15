#!/usr/bin/env python3
"""Generate a database shaped like ClamAV's official one (main + daily):
millions of hash signatures and some 100,000 body signatures, plus a few
true positives for a small sample folder.

Output folder (every file plain text, unsigned, as clamscan -d reads it):
  main.hdb, daily.hdb   MD5:size:Name                        (90 % of HASHES)
  main.hsb, daily.hsb   SHA-256 (8 %) and SHA-1 (2 %) :size:Name; 5 % of them
                        with size '*' and functionality level 73, as real ones
  main.ndb, daily.ndb   Name:0:Offset:HexSig, BODIES lines built like real
                        ones: runs of fixed bytes with ??, nibbles (a? ?a),
                        alternatives (aa|bb) (1122|3344) !(aa|bb), and parts
                        joined by *, {n}, {n-m}, {-n}, {n-}; offsets *, n,
                        n,m, EOF-n. Every part between * / {..} starts with
                        at least four fixed bytes and ends with two, so
                        clamscan accepts it. All target type 0 (any file).
  bench-true.hdb/.hsb/.ndb  true positives for the files of --sample: their
                        MD5 and SHA-256, and body signatures cut from their
                        bytes with the same constructs.
Names follow ClamAV's Platform.Category.Family-SigId-Revision pattern.
Deterministic (fixed seed). The folder's params.json records the
parameters; if they match, nothing is rewritten.

Usage: make_official_db.py OUT_DIR [--hashes 8000000] [--bodies 100000]
       [--sample DIR] [--seed 7]
"""
import argparse
import hashlib
import json
import math
import os
import random
import sys

PLATFORMS = ["Win"] * 14 + ["Unix", "Unix", "Andr", "Doc", "Xls", "Html", "Js", "Pdf", "Osx", "Multios", "Email",
                            "Java", "Php", "Txt", "Rtf", "Swf"]
CATEGORIES = ["Trojan"] * 10 + ["Malware"] * 4 + ["Downloader", "Dropper", "Exploit", "Worm", "Virus", "Adware",
                                                  "Packed", "Ransomware", "Spyware", "Coinminer", "Keylogger",
                                                  "Backdoor", "Phishing", "Tool", "Infostealer"]
SYL = ["ag", "bo", "cra", "dor", "el", "fi", "gu", "ha", "ix", "jo", "ka", "lo", "mi", "nu", "or", "pa", "qu", "ra",
       "sa", "tu", "ur", "vi", "wo", "xe", "ya", "zo", "bot", "net", "lock", "kit", "rat", "spy"]
VERSION = 3  # bump when the generator's output changes


def families(rng, n=600):
    out = set()
    while len(out) < n:
        w = "".join(rng.choice(SYL) for _ in range(rng.randint(2, 4)))
        out.add(w.capitalize())
    return sorted(out)


class Names:
    def __init__(self, rng):
        self.rng = rng
        self.fam = families(rng)
        self.sigid = 1000000

    def __call__(self):
        r = self.rng
        self.sigid += r.randint(1, 3)
        return "%s.%s.%s-%d-%d" % (r.choice(PLATFORMS), r.choice(CATEGORIES), r.choice(self.fam), self.sigid,
                                   0 if r.random() < 0.8 else r.randint(1, 3))


def rand_size(rng):
    return int(math.exp(rng.uniform(math.log(1024), math.log(20_000_000))))


def write_hashes(path, rng, names, n, kinds):
    """kinds: list of (digest hex length, weight)."""
    chunk = 100_000
    lens = [k for k, _ in kinds]
    weights = [w for _, w in kinds]
    with open(path + ".tmp", "w") as f:
        left = n
        while left > 0:
            m = min(chunk, left)
            left -= m
            lines = []
            for _ in range(m):
                hl = rng.choices(lens, weights)[0]
                h = rng.getrandbits(hl * 4).to_bytes(hl // 2, "big").hex()
                if hl > 32 and rng.random() < 0.05:
                    lines.append("%s:*:%s:73\n" % (h, names()))
                else:
                    lines.append("%s:%d:%s\n" % (h, rand_size(rng), names()))
            f.write("".join(lines))
    os.replace(path + ".tmp", path)


def hexbyte(rng):
    return "%02x" % rng.randrange(256)


def run_tokens(rng, fixed_bytes):
    """One part: tokens over random bytes (or the given real bytes, then the
    wildcards are chosen so that they still match them)."""
    real = fixed_bytes is not None
    n = len(fixed_bytes) if real else rng.randint(6, 40)
    data = fixed_bytes if real else bytes(rng.randrange(256) for _ in range(n))
    toks = []
    i = 0
    while i < n:
        b = data[i]
        inner = 4 <= i < n - 2  # keep 4 fixed bytes at the start, 2 at the end
        x = rng.random()
        if not inner or x < 0.72:
            toks.append("%02x" % b)
        elif x < 0.82:
            toks.append("??")
        elif x < 0.85:
            toks.append(("%x?" % (b >> 4)) if rng.random() < 0.5 else ("?%x" % (b & 15)))
        elif x < 0.91:
            alts = {b}
            while len(alts) < rng.randint(2, 4):
                alts.add(rng.randrange(256))
            alts = sorted(alts, key=lambda _: rng.random())
            toks.append("(" + "|".join("%02x" % a for a in alts) + ")")
        elif x < 0.94 and i + 1 < n - 2:
            pair = data[i:i + 2]
            other = bytes(rng.randrange(256) for _ in range(2))
            alts = [pair.hex(), other.hex()] if rng.random() < 0.5 else [other.hex(), pair.hex()]
            toks.append("(" + "|".join(alts) + ")")
            i += 1
        elif x < 0.95:
            excl = set()
            while len(excl) < 2:
                c = rng.randrange(256)
                if c != b:
                    excl.add(c)
            toks.append("!(" + "|".join("%02x" % c for c in sorted(excl)) + ")")
        else:
            toks.append("%02x" % b)
        i += 1
    return "".join(toks)


def gap_token(rng, actual=None):
    """A separator between parts; with actual (the real distance), one that
    still matches it."""
    x = rng.random()
    if actual is None:
        if x < 0.30:
            return "*"
        if x < 0.70:
            a = rng.randint(0, 64)
            return "{%d-%d}" % (a, a + rng.randint(1, 256))
        if x < 0.90:
            return "{%d}" % rng.randint(1, 32)
        if x < 0.95:
            return "{-%d}" % rng.randint(2, 64)
        return "{%d-}" % rng.randint(1, 64)
    if x < 0.3:
        return "*"
    if x < 0.7:
        lo = max(0, actual - rng.randint(0, 8))
        return "{%d-%d}" % (lo, actual + rng.randint(1, 16))
    if x < 0.9 and actual > 0:
        return "{%d}" % actual
    return "{-%d}" % (actual + rng.randint(0, 8)) if actual > 0 else "*"


def body_signature(rng):
    parts = [run_tokens(rng, None) for _ in range(rng.choices([1, 2, 3, 4, 5], [30, 30, 20, 12, 8])[0])]
    sig = parts[0]
    for p in parts[1:]:
        sig += gap_token(rng) + p
    x = rng.random()
    if x < 0.75:
        off = "*"
    elif x < 0.83:
        off = str(rng.randint(0, 1024))
    elif x < 0.90:
        off = "%d,%d" % (rng.randint(0, 4096), rng.randint(1, 2048))
    elif x < 0.97:
        off = "EOF-%d" % rng.randint(16, 4096)
    else:
        off = "0"
    return off, sig


def true_signature(rng, data):
    """A body signature that matches data, built like the random ones;
    returns (offset, hexsig) or None for too small files."""
    if len(data) < 512:
        return None
    nparts = rng.randint(1, 3)
    lens = [rng.randint(10, 24) for _ in range(nparts)]
    gaps = [rng.randint(0, 40) for _ in range(nparts - 1)]
    span = sum(lens) + sum(gaps)
    x = rng.random()
    if x < 0.25:
        start = len(data) - span - rng.randint(0, 64)
        off = "EOF-%d" % (len(data) - start)
    else:
        start = rng.randint(0, len(data) - span - 1)
        off = "*" if x < 0.75 else "%d,%d" % (max(0, start - 20), 40)
    sig, pos = "", start
    for k, ln in enumerate(lens):
        if k:
            sig += gap_token(rng, gaps[k - 1])
            pos += gaps[k - 1]
        sig += run_tokens(rng, data[pos:pos + ln])
        pos += ln
    return off, sig


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--hashes", type=int, default=8_000_000)
    ap.add_argument("--bodies", type=int, default=100_000)
    ap.add_argument("--sample", default="")
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()

    sample_files = []
    if a.sample:
        for r, _, fs in os.walk(a.sample):
            sample_files += [os.path.join(r, f) for f in fs]
        sample_files.sort()
    params = {"version": VERSION, "hashes": a.hashes, "bodies": a.bodies, "seed": a.seed,
              "sample": [(os.path.relpath(p, a.sample), os.path.getsize(p)) for p in sample_files]}
    pfile = os.path.join(a.out, "params.json")
    if os.path.exists(pfile):
        with open(pfile) as f:
            if json.load(f) == params:
                print("  official-shaped database up to date in %s" % a.out)
                return 0
    os.makedirs(a.out, exist_ok=True)
    if os.path.exists(pfile):
        os.remove(pfile)

    rng = random.Random(a.seed)
    names = Names(rng)
    n_md5 = int(a.hashes * 0.90)
    n_sha = a.hashes - n_md5
    write_hashes(os.path.join(a.out, "main.hdb"), rng, names, n_md5 * 2 // 3, [(32, 1)])
    write_hashes(os.path.join(a.out, "daily.hdb"), rng, names, n_md5 - n_md5 * 2 // 3, [(32, 1)])
    write_hashes(os.path.join(a.out, "main.hsb"), rng, names, n_sha // 2, [(64, 4), (40, 1)])
    write_hashes(os.path.join(a.out, "daily.hsb"), rng, names, n_sha - n_sha // 2, [(64, 4), (40, 1)])
    n_main = a.bodies * 7 // 10
    for fname, count in (("main.ndb", n_main), ("daily.ndb", a.bodies - n_main)):
        with open(os.path.join(a.out, fname + ".tmp"), "w") as f:
            for _ in range(count):
                off, sig = body_signature(rng)
                f.write("%s:0:%s:%s\n" % (names(), off, sig))
        os.replace(os.path.join(a.out, fname + ".tmp"), os.path.join(a.out, fname))

    tr = random.Random(a.seed + 1)
    hdb, hsb, ndb = [], [], []
    for i, p in enumerate(sample_files):
        with open(p, "rb") as f:
            data = f.read()
        if i % 4 == 0:
            hdb.append("%s:%d:Bench.True.Md5-%d-0" % (hashlib.md5(data).hexdigest(), len(data), i + 1))
        elif i % 4 == 1:
            hsb.append("%s:%d:Bench.True.Sha256-%d-0" % (hashlib.sha256(data).hexdigest(), len(data), i + 1))
        t = true_signature(tr, data)
        if t:
            ndb.append("Bench.True.Body-%d-0:0:%s:%s" % (i + 1, t[0], t[1]))
    for ext, lines in (("hdb", hdb), ("hsb", hsb), ("ndb", ndb)):
        with open(os.path.join(a.out, "bench-true." + ext), "w") as f:
            f.write("".join(l + "\n" for l in lines))
    with open(pfile, "w") as f:
        json.dump(params, f)
    total = a.hashes + a.bodies + len(hdb) + len(hsb) + len(ndb)
    print("  %d hash + %d body signatures (+ %d/%d/%d true positives) -> %s" %
          (a.hashes, a.bodies, len(hdb), len(hsb), len(ndb), a.out))
    print("  %d signatures in all" % total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
