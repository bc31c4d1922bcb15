#!/usr/bin/env python3
"""Benchmark 2: start-up time and memory with a database shaped like
ClamAV's full official one (~8 million hash signatures, ~100,000 body
signatures), scanning the same small folder with both tools.

  1. picks 20 files of BENCH_SRC (default /usr; sorted paths, 1 KiB - 8 MiB,
     evenly spaced through the list) into out/official/sample;
  2. generates the database into out/official/db (make_official_db.py),
     with true positives for the sample files;
  3. times clamscan --allmatch -d DB SAMPLE, then khien scan --allmatch
     -d DB SAMPLE twice: first with an empty state folder (it parses the
     text databases and writes the compiled, memory-mapped set) and then
     again (it maps the compiled set);
  4. compares the detections and prints wall time and peak RSS of each, the
     ratios and the targets (khien peak RSS <= 1/4 of clamscan's, load time
     <= 1/10).

Environment: BENCH_OFFICIAL_HASHES (8000000), BENCH_OFFICIAL_BODIES (100000),
BENCH_SAMPLE_FILES (20), BENCH_SRC, BENCH_KHIEN_TIMEOUT (seconds for the
first khien run, default 14400), BENCH_SKIP_CLAMSCAN=1.
"""
import os
import shutil
import stat
import sys

import benchlib as B
import triage


