#!/usr/bin/env python3
"""Benchmark 3: the clean-file cache. A second `khien scan -j 2` of the
unchanged corpus against the first.

For each signature set:
  1. a fresh state folder; the compiled-signature cache is warmed by a run
     over an empty folder (--no-cache there, so no clean-file entry is
     written), so both timed runs map the same compiled set;
  2. first scan of the corpus (clean-file cache empty; it is filled with the
     files found clean), then the second scan, unchanged;
  3. the ratio first/second, the files the second run did not read
     ("cached" in khien's summary), and a check that both runs report the
     same detections.
Sets:
  bench     bench.ndb + bench.hsb of benchmark 1 (YARA literals hit most
            system files, and a file with a detection is never cached: this
            shows the cost of rescanning them)
  hashes    bench.hsb alone (100,000 SHA-256 + 20 real: almost every file
            clean, the common case on an office PC)
  official  the official-shaped database of benchmark 2, if it was built
            (out/official/db): 8 million hashes and 100,000 body
            signatures, and its bench-true.* true positives cut from the
            sample files (one of them, 10 bytes of an ELF header, matches
            150 ELF files of 1.1 GB: those are read again every time)
  clean     the same without bench-true.*: the random signatures match
            nothing, every file is clean (an office PC with ClamAV's real
            database: the case a clean-file cache is for)
The corpus and the databases are those of benchmark 1 (built if missing,
same environment variables). BENCH_CACHE_SETS selects sets (default
"bench,hashes,official").
"""
import os
import shutil
import sys

import bench_scan
import benchlib as B


def one(label, corpus, dbs, nbytes, compiled_from=None, limits=B.LIMITS):
    B.section("cache benchmark: %s" % label)
    state = os.path.join(B.OUT, "state-cache-" + label)
    if os.path.exists(state):
        shutil.rmtree(state)
    os.makedirs(state)
    if compiled_from and os.path.isdir(compiled_from):
        # benchmark 2 already compiled this set (which takes long): reuse it
        B.say("  copying the compiled set from %s" % compiled_from)
        shutil.copytree(compiled_from, os.path.join(state, os.path.basename(compiled_from)))
    env = {"KHIEN_STATE_DIR": state}
    empty = os.path.join(B.OUT, "empty")
    os.makedirs(empty, exist_ok=True)
    dbargs = [x for d in dbs for x in ("-d", d)]
    B.timed("khien warm compiled cache", [B.KHIEN, "scan", "--no-builtin", "--no-cache", "--json"] + dbargs + [empty],
            env, tag="cache_%s_warm" % label)
    cmd = [B.KHIEN, "scan", "-j", "2", "--no-builtin", "--allmatch", "--json"] + limits + dbargs + [corpus]
    first = B.timed("khien first scan", cmd, env, tag="cache_%s_first" % label)
    second, _ = B.median_run("khien second scan", cmd, env, tag="cache_%s_second" % label)
    p1, _ = B.parse_khien_json(first.stdout, corpus)
    p2, _ = B.parse_khien_json(second.stdout, corpus)
    same = B.compare("first", p1, "second", p2, os.path.join(B.OUT, "diff-cache-%s.txt" % label))
    s1, s2 = B.khien_summary(first.stdout), B.khien_summary(second.stdout)
    B.say("  first:  files %s, infected %s, cached %s, bytes read %s" %
          (s1.get("files"), s1.get("infected_files"), s1.get("cached"), s1.get("bytes_scanned")))
    B.say("  second: files %s, infected %s, cached %s, bytes read %s" %
          (s2.get("files"), s2.get("infected_files"), s2.get("cached"), s2.get("bytes_scanned")))
    return {"label": label, "first": first, "second": second, "same": same, "s1": s1, "s2": s2}


def main():
    B.section("build")
    B.build()
    corpus, dbs, nbytes, nfiles = bench_scan.prepare()
    B.section("warm page cache")
    B.warm_page_cache(corpus)
    sets = os.environ.get("BENCH_CACHE_SETS", "bench,hashes,official,clean").split(",")
    results = []
    for s in sets:
        if s == "bench":
            results.append(one("bench", corpus, dbs, nbytes))
        elif s == "hashes":
            results.append(one("hashes", corpus, [d for d in dbs if d.endswith(".hsb")], nbytes))
        elif s == "official":
            odb = os.path.join(B.OUT, "official", "db")
            if os.path.exists(os.path.join(odb, "params.json")):
                results.append(one("official", corpus, [odb], nbytes,
                                   os.path.join(B.OUT, "official", "state", "compiled")))
            else:
                B.say("  (no official-shaped database in %s: run bench_official.py first; set skipped)" % odb)
        elif s == "clean":
            odb = os.path.join(B.OUT, "official", "db")
            if os.path.exists(os.path.join(odb, "params.json")):
                files = sorted(os.path.join(odb, f) for f in os.listdir(odb)
                               if f.split(".")[-1] in ("hdb", "hsb", "ndb") and not f.startswith("bench-true."))
                results.append(one("clean", corpus, files, nbytes))
            else:
                B.say("  (no official-shaped database in %s: run bench_official.py first; set skipped)" % odb)

    B.section("results: khien scan -j 2, %d files, %.1f MB, first vs second scan" % (nfiles, nbytes / 1e6))
    rows = []
    ok = True
    for r in results:
        f, s = r["first"], r["second"]
        ratio = f.wall / s.wall if s.wall > 0 else float("inf")
        infected = r["s1"].get("infected_files") or 0
        rows.append([r["label"], "%.2f" % f.wall, "%.1f" % B.mbps(nbytes, f.wall), "%.3f" % s.wall,
                     "%s/%s" % (r["s2"].get("cached"), r["s2"].get("files")), infected, "%.1fx" % ratio,
                     "%.2f/%.2f" % (f.cpu, s.cpu), "%.1fx" % (f.cpu / s.cpu) if s.cpu else "-",
                     "%.0f/%.0f" % (f.rss_mib, s.rss_mib), B.verdict(ratio >= 50), "same" if r["same"] else "DIFFER"])
        ok = ok and r["same"]
    B.table(["set", "first s", "first MB/s", "second s", "not read (cached/files)", "files w/ detection",
             "ratio (wall)", "CPU s 1st/2nd", "ratio (CPU)", "peak RSS MiB 1st/2nd", ">= 50x (wall)", "detections"], rows)
    B.say("  files with a detection are never cached (a clean-file cache), so they are read again each time")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
