"""Sorts the detections two tools disagree on into likely causes, so a
difference in a benchmark run points at a reproducer, not a pile of lines.

Works for body signatures of target type 0 (translated to Python regular
expressions, offsets *, n, n,m and EOF-n honoured) and hash signatures
(hash:size:Name); anything else is "not analysed". Causes:
  clamscan only
    raw-missed-by-khien   the file's own bytes (or, "(decompressed)", the
                          content of a gzip/bzip2/xz file) hold the
                          signature: khien should have reported it
    clamav-normalised     found only after lower-casing / dropping
                          whitespace: ClamAV's text and HTML normalisation
    clamav-decoded        not in the raw bytes nor the normalised text:
                          ClamAV decoded or unpacked something (gzip stream,
                          PDF stream, embedded file) that khien did not
    hash-missed-by-khien  a hash signature of the whole file
    hash-of-decoded-content  a hash signature of something ClamAV extracted
  khien only
    clamav-skips-raw-html the raw bytes (or decompressed content) hold it
                          and they are HTML: ClamAV scans only normalised
                          HTML (HTMLSKIPRAW)
    raw-missed-by-clamav  the raw bytes (or decompressed content) hold it,
                          other file types
    khien-member          khien found it in an archive member that
                          clamscan did not report
    khien-unexplained     neither in the raw bytes nor reported in a member
    clamav-skips-raw-html (hash)  the whole file's hash matches and it is
                          HTML: ClamAV 1.4 checks hash signatures during the
                          raw scan, which it skips for HTML
    hash-missed-by-clamav the whole file's hash matches, other file types
    khien-hash-mismatch   khien reported a hash the file does not have
"""
import bz2
import gzip
import hashlib
import lzma
import os
import re
import shlex
import subprocess

WS = re.compile(rb"\s+")


