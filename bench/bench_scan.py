#!/usr/bin/env python3
"""Benchmark 1: scan throughput, khien vs clamscan, same databases, same corpus.

  1. builds khien (build-bench) and the corpus: regular files of BENCH_SRC
     (default /usr) in sorted path order up to BENCH_BYTES (default 1.5 GB);
  2. derives bench.ndb (>= 10,000 fixed body signatures) from the YARA rules
     in ../shared/rules and bench.hsb (100,000 random SHA-256 + the real
     SHA-256:size of 20 corpus files);
  3. times, on a warm page cache, the load alone (an empty folder) and the
     full scan of: clamscan --allmatch, khien scan --allmatch -j 1 and -j 2
     (khien with its compiled-signature cache warm and --no-cache, so every
     file is read);
  4. compares the (file, signature) pairs of clamscan and khien -j 1 (and -j 1
     with -j 2) and exits 1 if they differ.

Environment (besides benchlib's): BENCH_BYTES, BENCH_SRC, BENCH_HSB_COUNT
(100000), BENCH_HSB_REAL (20), BENCH_YARA_SETS (comma list, default all),
BENCH_SKIP_CLAMSCAN=1 (khien only, no comparison).
"""
import os
import sys

import benchlib as B


def prepare():
    """Corpus and databases; returns (corpus_dir, [db files], corpus bytes, files)."""
    budget = B.env_int("BENCH_BYTES", 1_500_000_000)
    src = os.environ.get("BENCH_SRC", "/usr")
    corpus = os.path.join(B.OUT, "corpus")
    dbdir = os.path.join(B.OUT, "db-scan")
    os.makedirs(dbdir, exist_ok=True)
    B.section("corpus (%s, budget %d bytes)" % (src, budget))
    B.run([sys.executable, os.path.join(B.HERE, "make_corpus.py"), corpus, "--src", src, "--budget", str(budget)])
    B.section("databases")
    ndb = os.path.join(dbdir, "bench.ndb")
    hsb = os.path.join(dbdir, "bench.hsb")
    cmd = [sys.executable, os.path.join(B.HERE, "yara_to_ndb.py"), B.RULES, ndb, "--min-len", "8", "--min-count", "10000"]
    if os.environ.get("BENCH_YARA_SETS"):
        cmd += ["--sets", os.environ["BENCH_YARA_SETS"]]
    B.run(cmd)
    B.run([sys.executable, os.path.join(B.HERE, "make_hsb.py"), corpus, hsb,
           "--count", str(B.env_int("BENCH_HSB_COUNT", 100000)), "--real", str(B.env_int("BENCH_HSB_REAL", 20)),
           "--seed", "1"])
    files, nbytes = B.tree_bytes(corpus)
    return corpus, [ndb, hsb], nbytes, files


