#!/usr/bin/env python3
"""Derive a ClamAV .ndb of fixed body signatures from real YARA rules.

Reads every file listed in <rules>/<set>.index.yar (the files YARA 4.2.3
compiles), in the order of the sorted set names and of the index, and takes
the fixed strings of each rule:
  - text strings "..." (YARA escapes \\" \\\\ \\t \\n \\r \\xHH), as ASCII and/or
    UTF-16LE according to the ascii/wide modifiers; strings with nocase, xor
    or base64/base64wide are not fixed and are left out;
  - hex strings { .. } made only of whole bytes (no ??, nibbles, jumps,
    alternatives or ~).
Regular expressions are left out. Strings shorter than --min-len bytes are
dropped, the rest deduplicated by their bytes (first occurrence wins), and
written as  Bench.Yara.<set>.<rule>.<n>:0:*:<hex>  lines, sorted by the order
found. Deterministic: same rules in, same file out.

Usage: yara_to_ndb.py RULES_DIR OUT.ndb [--min-len 8] [--max-len 512]
       [--min-count 10000] [--sets a,b,c]
"""
import argparse
import os
import re
import sys

NAME_OK = re.compile(r"[^A-Za-z0-9_.-]")


class Lexer:
    """A small YARA lexer: enough to find the strings section of each rule."""

    def __init__(self, text):
        self.t = text
        self.i = 0
        self.n = len(text)

    def skip_ws(self):
        t, n = self.t, self.n
        while self.i < n:
            c = t[self.i]
            if c in " \t\r\n\f\v":
                self.i += 1
            elif t.startswith("//", self.i):
                j = t.find("\n", self.i)
                self.i = n if j < 0 else j + 1
            elif t.startswith("/*", self.i):
                j = t.find("*/", self.i + 2)
                self.i = n if j < 0 else j + 2
            else:
                break

    def peek(self):
        self.skip_ws()
        return self.t[self.i] if self.i < self.n else ""

    def ident(self):
        self.skip_ws()
        m = re.compile(r"[A-Za-z_][A-Za-z0-9_]*").match(self.t, self.i)
        if not m:
            return None
        self.i = m.end()
        return m.group(0)

    def string(self):
        """Reads a "..." literal at the cursor; returns its bytes or None if it
        holds an escape YARA would reject."""
        assert self.t[self.i] == '"'
        self.i += 1
        out = bytearray()
        ok = True
        t = self.t
        while self.i < self.n:
            c = t[self.i]
            if c == '"':
                self.i += 1
                return bytes(out) if ok else None
            if c == "\\" and self.i + 1 < self.n:
                e = t[self.i + 1]
                self.i += 2
                if e == "x":
                    h = t[self.i:self.i + 2]
                    if re.fullmatch(r"[0-9A-Fa-f]{2}", h):
                        out.append(int(h, 16))
                        self.i += 2
                    else:
                        ok = False
                elif e in "\"\\":
                    out.append(ord(e))
                elif e == "t":
                    out.append(9)
                elif e == "n":
                    out.append(10)
                elif e == "r":
                    out.append(13)
                else:
                    ok = False
                continue
            if c == "\n":
                ok = False
            out += c.encode("utf-8", "surrogateescape")
            self.i += 1
        return None

    def regex(self):
        assert self.t[self.i] == "/"
        self.i += 1
        while self.i < self.n:
            c = self.t[self.i]
            if c == "\\":
                self.i += 2
                continue
            self.i += 1
            if c == "/":
                break
        m = re.compile(r"[is]*").match(self.t, self.i)
        self.i = m.end()

    def hexstr(self):
        assert self.t[self.i] == "{"
        j = self.t.find("}", self.i)
        if j < 0:
            j = self.n
        body = self.t[self.i + 1:j]
        self.i = j + 1
        body = re.sub(r"//[^\n]*", " ", body)
        body = re.sub(r"/\*.*?\*/", " ", body, flags=re.S)
        compact = re.sub(r"\s+", "", body)
        if compact and len(compact) % 2 == 0 and re.fullmatch(r"[0-9A-Fa-f]+", compact):
            return bytes.fromhex(compact)
        return None

    def modifiers(self):
        mods = []
        while True:
            self.skip_ws()
            save = self.i
            w = self.ident()
            if w is None:
                break
            if w in ("condition", "meta", "strings"):
                self.i = save
                break
            mods.append(w)
            if self.peek() == "(":  # xor(1-255), base64("alphabet")
                depth = 0
                while self.i < self.n:
                    c = self.t[self.i]
                    if c == '"':
                        self.string()
                        continue
                    self.i += 1
                    if c == "(":
                        depth += 1
                    elif c == ")":
                        depth -= 1
                        if depth == 0:
                            break
        return mods