def pick_sample(src, n, dst):
    files = []
    for r, _, fs in os.walk(src):
        for f in fs:
            p = os.path.join(r, f)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode) and 1024 <= st.st_size <= 8 << 20 and "!" not in p and "\n" not in p \
                    and os.access(p, os.R_OK):
                files.append(p)
    files.sort(key=os.fsencode)
    stride = max(1, len(files) // n)
    picked = files[stride // 2::stride][:n]
    want = [os.path.basename(p) for p in picked]
    listing = os.path.join(dst + ".list")
    text = "".join(p + "\n" for p in picked)
    if os.path.exists(listing) and open(listing).read() == text and sorted(os.listdir(dst)) == sorted(set(
            "%02d-%s" % (i, w) for i, w in enumerate(want))):
        B.say("  sample up to date: %d files in %s" % (len(picked), dst))
        return
    if os.path.exists(dst):
        shutil.rmtree(dst)
    os.makedirs(dst)
    for i, p in enumerate(picked):
        shutil.copyfile(p, os.path.join(dst, "%02d-%s" % (i, os.path.basename(p))))
    with open(listing, "w") as f:
        f.write(text)
    B.say("  sample: %d files copied to %s (listed in %s)" % (len(picked), dst, listing))


def main():
    hashes = B.env_int("BENCH_OFFICIAL_HASHES", 8_000_000)
    bodies = B.env_int("BENCH_OFFICIAL_BODIES", 100_000)
    nsample = B.env_int("BENCH_SAMPLE_FILES", 20)
    timeout = B.env_int("BENCH_KHIEN_TIMEOUT", 14400)
    skip_clam = os.environ.get("BENCH_SKIP_CLAMSCAN") == "1"
    base = os.path.join(B.OUT, "official")
    sample = os.path.join(base, "sample")
    db = os.path.join(base, "db")
    state = os.path.join(base, "state")
    env = {"KHIEN_STATE_DIR": state}

    B.section("build")
    B.build()
    B.section("sample folder")
    pick_sample(os.environ.get("BENCH_SRC", "/usr"), nsample, sample)
    B.section("official-shaped database (%d hashes, %d bodies)" % (hashes, bodies))
    B.run([sys.executable, os.path.join(B.HERE, "make_official_db.py"), db, "--hashes", str(hashes),
           "--bodies", str(bodies), "--sample", sample, "--seed", "7"])
    dbbytes = sum(os.path.getsize(os.path.join(db, f)) for f in os.listdir(db))
    B.say("  database on disk: %.1f MB in %s" % (dbbytes / 1e6, db))
    B.section("warm page cache (database and sample)")
    B.warm_page_cache(db)
    B.warm_page_cache(sample)

    B.section("runs")
    clam = None
    args = ["--allmatch"] + B.LIMITS + ["-d", db]
    if not skip_clam:
        clam, _ = B.median_run("clamscan", ["clamscan", "--infected", "--no-summary"] + args + [sample],
                               n=B.CLAM_REPEAT, tag="official_clamscan")
    if os.path.exists(state):
        shutil.rmtree(state)
    os.makedirs(state)
    kcmd = [B.KHIEN, "scan", "--no-builtin", "--no-cache", "--json"] + args + [sample]
    kcmd_t = ["timeout", str(timeout)] + kcmd
    k_first = B.timed("khien first run (compiles)", kcmd_t, env, tag="official_khien_first")
    if k_first.rc == 124:
        B.say("  khien's first run did not finish within %d s (BENCH_KHIEN_TIMEOUT)" % timeout)
    k_second, _ = B.median_run("khien second run (cached)", kcmd, env, tag="official_khien_cached")
    compiled = 0
    for r, _, fs in os.walk(state):
        compiled += sum(os.path.getsize(os.path.join(r, f)) for f in fs)

    B.section("detections")
    ok = True
    k1, _ = B.parse_khien_json(k_first.stdout, sample)
    where = {}
    k2, _ = B.parse_khien_json(k_second.stdout, sample, where)
    ok = B.compare("khien first", k1, "khien cached", k2, os.path.join(B.OUT, "diff-official-khien.txt")) and ok
    if clam:
        c = B.parse_clamscan(clam.stdout, sample)
        c, ch = B.split_heuristics(c)
        k2, kh = B.split_heuristics(k2)
        if ch or kh:
            B.say("  heuristic alerts left out: clamscan %d, khien %d" % (len(ch), len(kh)))
        agree = B.compare("clamscan", c, "khien cached", k2, os.path.join(B.OUT, "diff-official-clamscan-khien.txt"))
        if not agree:
            dbs = sorted(os.path.join(db, f) for f in os.listdir(db) if f.endswith((".hdb", ".hsb", ".ndb")))
            triage.triage(sorted(c - k2), sorted(k2 - c), sample, dbs, where, os.path.join(B.OUT, "triage-official.tsv"),
                          B.say)
        ok = ok and agree
        trues = {n for _, n in c if n.startswith("Bench.True.")}
        B.say("  true-positive signatures found by clamscan: %d" % len(trues))

    B.section("results: %d hash + %d body signatures (%.0f MB of text), %d files scanned" %
              (hashes, bodies, dbbytes / 1e6, nsample))
    rows = []
    if clam:
        rows.append(["clamscan", "%.2f" % clam.wall, "%.1f" % clam.cpu, "%.0f" % clam.rss_mib, "1.0", "1.0"])
    for lab, r in (("khien, first run (parse + compile + write cache)", k_first),
                   ("khien, cached (maps the compiled set)", k_second)):
        rows.append([lab, "%.2f" % r.wall, "%.1f" % r.cpu, "%.0f" % r.rss_mib,
                     "%.3f" % (r.wall / clam.wall) if clam else "-",
                     "%.3f" % (r.rss_mib / clam.rss_mib) if clam and clam.rss_kib else "-"])
    B.table(["run", "wall s (load + scan)", "CPU s", "peak RSS MiB", "time / clamscan", "RSS / clamscan"], rows)
    B.say("  compiled set on disk: %.1f MB" % (compiled / 1e6))
    if clam:
        B.say("  target: khien peak RSS <= 1/4 of clamscan's: %.3f  %s" %
              (k_second.rss_kib / clam.rss_kib, B.verdict(k_second.rss_kib * 4 <= clam.rss_kib)))
        B.say("  target: khien load time <= 1/10 of clamscan's: %.3f  %s" %
              (k_second.wall / clam.wall, B.verdict(k_second.wall * 10 <= clam.wall)))
    B.say("  detections: %s" % ("identical" if ok else "DIFFERENT (see above)"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
