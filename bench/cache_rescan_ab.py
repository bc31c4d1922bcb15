#!/usr/bin/env python3
"""A/B of the cached rescan (benchmark 3's second run) between builds, with
millisecond timing: bench_cache.py times with /usr/bin/time (10 ms steps)
and one build per run, too coarse to compare two builds of a 0.1 s run on
a shared machine.

    python3 bench/cache_rescan_ab.py ROUNDS BUILD[:J] ...

For each BUILD (a folder holding `khien`) a fresh state folder and one
first scan of the corpus (built-in signature only: a cached rescan never
loads the set, so the set does not matter here; the limits are
benchmark 3's), then ROUNDS rounds in which every build rescans once, in
turn, each in its own autogroup at nice -20 (as BENCH_AUTOGROUP_NICE=-20),
with -j J (default 2). Prints per build the median and the minimum wall
and CPU (user + system) milliseconds, and the load average before and
after. The corpus is bench/out/corpus (benchmark 1's; CORPUS= to change).
A rescan that does not find every file unchanged is reported.
"""
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.abspath(os.environ.get("BENCH_OUT", os.path.join(HERE, "out")))
CORPUS = os.environ.get("CORPUS", os.path.join(OUT, "corpus"))


def parse(arg):
    build, _, j = arg.partition(":")
    return os.path.abspath(build), j or "2"


def state(build):
    return os.path.join(OUT, "state-ab-" + build.strip("/").replace("/", "_"))


def cmd(build, j):
    return ["setsid", "-w", "sh", "-c", 'echo -20 > /proc/self/autogroup 2>/dev/null; exec "$@"', "sh",
            os.path.join(build, "khien"), "scan", "-j", j, "--allmatch", "--json", "--max-filesize=100M",
            "--max-scansize=400M", CORPUS]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rounds = int(sys.argv[1])
    runs = [parse(a) for a in sys.argv[2:]]
    for build in sorted({b for b, _ in runs}):
        shutil.rmtree(state(build), ignore_errors=True)
        os.makedirs(state(build))
        subprocess.run(cmd(build, "2"), env=dict(os.environ, KHIEN_STATE_DIR=state(build)),
                       stdout=subprocess.DEVNULL, check=False)
    res = {r: [] for r in runs}
    load0 = os.getloadavg()
    for _ in range(rounds):
        for build, j in runs:
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            p = subprocess.run(cmd(build, j), env=dict(os.environ, KHIEN_STATE_DIR=state(build)),
                               stdout=subprocess.PIPE, check=False)
            t1 = time.perf_counter()
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            last = p.stdout.strip().rsplit(b"\n", 1)[-1]
            if b'"bytes_scanned":0,' not in last:
                print("warning: %s -j %s read files: %s" % (build, j, last.decode(errors="replace")))
            res[(build, j)].append((t1 - t0, r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime))
    load1 = os.getloadavg()
    for (build, j), v in res.items():
        w = [x[0] * 1000 for x in v]
        c = [x[1] * 1000 for x in v]
        print("%s -j %s: %d rescans, wall median %.1f min %.1f ms, CPU median %.1f min %.1f ms"
              % (build, j, len(v), statistics.median(w), min(w), statistics.median(c), min(c)))
    print("load average before %.2f %.2f %.2f, after %.2f %.2f %.2f" % (load0 + load1))


if __name__ == "__main__":
    main()