def load_signatures(db_files):
    """name -> ("body", bytes) | ("hash", hexdigest, size) | ("other", line)."""
    sigs = {}
    for db in db_files:
        ext = db.rsplit(".", 1)[-1]
        with open(db, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.rstrip("\n")
                if not line:
                    continue
                parts = line.split(":")
                if ext in ("ndb", "ndu"):
                    m = None
                    if len(parts) >= 4 and parts[1] == "0":
                        try:
                            m = body_matcher(parts[2], parts[3])
                        except ValueError:
                            m = None
                    sigs[parts[0]] = ("body", m, line) if m else ("other", None, line)
                elif ext in ("hdb", "hsb", "hdu", "hsu") and len(parts) >= 3:
                    sigs[parts[2]] = ("hash", parts[0], line)
    return sigs


def hex_to_regex(h):
    """A ClamAV hex signature as a Python bytes regex (DOTALL)."""
    out, i, n = [], 0, len(h)
    while i < n:
        c = h[i]
        if h.startswith("??", i):
            out.append(b"."); i += 2
        elif c == "*":
            out.append(b".*?"); i += 1
        elif c == "{":
            j = h.index("}", i)
            lo, dash, hi = h[i + 1:j].partition("-")
            if not dash:
                out.append(b".{%d}" % int(lo))
            else:
                out.append(b".{%d,%s}" % (int(lo or 0), hi.encode()))
            i = j + 1
        elif c == "!" or c == "(":
            neg = c == "!"
            j = h.index(")", i)
            alts = h[i + (2 if neg else 1):j].split("|")
            if neg:
                if any(len(a) != 2 for a in alts):
                    raise ValueError("negated multi-byte alternative")
                out.append(b"[^" + b"".join(re.escape(bytes.fromhex(a)) for a in alts) + b"]")
            else:
                out.append(b"(?:" + b"|".join(hex_to_regex(a) for a in alts) + b")")
            i = j + 1
        elif h[i + 1:i + 2] == "?":
            hi = int(c, 16) << 4
            out.append(b"[" + re.escape(bytes([hi])) + b"-" + re.escape(bytes([hi | 15])) + b"]"); i += 2
        elif c == "?":
            lo = int(h[i + 1], 16)
            out.append(b"[" + b"".join(re.escape(bytes([x << 4 | lo])) for x in range(16)) + b"]"); i += 2
        else:
            out.append(re.escape(bytes.fromhex(h[i:i + 2]))); i += 2
    return b"".join(out)


def body_matcher(offset, hexsig):
    """match(data) -> bool for an .ndb body signature of target type 0 with
    offset *, n, n,m or EOF-n (the ClamAV semantics: where the match starts)."""
    rx = re.compile(hex_to_regex(hexsig), re.S)
    if offset == "*":
        return lambda d: rx.search(d) is not None
    if offset.startswith("EOF-"):
        k = int(offset[4:])
        return lambda d: len(d) >= k and rx.match(d, len(d) - k) is not None
    lo, _, shift = offset.partition(",")
    lo, shift = int(lo), int(shift or 0)
    return lambda d: any(rx.match(d, p) for p in range(lo, min(len(d), lo + shift) + 1))


def file_type(path):
    try:
        return subprocess.run(["file", "-b", path], capture_output=True, text=True).stdout.strip()[:60]
    except OSError:
        return "?"


HTML_MARKS = (b"<html", b"<!doctype html", b"<head", b"<body", b"<script", b"<iframe", b"<p ", b"<p>", b"<a href",
              b"<img", b"<br", b"<div", b"<table", b"<meta", b"<title", b"<form", b"<font", b"<style",
              b"<object", b"<embed", b"<applet", b"<frame", b"<input", b"<link", b"<span", b"<center", b"<area")


def is_html(data):
    """Roughly ClamAV's HTML file type: one of its markers in the content
    (ClamAV matches them anywhere, so Markdown with <p> tags is HTML too)."""
    low = data.lower()
    return any(t in low for t in HTML_MARKS)


def classify(side, rel_path, name, root, sigs, khien_where):
    kind = sigs.get(name, ("unknown", None, ""))
    path = os.path.join(root, rel_path)
    if kind[0] not in ("hash", "body"):
        return "not-analysed", kind[2]
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return "file-unreadable", kind[2]
    if kind[0] == "hash":
        want = kind[1].lower()
        algo = {32: hashlib.md5, 40: hashlib.sha1, 64: hashlib.sha256}.get(len(want))
        whole = algo is not None and algo(data).hexdigest() == want
        if side == "clamscan":
            return ("hash-missed-by-khien" if whole else "hash-of-decoded-content"), kind[2]
        if not whole:
            return ("khien-member" if any(m for m, _ in khien_where.get((rel_path, name), [])) else
                    "khien-hash-mismatch"), kind[2]
        return ("clamav-skips-raw-html (hash)" if is_html(data) else "hash-missed-by-clamav"), kind[2]
    match = kind[1]
    views = [("", data)] + [(" (decompressed)", d) for d in decompressed(data)]
    for where, v in views:
        if match(v):
            if side == "clamscan":
                return "raw-missed-by-khien" + where, kind[2]
            return ("clamav-skips-raw-html" if is_html(v) else "raw-missed-by-clamav") + where, kind[2]
    if side == "clamscan":
        for where, v in views:
            low = v.lower()
            if match(low) or match(WS.sub(b"", low)) or match(WS.sub(b" ", low)):
                return "clamav-normalised" + where, kind[2]
        return "clamav-decoded", kind[2]
    if any(m for m, _ in khien_where.get((rel_path, name), [])):
        return "khien-member", kind[2]
    return "khien-unexplained", kind[2]


def decompressed(data):
    """The content of a gzip, bzip2 or xz file (one level), for the triage."""
    out = []
    try:
        if data[:2] == b"\x1f\x8b":
            out.append(gzip.decompress(data))
        elif data[:3] == b"BZh":
            out.append(bz2.decompress(data))
        elif data[:6] == b"\xfd7zXZ\x00":
            out.append(lzma.decompress(data))
    except (OSError, EOFError, ValueError, lzma.LZMAError):
        pass
    return out


def triage(only_clam, only_khien, root, db_files, khien_where, report_path, say, max_examples=3):
    """Classifies every differing pair; prints counts per cause with examples
    (file type, the database line, a reproducer command) and writes all of
    them to report_path. Returns {cause: count}."""
    sigs = load_signatures(db_files)
    rows = []
    for side, lst in (("clamscan", only_clam), ("khien", only_khien)):
        for rel_path, name in lst:
            cause, line = classify(side, rel_path, name, root, sigs, khien_where)
            rows.append((side, cause, rel_path, name, line))
    counts = {}
    for side, cause, *_ in rows:
        counts[(side, cause)] = counts.get((side, cause), 0) + 1
    with open(report_path, "w", encoding="utf-8", errors="surrogateescape") as f:
        for side, cause, p, n, line in rows:
            f.write("%s only\t%s\t%s\t%s\t%s\n" % (side, cause, p, n, line))
    if not rows:
        return {}
    say("  likely causes (all in %s):" % report_path)
    for (side, cause), c in sorted(counts.items(), key=lambda kv: (kv[0][0], -kv[1])):
        say("    %-8s only  %-22s %6d" % (side, cause, c))
        ex = [r for r in rows if r[0] == side and r[1] == cause][:max_examples]
        for _, _, p, n, line in ex:
            full = os.path.join(root, p)
            members = [m for m, _ in khien_where.get((p, n), []) if m]
            say("        %s  [%s]%s" % (p, file_type(full), ("  member " + members[0]) if members else ""))
            say("          db line: %s" % line[:160])
            ext = "hsb" if re.fullmatch(r"[0-9a-fA-F]{32,64}", line.split(":")[0]) else "ndb"
            say("          repro:   printf '%%s\\n' '%s' > /tmp/r.%s; clamscan --allmatch --no-summary -d /tmp/r.%s %s; "
                "khien scan --allmatch --no-builtin -d /tmp/r.%s %s" % (line, ext, ext, shlex.quote(full), ext, shlex.quote(full)))
    groups = {"ClamAV behaviour khien does not emulate": 0, "khien looks wrong": 0, "to look at": 0}
    for (side, cause), c in counts.items():
        groups[group_of(cause)] += c
    say("  summary: " + "; ".join("%s: %d" % kv for kv in groups.items()))
    return {"%s only: %s" % k: v for k, v in counts.items()}


def group_of(cause):
    if cause.startswith(("clamav-normalised", "clamav-decoded", "clamav-skips-raw-html", "hash-of-decoded-content")):
        return "ClamAV behaviour khien does not emulate"
    if cause.startswith(("raw-missed-by-khien", "khien-unexplained", "khien-hash-mismatch", "hash-missed-by-khien")):
        return "khien looks wrong"
    return "to look at"
