"""Shared helpers of the Khiên benchmarks: paths, the build, timed runs that
print the exact command, detection parsing and comparison, tables.

Everything generated goes under bench/out/ (gitignored). Environment:
  BENCH_OUT      output folder (default bench/out)
  BENCH_BUILD    khien build folder (default build-bench at the repository root)
  BENCH_NO_BUILD set to 1 to use the existing build without running cmake
  BENCH_REPEAT   runs of each khien measurement, the median is reported (default 3)
  BENCH_CLAM_REPEAT  runs of each clamscan measurement (default 1: they are slow)
  BENCH_AUTOGROUP_NICE  if set (e.g. -10), every timed run starts in a session
                 of its own (setsid: a scheduler autogroup of its own) with that
                 nice value. Linux shares the CPU fairly between autogroups,
                 not threads: on a machine where other sessions keep the cores
                 busy, a process gets its group's share whatever its thread
                 count, so `-j 2` cannot beat `-j 1` in wall time. Raising the
                 group's priority for the measured runs (root, a few seconds
                 each) shows the scaling; CPU time (user + system) is reported
                 either way.
"""
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.abspath(os.environ.get("BENCH_OUT", os.path.join(HERE, "out")))
BUILD = os.path.abspath(os.environ.get("BENCH_BUILD", os.path.join(ROOT, "build-bench")))
KHIEN = os.path.join(BUILD, "khien")
RULES = os.path.abspath(os.path.join(ROOT, "..", "shared", "rules"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
CLAM_REPEAT = int(os.environ.get("BENCH_CLAM_REPEAT", "1"))
AUTOGROUP_NICE = os.environ.get("BENCH_AUTOGROUP_NICE", "")
# The same limits for both tools (clamscan's defaults, stated explicitly).
LIMITS = ["--max-filesize=100M", "--max-scansize=400M"]


def say(msg=""):
    print(msg, flush=True)


def section(title):
    say()
    say("== " + title)


def env_int(name, default):
    v = os.environ.get(name)
    return int(float(v)) if v else default


def show(cmd, env=None):
    pre = ""
    if env:
        pre = " ".join("%s=%s" % (k, shlex.quote(v)) for k, v in sorted(env.items())) + " "
    return pre + " ".join(shlex.quote(c) for c in cmd)


def run(cmd, env=None, check=True):
    """Runs a helper command (not timed), printing it first."""
    say("$ " + show(cmd, env))
    e = dict(os.environ)
    if env:
        e.update(env)
    r = subprocess.run(cmd, env=e)
    if check and r.returncode != 0:
        sys.exit("error: command failed with status %d" % r.returncode)
    return r.returncode


def build():
    if os.environ.get("BENCH_NO_BUILD") == "1" and os.path.exists(KHIEN):
        say("  using existing build " + KHIEN)
        return
    run(["cmake", "-S", ROOT, "-B", BUILD, "-DCMAKE_BUILD_TYPE=Release"], check=True)
    run(["cmake", "--build", BUILD, "-j2", "--target", "khien"], check=True)


class Timed:
    """One timed run: wall seconds, peak RSS (KiB) and CPU seconds (user +
    system) from /usr/bin/time. CPU time is the steadier figure when other
    work shares the machine."""

    def __init__(self, label, wall, rss_kib, rc, stdout, stderr, cpu=0.0):
        self.label, self.wall, self.rss_kib, self.rc, self.cpu = label, wall, rss_kib, rc, cpu
        self.stdout, self.stderr = stdout, stderr

    @property
    def rss_mib(self):
        return self.rss_kib / 1024.0


def timed(label, cmd, env=None, ok_codes=(0, 1), tag=None):
    """Runs cmd under /usr/bin/time -f '%e %M %U %S', stdout and stderr to files
    under OUT/logs; prints the exact command line and the result."""
    logs = os.path.join(OUT, "logs")
    os.makedirs(logs, exist_ok=True)
    tag = tag or label.replace(" ", "_").replace("/", "_")
    so, se, tf = (os.path.join(logs, tag + x) for x in (".out", ".err", ".time"))
    full = ["/usr/bin/time", "-f", "%e %M %U %S", "-o", tf] + cmd
    if AUTOGROUP_NICE:
        full = ["setsid", "-w", "sh", "-c", 'echo %d > /proc/self/autogroup && exec "$@"' % int(AUTOGROUP_NICE),
                "sh"] + full
    say("$ " + show(full, env) + " > " + shlex.quote(so) + " 2> " + shlex.quote(se))
    e = dict(os.environ)
    if env:
        e.update(env)
    # Wall and CPU time from this process (microseconds), not from
    # /usr/bin/time's %e %U %S (10 ms steps: too coarse for a 0.07 s
    # rescan). Both include starting /usr/bin/time (and setsid/sh), about
    # 1-2 ms, for yara and khien alike. Peak RSS from /usr/bin/time's %M.
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    with open(so, "wb") as fo, open(se, "wb") as fe:
        rc = subprocess.run(full, env=e, stdout=fo, stderr=fe).returncode
    t1 = time.monotonic()
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = t1 - t0
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    try:
        with open(tf) as f:
            last = [l for l in f.read().splitlines() if l.strip()][-1]
        rss = int(last.split()[1])
    except (OSError, IndexError, ValueError):
        rss = 0
    say("    -> %.3f s, peak RSS %.1f MiB, CPU %.3f s, exit %d" % (wall, rss / 1024.0, cpu, rc))
    if rc not in ok_codes:
        with open(se, errors="replace") as f:
            tail = f.read()[-2000:]
        say("    unexpected exit status %d; stderr ends with:\n%s" % (rc, tail))
    return Timed(label, wall, rss, rc, so, se, cpu)


def median_run(label, cmd, env=None, n=REPEAT, tag=None, before=None):
    """n timed runs of cmd; returns (median-wall run, all runs). before(i) is
    called before each run (e.g. to reset a state folder)."""
    runs = []
    for i in range(n):
        if before:
            before(i)
        runs.append(timed(label, cmd, env, tag=(tag or label.replace(" ", "_")) + ".%d" % (i + 1)))
    runs_sorted = sorted(runs, key=lambda r: r.wall)
    med = runs_sorted[len(runs_sorted) // 2]
    med.cpu = statistics.median(r.cpu for r in runs)
    if n > 1:
        say("    median of %d: %.3f s (runs: %s), CPU %.3f s, peak RSS max %.1f MiB" %
            (n, med.wall, ", ".join("%.3f" % r.wall for r in runs), med.cpu, max(r.rss_mib for r in runs)))
    return med, runs


def warm_page_cache(root):
    """Reads every file once so both tools start with a warm page cache."""
    n = 0
    t0 = time.monotonic()
    for r, _, files in os.walk(root):
        for f in files:
            p = os.path.join(r, f)
            try:
                with open(p, "rb") as fh:
                    while fh.read(1 << 20):
                        pass
                n += 1
            except OSError:
                pass
    say("  page cache warmed: %d files read in %.1f s" % (n, time.monotonic() - t0))


def tree_bytes(root):
    total = files = 0
    for r, _, fs in os.walk(root):
        for f in fs:
            p = os.path.join(r, f)
            if os.path.isfile(p) and not os.path.islink(p):
                total += os.path.getsize(p)
                files += 1
    return files, total


def rel(path, root):
    root = root.rstrip("/") + "/"
    return path[len(root):] if path.startswith(root) else path


def norm_name(name):
    return name[:-len(".UNOFFICIAL")] if name.endswith(".UNOFFICIAL") else name


def parse_clamscan(stdout_file, root):
    """(relative path, signature) pairs from clamscan's "PATH: NAME FOUND"
    lines; .UNOFFICIAL stripped, duplicates (one line per match) merged."""
    pairs = set()
    with open(stdout_file, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.endswith(" FOUND"):
                continue
            path, _, name = line[:-len(" FOUND")].rpartition(": ")
            pairs.add((rel(path, root), norm_name(name)))
    return pairs


def parse_khien_json(stdout_file, root, where_out=None):
    """(relative path, signature) pairs from khien --json; an archive member's
    detection counts for its outer file (clamscan reports it so)."""
    pairs = set()
    members = 0
    with open(stdout_file, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            if not line.startswith("{"):
                continue
            o = json.loads(line)
            if o.get("type") != "detection":
                continue
            path = o["path"]
            member = o.get("member")
            if member:
                members += 1
            elif "!" in path:  # text-style path!member, should not happen in JSON
                path, member = path.split("!", 1)
            pair = (rel(path, root), norm_name(o["signature"]))
            pairs.add(pair)
            if where_out is not None:
                where_out.setdefault(pair, []).append((member, o.get("offset")))
    return pairs, members


def khien_summary(stdout_file):
    with open(stdout_file, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            if line.startswith("{") and '"summary"' in line:
                try:
                    o = json.loads(line)
                except ValueError:
                    continue
                if o.get("type") == "summary":
                    return o
    return {}


def split_heuristics(pairs):
    h = {p for p in pairs if p[1].startswith("Heuristics.")}
    return pairs - h, h


def compare(a_label, a, b_label, b, report_path, max_show=15):
    """Compares two sets of (file, signature) pairs; prints a summary and the
    first differences, writes all of them to report_path; returns True if
    they are identical."""
    only_a, only_b = sorted(a - b), sorted(b - a)
    files_a = {p for p, _ in a}
    files_b = {p for p, _ in b}
    say("  %s: %d detections in %d files; %s: %d detections in %d files" %
        (a_label, len(a), len(files_a), b_label, len(b), len(files_b)))
    with open(report_path, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write("# only in %s (%d)\n" % (a_label, len(only_a)))
        for p, n in only_a:
            f.write("%s\t%s\n" % (p, n))
        f.write("# only in %s (%d)\n" % (b_label, len(only_b)))
        for p, n in only_b:
            f.write("%s\t%s\n" % (p, n))
    if not only_a and not only_b:
        say("  detections identical")
        return True
    say("  DETECTIONS DIFFER: %d only in %s, %d only in %s (all listed in %s)" %
        (len(only_a), a_label, len(only_b), b_label, report_path))
    for lab, lst in ((a_label, only_a), (b_label, only_b)):
        if not lst:
            continue
        by_sig = {}
        for p, n in lst:
            by_sig.setdefault(n, []).append(p)
        say("    only in %s, by signature (%d signatures):" % (lab, len(by_sig)))
        for n, ps in sorted(by_sig.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:max_show]:
            say("      %-60s %5d files, e.g. %s" % (n, len(ps), ps[0]))
    return False


def agree_with_clamscan(clam_stdout, k_pairs, k_label, root, dbs, where, diff_name, triage_name):
    """clamscan's (file, signature) pairs from its output against khien's,
    heuristic alerts left out of both; a difference is triaged
    (triage.py). Returns (agree, clamscan's pairs)."""
    import triage
    c, ch = split_heuristics(parse_clamscan(clam_stdout, root))
    k, kh = split_heuristics(k_pairs)
    if ch or kh:
        say("  heuristic alerts left out: clamscan %d, khien %d" % (len(ch), len(kh)))
    agree = compare("clamscan", c, k_label, k, os.path.join(OUT, diff_name))
    if not agree:
        triage.triage(sorted(c - k), sorted(k - c), root, dbs, where, os.path.join(OUT, triage_name), say)
    return agree, c


def table(headers, rows):
    w = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  " + "  ".join(str(h).ljust(w[i]) for i, h in enumerate(headers))
    say(line)
    say("  " + "  ".join("-" * w[i] for i in range(len(headers))))
    for r in rows:
        say("  " + "  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)))


def mbps(nbytes, secs):
    return nbytes / 1e6 / secs if secs > 0 else float("inf")


def verdict(ok):
    return "PASS" if ok else "FAIL"