def main():
    B.section("build")
    B.build()
    corpus, dbs, nbytes, nfiles = prepare()
    dbargs = [x for d in dbs for x in ("-d", d)]
    empty = os.path.join(B.OUT, "empty")
    os.makedirs(empty, exist_ok=True)
    state = os.path.join(B.OUT, "state-scan")
    env = {"KHIEN_STATE_DIR": state}
    skip_clam = os.environ.get("BENCH_SKIP_CLAMSCAN") == "1"

    B.section("warm page cache")
    B.warm_page_cache(corpus)

    B.section("load only (an empty folder)")
    if os.path.exists(state):
        import shutil
        shutil.rmtree(state)
    os.makedirs(state)
    kcmd0 = [B.KHIEN, "scan", "--no-builtin", "--no-cache", "--json"] + dbargs + [empty]
    k_compile = B.timed("khien load, first (compiles)", kcmd0, env, tag="scan_khien_load_first")
    k_load, _ = B.median_run("khien load, cached", kcmd0, env, tag="scan_khien_load_cached")
    c_load = None
    if not skip_clam:
        c_load, _ = B.median_run("clamscan load", ["clamscan", "--no-summary"] + dbargs + [empty],
                                 n=B.CLAM_REPEAT, tag="scan_clamscan_load")

    B.section("full scan of the corpus: %d files, %.1f MB" % (nfiles, nbytes / 1e6))
    common = ["--allmatch"] + B.LIMITS + dbargs
    clam = None
    if not skip_clam:
        clam, _ = B.median_run("clamscan --allmatch",
                               ["clamscan", "--recursive", "--infected", "--no-summary"] + common + [corpus],
                               n=B.CLAM_REPEAT, tag="scan_clamscan")
    kbase = [B.KHIEN, "scan", "--no-builtin", "--no-cache", "--json"] + common
    k1, _ = B.median_run("khien -j 1", kbase[:2] + ["-j", "1"] + kbase[2:] + [corpus], env, tag="scan_khien_j1")
    k2, _ = B.median_run("khien -j 2", kbase[:2] + ["-j", "2"] + kbase[2:] + [corpus], env, tag="scan_khien_j2")

    B.section("detections")
    where = {}
    k1_pairs, k1_members = B.parse_khien_json(k1.stdout, corpus, where)
    k2_pairs, _ = B.parse_khien_json(k2.stdout, corpus)
    k1_pairs, k1_h = B.split_heuristics(k1_pairs)
    k2_pairs, _ = B.split_heuristics(k2_pairs)
    summ = B.khien_summary(k1.stdout)
    B.say("  khien -j 1 summary: %s" % {k: summ.get(k) for k in ("files", "infected_files", "detections", "errors",
                                                                 "skipped", "bytes_scanned")})
    B.say("  khien detections inside archive members (counted for the outer file): %d" % k1_members)
    hash_hits = sorted({p for p, n in k1_pairs if n.startswith("Bench.Hash.Real.")})
    B.say("  khien hash detections (Bench.Hash.Real.*): %d files" % len(hash_hits))
    same = B.compare("khien -j 1", k1_pairs, "khien -j 2", k2_pairs, os.path.join(B.OUT, "diff-scan-j1-j2.txt"))
    if not skip_clam:
        agree, c_pairs = B.agree_with_clamscan(clam.stdout, k1_pairs | k1_h, "khien -j 1", corpus, dbs, where,
                                               "diff-scan-clamscan-khien.txt", "triage-scan.tsv")
        same = same and agree
        files_hit = {p for p, _ in c_pairs}
        B.say("  files with a detection (clamscan): %d of %d (%.0f %%)" %
              (len(files_hit), nfiles, 100.0 * len(files_hit) / max(1, nfiles)))

    B.section("results: %d files, %.1f MB, %d + %d signatures" % (nfiles, nbytes / 1e6, *_counts(dbs)))
    rows = []
    if clam:
        rows.append(["clamscan --allmatch", "%.2f" % clam.wall, "%.1f" % B.mbps(nbytes, clam.wall),
                     "%.1f" % B.mbps(nbytes, max(1e-3, clam.wall - c_load.wall)), "1.0", "%.1f" % clam.cpu, "1.0",
                     "%.0f" % clam.rss_mib, "%.2f" % c_load.wall])
    for lab, r in (("khien --allmatch -j 1", k1), ("khien --allmatch -j 2", k2)):
        rows.append([lab, "%.2f" % r.wall, "%.1f" % B.mbps(nbytes, r.wall),
                     "%.1f" % B.mbps(nbytes, max(1e-3, r.wall - k_load.wall)),
                     "%.1f" % (clam.wall / r.wall) if clam else "-", "%.1f" % r.cpu,
                     "%.1f" % (clam.cpu / r.cpu) if clam and r.cpu else "-", "%.0f" % r.rss_mib, "%.2f" % k_load.wall])
    B.table(["run", "wall s", "MB/s", "MB/s excl. load", "x clamscan (wall)", "CPU s", "x clamscan (CPU)",
             "peak RSS MiB", "load s"], rows)
    B.say("  khien first load (compiling the signatures): %.2f s, %.0f MiB" % (k_compile.wall, k_compile.rss_mib))
    scaling = k1.wall / k2.wall
    B.say("  khien scaling -j 2 vs -j 1: %.2fx wall (2 cores; 2.0 would be linear); CPU s -j 1 %.2f, -j 2 %.2f "
          "(CPU used / wall: %.2f and %.2f cores)%s" %
          (scaling, k1.cpu, k2.cpu, k1.cpu / k1.wall if k1.wall else 0, k2.cpu / k2.wall if k2.wall else 0,
           "" if B.AUTOGROUP_NICE else " [other sessions busy? see BENCH_AUTOGROUP_NICE in benchlib.py]"))
    if clam:
        ratio = clam.wall / k1.wall
        B.say("  target: khien -j 1 >= 20x clamscan throughput: %.1fx  %s (CPU time ratio %.1fx)" %
              (ratio, B.verdict(ratio >= 20), clam.cpu / k1.cpu if k1.cpu else 0))
    B.say("  detections: %s" % ("identical" if same else "DIFFERENT (see above)"))
    return 0 if same else 1


def _counts(dbs):
    out = []
    for d in dbs:
        with open(d, "rb") as f:
            out.append(sum(1 for _ in f))
    return out


if __name__ == "__main__":
    sys.exit(main())