def parse_rules(text):
    """Yields (rule_name, string_id, kind, value_bytes_or_None, modifiers)."""
    lx = Lexer(text)
    rule = None
    mode = None
    prev_word = None
    while True:
        c = lx.peek()
        if not c:
            return
        if c == '"':
            lx.string()
            prev_word = None
            continue
        if c == "/":
            if prev_word == "matches":
                lx.regex()
            else:
                lx.i += 1
            prev_word = None
            continue
        if c == "$" and mode == "strings":
            lx.i += 1
            m = re.compile(r"[A-Za-z0-9_]*").match(lx.t, lx.i)
            sid = m.group(0)
            lx.i = m.end()
            if lx.peek() != "=":
                continue
            lx.i += 1
            v = lx.peek()
            if v == '"':
                val = lx.string()
                kind = "text"
            elif v == "{":
                val = lx.hexstr()
                kind = "hex"
            elif v == "/":
                lx.regex()
                val, kind = None, "regex"
            else:
                continue
            mods = lx.modifiers()
            yield rule, sid, kind, val, mods
            continue
        if c == "}" and mode == "condition":
            lx.i += 1
            rule, mode = None, None
            continue
        if c.isalpha() or c == "_":
            w = lx.ident()
            if w == "rule":
                rule = lx.ident()
                mode = "header"
            elif w in ("strings", "condition", "meta") and lx.peek() == ":" and rule:
                lx.i += 1
                mode = w
            prev_word = w
            continue
        lx.i += 1
        prev_word = None


def encodings(kind, val, mods):
    """The byte strings a YARA string matches exactly, or [] if not fixed."""
    if val is None:
        return []
    m = set(mods)
    if kind == "hex":
        return [val]
    if m & {"nocase", "xor", "base64", "base64wide"}:
        return []
    out = []
    if "ascii" in m or "wide" not in m:
        out.append(val)
    if "wide" in m:
        out.append(b"".join(bytes([b, 0]) for b in val))
    return out


def index_files(rules_dir, set_name):
    idx = os.path.join(rules_dir, set_name + ".index.yar")
    files = []
    with open(idx, encoding="utf-8") as f:
        for line in f:
            m = re.match(r'\s*include\s+"([^"]+)"', line)
            if m:
                files.append(os.path.join(rules_dir, m.group(1)))
    return files


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("rules_dir")
    ap.add_argument("out")
    ap.add_argument("--min-len", type=int, default=8)
    ap.add_argument("--max-len", type=int, default=512)
    ap.add_argument("--min-count", type=int, default=10000)
    ap.add_argument("--sets", default="")
    a = ap.parse_args()

    sets = a.sets.split(",") if a.sets else sorted(
        f[:-len(".index.yar")] for f in os.listdir(a.rules_dir) if f.endswith(".index.yar"))
    seen = set()
    counter = {}
    lines = []
    stats = {}
    for s in sets:
        st = stats.setdefault(s, {"files": 0, "strings": 0, "fixed": 0, "kept": 0})
        short = NAME_OK.sub("_", s.split("-")[0])
        for path in index_files(a.rules_dir, s):
            st["files"] += 1
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                text = f.read()
            for rule, sid, kind, val, mods in parse_rules(text):
                st["strings"] += 1
                for b in encodings(kind, val, mods):
                    st["fixed"] += 1
                    if len(b) < a.min_len or len(b) > a.max_len or b in seen:
                        continue
                    seen.add(b)
                    st["kept"] += 1
                    rn = NAME_OK.sub("_", rule or "norule")
                    k = counter[(short, rn)] = counter.get((short, rn), 0) + 1
                    lines.append("Bench.Yara.%s.%s.%d:0:*:%s" % (short, rn, k, b.hex()))
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, a.out)
    for s, st in stats.items():
        print("  %-26s %4d files %6d strings %6d fixed encodings %6d kept" %
              (s, st["files"], st["strings"], st["fixed"], st["kept"]))
    print("  %d body signatures -> %s" % (len(lines), a.out))
    if len(lines) < a.min_count:
        print("error: fewer than %d signatures" % a.min_count, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
