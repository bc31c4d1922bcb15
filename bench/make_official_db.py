#!/usr/bin/env python3
"""Generate a database shaped like ClamAV's official one (main + daily):
millions of hash signatures and some 100,000 body signatures, plus a few
true positives for a small sample folder.

Output folder (every file plain text, unsigned, as clamscan -d reads it):
  main.hdb, daily.hdb   MD5:size:Name                        (78 % of HASHES)
  main.hsb, daily.hsb   SHA-256 (8 %) and SHA-1 (2 %) :size:Name; 5 % of them
                        with size '*' and functionality level 73, as real ones
  main.mdb, daily.mdb   PE section hashes SectionSize:MD5:Name (10 % of HASHES),
  main.msb, daily.msb   the same with SHA-256 (1.5 %; 5 % of them size '*', level 73)
  daily.imp             import-table hashes MD5:ImportSize:Name (0.5 %)
  main.ndb, daily.ndb   Name:0:Offset:HexSig, BODIES lines built like real
                        ones: runs of fixed bytes with ??, nibbles (a? ?a),
                        alternatives (aa|bb) (1122|3344) !(aa|bb), and parts
                        joined by *, {n}, {n-m}, {-n}, {n-}; offsets *, n,
                        n,m, EOF-n. Every part between * / {..} starts with
                        at least four fixed bytes and ends with two, so
                        clamscan accepts it. All target type 0 (any file).
  main.ldb, daily.ldb   LOGICAL logical signatures built like real ones:
                        Engine range, Target mixed as in daily.ldb (any, PE,
                        ELF, text, HTML, mail, PDF, OLE2, graphics, Mach-O,
                        flash, Java), 1-6 subsignatures made as the body ones
                        (offsets * / n / EP+n / SL+n / EOF-n, ::i ::w ::a
                        ::f on plain ones), some PCRE subsignatures,
                        expressions with & | =N >N <N >N,M and grouping.
  bench-true.hdb/.hsb/.ndb/.ldb  true positives for the files of --sample: their
                        MD5 and SHA-256, and body signatures cut from their
                        bytes with the same constructs.
Names follow ClamAV's Platform.Category.Family-SigId-Revision pattern.
Deterministic (fixed seed). The folder's params.json records the
parameters; if they match, nothing is rewritten.

Usage: make_official_db.py OUT_DIR [--hashes 8000000] [--bodies 100000]
       [--logical 30000] [--sample DIR] [--seed 7]
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
VERSION = 4  # bump when the generator's output changes


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


def write_section_hashes(path, rng, names, n, hexlen, imp=False):
    """.mdb/.msb: SectionSize:Hash:Name (size a multiple of 512, 5 % of the
    SHA-256 ones '*' with level 73); .imp: Hash:ImportSize:Name."""
    with open(path + ".tmp", "w") as f:
        left = n
        while left > 0:
            m = min(100_000, left)
            left -= m
            lines = []
            for _ in range(m):
                h = rng.getrandbits(hexlen * 4).to_bytes(hexlen // 2, "big").hex()
                if imp:
                    lines.append("%s:%d:%s\n" % (h, rng.randint(40, 12000), names()))
                elif hexlen > 32 and rng.random() < 0.05:
                    lines.append("*:%s:%s:73\n" % (h, names()))
                else:
                    lines.append("%d:%s:%s\n" % (512 * rng.randint(1, 4096), h, names()))
            f.write("".join(lines))
    os.replace(path + ".tmp", path)


# Target types of logical signatures, weighted roughly as in daily.ldb.
LDB_TARGETS = [(0, 24), (1, 45), (2, 3), (3, 6), (4, 2), (5, 1), (6, 3), (7, 8), (9, 1), (10, 4), (11, 1),
               (12, 2)]
PCRE_WORDS = ["eval", "document", "write", "unescape", "fromCharCode", "powershell", "cmd", "exec", "base64",
              "ActiveXObject", "WScript", "Shell", "http", "window", "location", "iframe", "script", "href"]


def logical_expr(rng, ids):
    """A random expression over the subsignature numbers in ids (each used
    once), with the constructs of real ones; sub-expressions parenthesised.
    Never true without a match (no <N): such signatures would flag every
    file of their type."""
    if len(ids) == 1:
        x = rng.random()
        if x < 0.08:
            return "%d>%d" % (ids[0], rng.randint(1, 3))
        if x < 0.12:
            return "%d=%d" % (ids[0], rng.randint(1, 2))
        return str(ids[0])
    if len(ids) >= 3 and rng.random() < 0.10:  # a counted block
        op = rng.choice(["|", "&"])
        body = op.join(str(i) for i in ids)
        return "(%s)%s" % (body, rng.choice([">%d" % rng.randint(1, 3), ">%d,%d" % (rng.randint(1, 2), 2),
                                             "=%d" % rng.randint(1, 2)]))
    k = rng.randint(1, len(ids) - 1)
    a, b = logical_expr(rng, ids[:k]), logical_expr(rng, ids[k:])
    op = "&" if rng.random() < 0.7 else "|"
    wrap = lambda e: e if e.isdigit() else "(%s)" % e
    return wrap(a) + op + wrap(b)


def plain_hex(rng, n=None):
    return bytes(rng.randrange(256) for _ in range(n or rng.randint(6, 24))).hex()


def logical_signature(rng, name):
    target = rng.choices([t for t, _ in LDB_TARGETS], [w for _, w in LDB_TARGETS])[0]
    tdb = ["Engine:%d-255" % rng.choice([51, 51, 56, 81, 90]), "Target:%d" % target]
    x = rng.random()
    if x < 0.15:
        lo = rng.randint(1, 2000) * 1024
        tdb.append("FileSize:%d-%d" % (lo, lo + rng.randint(1, 4000) * 1024))
    elif target == 1 and x < 0.22:
        tdb.append("NumberOfSections:%d-%d" % (rng.randint(1, 4), rng.randint(4, 12)))
    nsub = rng.choices([1, 2, 3, 4, 5, 6], [10, 30, 25, 17, 10, 8])[0]
    subs = []
    for i in range(nsub):
        y = rng.random()
        if i > 0 and y < 0.04:  # PCRE, triggered by subsignature 0
            w = rng.sample(PCRE_WORDS, 2)
            subs.append("0/%s\\s*\\(\\s*[a-z0-9_]{2,12}\\s*,?%s/%s" % (w[0], w[1], rng.choice(["", "i", "si", "g"])))
            continue
        if y < 0.30:  # plain bytes, maybe with a modifier
            sub = plain_hex(rng)
            if rng.random() < 0.3:
                sub += "::" + rng.choice(["i", "w", "a", "f", "wa", "iw", "fw"])
        else:
            _, sub = body_signature(rng)
        z = rng.random()
        if target in (1, 6) and z < 0.15:
            sub = "EP+%d:%s" % (rng.randint(0, 64), sub) if rng.random() < 0.5 else \
                "EP+0,%d:%s" % (rng.randint(8, 512), sub)
        elif target == 1 and z < 0.20:
            sub = "SL+%d:%s" % (rng.randint(0, 256), sub)
        elif z < 0.25:
            sub = "%d:%s" % (rng.randint(0, 512), sub)
        elif z < 0.28:
            sub = "EOF-%d:%s" % (rng.randint(64, 4096), sub)
        subs.append(sub)
    expr = logical_expr(rng, list(range(nsub)))
    # A PCRE needs its trigger (0) to be a hex subsignature: it is never 0.
    return "%s;%s;%s;%s" % (name, ",".join(tdb), expr, ";".join(subs))


def true_logical(rng, data, i, elf):
    """A logical signature matching data: 2-3 subsignatures cut from it."""
    if len(data) < 2048:
        return None
    nsub = rng.randint(2, 3)
    subs = []
    for _ in range(nsub):
        start = rng.randint(0, len(data) - 40)
        subs.append(run_tokens(rng, data[start:start + rng.randint(10, 24)]))
    expr = rng.choice(["&".join(str(k) for k in range(nsub)), "0&(1|%d)" % (nsub - 1) if nsub > 2 else "0|1",
                       "(%s)>0,%d" % ("|".join(str(k) for k in range(nsub)), nsub)])
    target = 6 if elf and rng.random() < 0.6 else 0
    return "Bench.True.Logical-%d-0;Engine:51-255,Target:%d;%s;%s" % (i + 1, target, expr, ";".join(subs))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--hashes", type=int, default=8_000_000)
    ap.add_argument("--bodies", type=int, default=100_000)
    ap.add_argument("--logical", type=int, default=30_000)
    ap.add_argument("--sample", default="")
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()

    sample_files = []
    if a.sample:
        for r, _, fs in os.walk(a.sample):
            sample_files += [os.path.join(r, f) for f in fs]
        sample_files.sort()
    params = {"version": VERSION, "hashes": a.hashes, "bodies": a.bodies, "logical": a.logical, "seed": a.seed,
              "sample": [(os.path.relpath(p, a.sample), os.path.getsize(p)) for p in sample_files]}
    pfile = os.path.join(a.out, "params.json")
    if os.path.exists(pfile):
        with open(pfile) as f:
            if json.load(f) == json.loads(json.dumps(params)):  # the sample list's tuples are lists in JSON
                print("  official-shaped database up to date in %s" % a.out)
                return 0
    os.makedirs(a.out, exist_ok=True)
    if os.path.exists(pfile):
        os.remove(pfile)

    rng = random.Random(a.seed)
    names = Names(rng)
    n_md5 = int(a.hashes * 0.78)
    n_sha = int(a.hashes * 0.10)
    n_mdb = int(a.hashes * 0.10)
    n_msb = int(a.hashes * 0.015)
    n_imp = a.hashes - n_md5 - n_sha - n_mdb - n_msb
    write_hashes(os.path.join(a.out, "main.hdb"), rng, names, n_md5 * 2 // 3, [(32, 1)])
    write_hashes(os.path.join(a.out, "daily.hdb"), rng, names, n_md5 - n_md5 * 2 // 3, [(32, 1)])
    write_hashes(os.path.join(a.out, "main.hsb"), rng, names, n_sha // 2, [(64, 4), (40, 1)])
    write_hashes(os.path.join(a.out, "daily.hsb"), rng, names, n_sha - n_sha // 2, [(64, 4), (40, 1)])
    write_section_hashes(os.path.join(a.out, "main.mdb"), rng, names, n_mdb * 2 // 3, 32)
    write_section_hashes(os.path.join(a.out, "daily.mdb"), rng, names, n_mdb - n_mdb * 2 // 3, 32)
    write_section_hashes(os.path.join(a.out, "main.msb"), rng, names, n_msb // 2, 64)
    write_section_hashes(os.path.join(a.out, "daily.msb"), rng, names, n_msb - n_msb // 2, 64)
    write_section_hashes(os.path.join(a.out, "daily.imp"), rng, names, n_imp, 32, imp=True)
    n_main = a.bodies * 7 // 10
    for fname, count in (("main.ndb", n_main), ("daily.ndb", a.bodies - n_main)):
        with open(os.path.join(a.out, fname + ".tmp"), "w") as f:
            for _ in range(count):
                off, sig = body_signature(rng)
                f.write("%s:0:%s:%s\n" % (names(), off, sig))
        os.replace(os.path.join(a.out, fname + ".tmp"), os.path.join(a.out, fname))
    n_main = a.logical // 3
    for fname, count in (("main.ldb", n_main), ("daily.ldb", a.logical - n_main)):
        with open(os.path.join(a.out, fname + ".tmp"), "w") as f:
            f.write("".join(logical_signature(rng, names()) + "\n" for _ in range(count)))
        os.replace(os.path.join(a.out, fname + ".tmp"), os.path.join(a.out, fname))

    tr = random.Random(a.seed + 1)
    hdb, hsb, ndb, ldb = [], [], [], []
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
        t = true_logical(tr, data, i, data[:4] == b"\x7fELF")
        if t:
            ldb.append(t)
    for ext, lines in (("hdb", hdb), ("hsb", hsb), ("ndb", ndb), ("ldb", ldb)):
        with open(os.path.join(a.out, "bench-true." + ext), "w") as f:
            f.write("".join(l + "\n" for l in lines))
    with open(pfile, "w") as f:
        json.dump(params, f)
    total = a.hashes + a.bodies + a.logical + len(hdb) + len(hsb) + len(ndb) + len(ldb)
    print("  %d hash + %d body + %d logical signatures (+ %d/%d/%d/%d true positives) -> %s" %
          (a.hashes, a.bodies, a.logical, len(hdb), len(hsb), len(ndb), len(ldb), a.out))
    print("  %d signatures in all" % total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
