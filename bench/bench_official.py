#!/usr/bin/env python3
"""Benchmark 2: start-up time and memory with a database shaped like
ClamAV's full official one (~8 million hash signatures, ~100,000 body
and ~30,000 logical signatures), scanning the same small folder with both
tools; with --corpus also the throughput on benchmark 1's corpus.

  1. picks 20 files of BENCH_SRC (default /usr; sorted paths, 1 KiB - 8 MiB,
     evenly spaced through the list) into out/official/sample;
  2. generates the database into out/official/db (make_official_db.py),
     with true positives for the sample files;
  3. with --cvd, packs it the way ClamAV ships it: `sigtool --unsigned
     --build=main.cud` and `--build=daily.cud` (the true positives go into
     daily) into out/official/cud, then signs copies as .cvd with the TEST
     keys (tests/tools/clamav_sign.py) into out/official/cvd. clamscan
     loads the .cud files (it refuses a .cvd not signed by ClamAV), khien
     the signed .cvd files (their MD5 and signatures checked with the test
     keys): the same signatures, packed by sigtool, in both;
  4. times clamscan --allmatch -d DB SAMPLE, then khien scan --allmatch
     -d DB SAMPLE twice: first with an empty state folder (it parses the
     text databases and writes the compiled, memory-mapped set) and then
     again (it maps the compiled set);
  5. with --corpus, scans benchmark 1's corpus (out/corpus, made by
     make_corpus.py if missing; BENCH_BYTES) with clamscan --allmatch and
     khien -j 1 --allmatch (compiled set cached, clean-file cache off);
  6. compares the detections and prints wall time, CPU time and peak RSS of
     each, the ratios and the targets (khien peak RSS <= 1/4 of clamscan's,
     load time <= 1/10, throughput at -j 1 >= 20x).

Environment: BENCH_OFFICIAL_HASHES (8000000), BENCH_OFFICIAL_BODIES (100000),
BENCH_OFFICIAL_LOGICAL (30000), BENCH_SAMPLE_FILES (20), BENCH_SRC,
BENCH_BYTES (corpus, with --corpus), BENCH_KHIEN_TIMEOUT (seconds for the
first khien run, default 14400), BENCH_SKIP_CLAMSCAN=1.

Usage: bench_official.py [--cvd] [--corpus]
"""
import argparse
import os
import shutil
import subprocess
import stat
import sys

import benchlib as B


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


SIGN = os.path.join(B.ROOT, "tests", "tools", "clamav_sign.py")


