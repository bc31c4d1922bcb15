"""Sorts the detections two tools disagree on into likely causes, so a
difference in a benchmark run points at a reproducer, not a pile of lines.

Works for fixed body signatures (Name:0:*:HEX without wildcards) and hash
signatures (hash:size:Name); anything else is "not analysed". Causes:
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
  khien only
    clamav-skips-raw-html the raw bytes (or decompressed content) hold it
                          and they are HTML: ClamAV scans only normalised
                          HTML (HTMLSKIPRAW)
    raw-missed-by-clamav  the raw bytes (or decompressed content) hold it,
                          other file types
    khien-member          khien found it in an archive member that
                          clamscan did not report
    khien-unexplained     neither in the raw bytes nor reported in a member
"""
import bz2
import gzip
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
                    if len(parts) >= 4 and re.fullmatch(r"([0-9a-fA-F]{2})+", parts[3]) and parts[2] == "*":
                        sigs[parts[0]] = ("body", bytes.fromhex(parts[3]), line)
                    else:
                        sigs[parts[0]] = ("other", None, line)
                elif ext in ("hdb", "hsb", "hdu", "hsu") and len(parts) >= 3:
                    sigs[parts[2]] = ("hash", parts[0], line)
    return sigs


def file_type(path):
    try:
        return subprocess.run(["file", "-b", path], capture_output=True, text=True).stdout.strip()[:60]
    except OSError:
        return "?"


HTML_MARKS = (b"<html", b"<!doctype html", b"<head", b"<body", b"<script", b"<iframe", b"<p ", b"<p>", b"<a href",
              b"<img", b"<br", b"<div", b"<table", b"<meta", b"<title", b"<form", b"<font", b"<style")


def is_html(data):
    """Roughly ClamAV's HTML file type: one of its markers in the content
    (ClamAV matches them anywhere, so Markdown with <p> tags is HTML too)."""
    low = data.lower()
    return any(t in low for t in HTML_MARKS)


def classify(side, rel_path, name, root, sigs, khien_where):
    kind = sigs.get(name, ("unknown", None, ""))
    path = os.path.join(root, rel_path)
    if kind[0] == "hash":
        return ("hash-missed-by-khien" if side == "clamscan" else "hash-extra-in-khien"), kind[2]
    if kind[0] != "body":
        return "not-analysed", kind[2]
    sig = kind[1]
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return "file-unreadable", kind[2]
    views = [("", data)] + [(" (decompressed)", d) for d in decompressed(data)]
    for where, v in views:
        if sig in v:
            if side == "clamscan":
                return "raw-missed-by-khien" + where, kind[2]
            return ("clamav-skips-raw-html" if is_html(v) else "raw-missed-by-clamav") + where, kind[2]
    if side == "clamscan":
        for where, v in views:
            low = v.lower()
            if sig in low or sig in WS.sub(b"", low) or sig in WS.sub(b" ", low):
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
    return {"%s only: %s" % k: v for k, v in counts.items()}