def pack_cvd(db, base):
    """Packs the text database db with sigtool into base/cud/{main,daily}.cud
    (bench-true.* appended to daily's files) and signs copies with the test
    keys into base/cvd/*.cvd. Skipped when db's params.json has not changed
    since the last packing. Returns (cud folder, cvd folder)."""
    cud, cvd, work = (os.path.join(base, x) for x in ("cud", "cvd", "pack"))
    with open(os.path.join(db, "params.json")) as f:
        params = f.read()
    stamp = os.path.join(cvd, "packed-from.json")
    if os.path.exists(stamp) and open(stamp).read() == params and \
            all(os.path.exists(os.path.join(d, n + e)) for d, e in ((cud, ".cud"), (cvd, ".cvd"))
                for n in ("main", "daily")):
        B.say("  containers up to date in %s and %s" % (cud, cvd))
        return cud, cvd
    for d in (cud, cvd, work):
        if os.path.exists(d):
            shutil.rmtree(d)
        os.makedirs(d)
    os.makedirs(os.path.join(work, "none"))
    for name, version in (("main", 62), ("daily", 27800)):
        wd = os.path.join(work, name)
        os.makedirs(wd)
        for f in sorted(os.listdir(db)):
            if not f.startswith(name + "."):
                continue
            ext = f.split(".", 1)[1]
            extra = os.path.join(db, "bench-true." + ext)
            if name == "daily" and os.path.exists(extra):
                with open(os.path.join(wd, f), "wb") as o:
                    for src in (os.path.join(db, f), extra):
                        with open(src, "rb") as i:
                            shutil.copyfileobj(i, o, 1 << 20)
            else:
                os.link(os.path.join(db, f), os.path.join(wd, f))
        with open(os.path.join(wd, "COPYING"), "w") as f:
            f.write("Khien benchmark database (generated, not ClamAV's)\n")
        cmd = ["sigtool", "--unsigned", "--build=%s.cud" % name, "--cvd-version=%d" % version,
               "--datadir=" + os.path.join(work, "none")]
        B.say("$ (cd %s && echo y | %s)" % (wd, " ".join(cmd)))
        r = subprocess.run(cmd, cwd=wd, input=b"y\n", stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = os.path.join(wd, name + ".cud")
        if not os.path.exists(out):
            sys.exit("error: sigtool did not build %s (exit %d):\n%s" % (out, r.returncode,
                                                                        r.stdout.decode(errors="replace")[-2000:]))
        for line in r.stdout.decode(errors="replace").splitlines():
            if "Signatures in" in line or "Total sigs" in line:
                B.say("    sigtool: " + line.strip())
        os.replace(out, os.path.join(cud, name + ".cud"))
        B.run([sys.executable, SIGN, "sign-cvd", os.path.join(cud, name + ".cud"), os.path.join(cvd, name + ".cvd")])
    shutil.rmtree(work)
    for d in (cud, cvd):
        B.say("  %s: %s" % (d, ", ".join("%s %.1f MB" % (f, os.path.getsize(os.path.join(d, f)) / 1e6)
                                         for f in sorted(os.listdir(d)))))
    with open(stamp, "w") as f:
        f.write(params)
    return cud, cvd


def corpus_runs(db_clam, db_khien, env, textdb):
    """Throughput on benchmark 1's corpus; returns (clamscan run, khien run,
    corpus bytes, files, detections identical)."""
    budget = B.env_int("BENCH_BYTES", 1_500_000_000)
    corpus = os.path.join(B.OUT, "corpus")
    B.section("corpus (%s, budget %d bytes)" % (os.environ.get("BENCH_SRC", "/usr"), budget))
    B.run([sys.executable, os.path.join(B.HERE, "make_corpus.py"), corpus, "--src", os.environ.get("BENCH_SRC", "/usr"),
           "--budget", str(budget)])
    nfiles, nbytes = B.tree_bytes(corpus)
    B.warm_page_cache(corpus)
    B.section("full scan of the corpus: %d files, %.1f MB" % (nfiles, nbytes / 1e6))
    common = ["--allmatch"] + B.LIMITS
    clam = None
    if os.environ.get("BENCH_SKIP_CLAMSCAN") != "1":
        clam, _ = B.median_run("clamscan --allmatch (corpus)", ["clamscan", "--recursive", "--infected", "--no-summary"] +
                               common + ["-d", db_clam, corpus], n=B.CLAM_REPEAT, tag="official_corpus_clamscan")
    k1, _ = B.median_run("khien -j 1 (corpus)", [B.KHIEN, "scan", "-j", "1", "--no-builtin", "--no-cache", "--json"] +
                         common + ["-d", db_khien, corpus], env, tag="official_corpus_khien_j1")
    same = True
    if clam:
        where = {}
        k, _ = B.parse_khien_json(k1.stdout, corpus, where)
        same, _ = B.agree_with_clamscan(clam.stdout, k, "khien -j 1", corpus, textdb, where,
                                        "diff-official-corpus.txt", "triage-official-corpus.tsv")
    return clam, k1, nbytes, nfiles, same


def main():
    ap = argparse.ArgumentParser(description="official-shaped database benchmark")
    ap.add_argument("--cvd", action="store_true", help="pack the database as .cud/.cvd with sigtool")
    ap.add_argument("--corpus", action="store_true", help="also the throughput on benchmark 1's corpus")
    opt = ap.parse_args()
    hashes = B.env_int("BENCH_OFFICIAL_HASHES", 8_000_000)
    bodies = B.env_int("BENCH_OFFICIAL_BODIES", 100_000)
    logical = B.env_int("BENCH_OFFICIAL_LOGICAL", 30_000)
    nsample = B.env_int("BENCH_SAMPLE_FILES", 20)
    timeout = B.env_int("BENCH_KHIEN_TIMEOUT", 14400)
    skip_clam = os.environ.get("BENCH_SKIP_CLAMSCAN") == "1"
    base = os.path.join(B.OUT, "official")
    sample = os.path.join(base, "sample")
    db = os.path.join(base, "db")
    state = os.path.join(base, "state-cvd" if opt.cvd else "state")
    env = {"KHIEN_STATE_DIR": state}

    B.section("build")
    B.build()
    B.section("sample folder")
    pick_sample(os.environ.get("BENCH_SRC", "/usr"), nsample, sample)
    B.section("official-shaped database (%d hashes, %d bodies, %d logical)" % (hashes, bodies, logical))
    B.run([sys.executable, os.path.join(B.HERE, "make_official_db.py"), db, "--hashes", str(hashes),
           "--bodies", str(bodies), "--logical", str(logical), "--sample", sample, "--seed", "7"])
    dbbytes = sum(os.path.getsize(os.path.join(db, f)) for f in os.listdir(db))
    B.say("  database on disk: %.1f MB in %s" % (dbbytes / 1e6, db))
    textdb = sorted(os.path.join(db, f) for f in os.listdir(db) if f.endswith((".hdb", ".hsb", ".ndb")))
    db_clam = db_khien = db
    if opt.cvd:
        B.section("containers (sigtool)")
        db_clam, db_khien = pack_cvd(db, base)
        keys = subprocess.run([sys.executable, SIGN, "keys"], stdout=subprocess.PIPE, check=True).stdout.decode().strip()
        env["KHIEN_TEST_CLAMAV_KEYS"] = keys
    B.section("warm page cache (database and sample)")
    B.warm_page_cache(db_clam)
    B.warm_page_cache(db_khien)
    B.warm_page_cache(sample)

    B.section("runs")
    clam = None
    args = ["--allmatch"] + B.LIMITS
    if not skip_clam:
        clam, _ = B.median_run("clamscan", ["clamscan", "--infected", "--no-summary"] + args + ["-d", db_clam, sample],
                               n=B.CLAM_REPEAT, tag="official_clamscan")
    if os.path.exists(state):
        shutil.rmtree(state)
    os.makedirs(state)
    kcmd = [B.KHIEN, "scan", "--no-builtin", "--no-cache", "--json"] + args + ["-d", db_khien, sample]
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
        agree, c = B.agree_with_clamscan(clam.stdout, k2, "khien cached", sample, textdb, where,
                                         "diff-official-clamscan-khien.txt", "triage-official.tsv")
        ok = ok and agree
        trues = {n for _, n in c if n.startswith("Bench.True.")}
        B.say("  true-positive signatures found by clamscan: %d" % len(trues))

    corp = corpus_runs(db_clam, db_khien, env, textdb) if opt.corpus else None
    if corp:
        ok = ok and corp[4]

    B.section("results: %d hash + %d body + %d logical signatures (%.0f MB of text%s), %d files scanned" %
              (hashes, bodies, logical, dbbytes / 1e6, "; clamscan: sigtool's .cud, khien: the same signed as .cvd"
               if opt.cvd else "", nsample))
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
    if corp:
        clam_c, k1, nbytes, nfiles, _ = corp
        B.say("  throughput on the corpus (%d files, %.1f MB):" % (nfiles, nbytes / 1e6))
        rows = []
        for lab, r in (("clamscan --allmatch", clam_c), ("khien --allmatch -j 1", k1)):
            if r:
                rows.append([lab, "%.2f" % r.wall, "%.1f" % r.cpu, "%.1f" % B.mbps(nbytes, r.wall),
                             "%.0f" % r.rss_mib, "%.1f" % (clam_c.wall / r.wall) if clam_c else "-",
                             "%.1f" % (clam_c.cpu / r.cpu) if clam_c and r.cpu else "-"])
        B.table(["run", "wall s", "CPU s", "MB/s", "peak RSS MiB", "x clamscan (wall)", "x clamscan (CPU)"], rows)
        if clam_c:
            B.say("  target: khien -j 1 >= 20x clamscan throughput: %.1fx wall, %.1fx CPU  %s" %
                  (clam_c.wall / k1.wall, clam_c.cpu / max(k1.cpu, 1e-3), B.verdict(clam_c.wall >= 20 * k1.wall)))
    B.say("  detections: %s" % ("identical" if ok else "DIFFERENT (see above)"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
