#!/usr/bin/env python3
"""Random YARA rules and files, for the differential test against yara 4.2.3.

    yara_random.py SEED OUTDIR [--rules N] [--files N]

writes, for one seed, deterministically:
    OUTDIR/rules.yar     rules of namespace "main" (the bulk)
    OUTDIR/other.yar     a few rules of namespace "other" (own globals and privates)
    OUTDIR/defines       the -d arguments (one NAME=VALUE a line)
    OUTDIR/loose         "rule $string" pairs whose matched data is not compared (see below)
    OUTDIR/files/        the files to scan

Every feature of the language is drawn: text strings (escapes, nocase, wide,
ascii, fullword, private, xor, xor(a-b), base64/base64wide with or without
a custom alphabet), hex strings (wildcards, nibbles, jumps of every form,
nested alternatives, jumps long enough for yara's chained strings), regular
expressions (/i /s, classes, shorthands, anchors, word boundaries, greedy
and lazy quantifiers, alternation, groups), and conditions over them
(arithmetic on integers and floats, bitwise operators, comparisons, string
operators, counts, offsets, lengths, at/in, `of` over strings and rules,
for..of, for..in over ranges, enumerations and module arrays, integer
reads, defined, rule references, private and global rules, tags, meta,
external variables, the math, hash, pe and elf modules). Undefined values
are exercised on purpose: out-of-range reads, missing module fields,
division by zero at run time, out-of-range match indices.

The files hold the strings' instances (or near misses: one byte changed)
at the start, the end, overlapping, repeated, in their wide, xor-ed and
base64 forms, next to word characters or not, over text-like, binary or
zero fillers; some begin with small PE or ELF headers.

One documented difference is not compared (docs/YARA.md): when the
alternatives of a regular expression can match at the same offset with
different lengths, yara's length depends on which atom its automaton
reported first; khien reports the leftmost-first (PCRE) length. Such
strings are listed in OUTDIR/loose (their data is not compared, only
their offsets) and their lengths are never used in conditions.
"""
import base64
import hashlib
import os
import random
import re
import struct
import sys
import zlib

STD_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
WORDS = [b"alpha", b"beta", b"gamma", b"delta", b"kernel32", b"cmd", b"http", b"exe", b"Temp", b"abc", b"ABC",
         b"foo", b"bar", b"x", b"xyz", b"Zz9", b"mal", b"ware", b"dll", b"run"]
RE_META = set(b"\\^$|()[]{}*+?./")


def widen(bs):
    out = bytearray()
    for c in bs:
        out += bytes([c, 0])
    return bytes(out)


# ---------------------------------------------------------------- text strings

class TextString:
    kind = "text"

    def __init__(self, g):
        r = g.r
        self.loose = False
        n = r.choice([1, 2, 3, 3, 4, 5, 6, 8, 12])
        style = r.random()
        bs = bytearray()
        for _ in range(n):
            if style < 0.55:
                bs.append(r.choice(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))
            elif style < 0.8:
                bs.append(r.choice(b"abcXYZ019 _-.:/\\\"'\t\n"))
            else:
                bs.append(r.randrange(256))
        self.value = bytes(bs)
        mods = []
        self.xor = None
        self.b64 = None
        self.b64wide = None
        self.alphabet = None
        p = r.random()
        if p < 0.15:
            lo = r.choice([0, 1, 0x20, r.randrange(256)])
            hi = min(255, lo + r.choice([0, 1, 2, 5]))
            form = r.randrange(3)
            if form == 0:
                self.xor = (0, 255)
                mods.append("xor")
            elif form == 1 or lo == hi:
                self.xor = (lo, lo)
                mods.append("xor(%d)" % lo)
            else:
                self.xor = (lo, hi)
                mods.append("xor(%d-%d)" % (lo, hi))
        elif p < 0.27:
            if r.random() < 0.3:
                al = list(STD_B64)
                r.shuffle(al)
                self.alphabet = "".join(al)
            which = r.randrange(3)
            self.b64 = which in (0, 2)
            self.b64wide = which in (1, 2)
            suffix = '("%s")' % self.alphabet if self.alphabet else ""
            if self.b64:
                mods.append("base64" + suffix)
            if self.b64wide:
                mods.append("base64wide" + suffix)
        self.nocase = self.xor is None and self.b64 is None and r.random() < 0.3
        if self.nocase:
            mods.append("nocase")
        w = r.random()
        self.wide = w < 0.3
        self.ascii = w < 0.15 or w > 0.85
        if self.wide:
            mods.append("wide")
        if self.ascii:
            mods.append("ascii")
        if not self.wide:
            self.ascii = True
        self.fullword = self.b64 is None and r.random() < 0.2
        if self.fullword:
            mods.append("fullword")
        self.private = r.random() < 0.08
        if self.private:
            mods.append("private")
        r.shuffle(mods)
        self.mods = mods

    def source(self, g):
        out = []
        for c in self.value:
            if c == 0x22:
                out.append('\\"')
            elif c == 0x5C:
                out.append("\\\\")
            elif c == 9 and g.r.random() < 0.7:
                out.append("\\t")
            elif c == 10 and g.r.random() < 0.7:
                out.append("\\n")
            elif 0x20 <= c < 0x7F and g.r.random() < 0.93:
                out.append(chr(c))
            else:
                out.append("\\x%02x" % c if g.r.random() < 0.5 else "\\x%02X" % c)
        return '"' + "".join(out) + '"' + ("".join(" " + m for m in self.mods))

    def sample(self, r):
        v = self.value
        if self.nocase:
            v = bytes((c ^ 0x20) if chr(c).isalpha() and c < 128 and r.random() < 0.5 else c for c in v)
        forms = []
        if self.ascii:
            forms.append(False)
        if self.wide:
            forms.append(True)
        wide = r.choice(forms)
        if self.b64 or self.b64wide:
            pre = bytes(r.randrange(256) for _ in range(r.randrange(3)))
            post = bytes(r.randrange(256) for _ in range(r.randrange(3)))
            plain = widen(v) if wide else v
            enc = base64.b64encode(pre + plain + post)
            if self.alphabet:
                enc = enc.translate(bytes.maketrans(STD_B64.encode(), self.alphabet.encode()))
            enc = enc.rstrip(b"=") if r.random() < 0.5 else enc
            ew = []
            if self.b64:
                ew.append(False)
            if self.b64wide:
                ew.append(True)
            return widen(enc) if r.choice(ew) else enc
        if wide:
            v = widen(v)
        if self.xor:
            k = r.randint(self.xor[0], self.xor[1])
            v = bytes(c ^ k for c in v)
        return v


# ---------------------------------------------------------------- hex strings

class HexString:
    kind = "hex"

    def __init__(self, g):
        self.loose = False
        self.g = g
        self.private = g.r.random() < 0.06
        self.chained = False
        self.seq = self.gen_seq(0, top=True)

    def gen_byte(self):
        r = self.g.r
        p = r.random()
        if p < 0.72:
            return ("b", r.choice([r.randrange(256), r.choice(b"abcxyz\x00\xff ABC")]), 0xFF)
        if p < 0.82:
            return ("b", r.randrange(256), 0x00)
        if p < 0.91:
            return ("b", r.randrange(256), 0xF0)
        return ("b", r.randrange(256), 0x0F)

    def gen_seq(self, depth, top=False):
        r = self.g.r
        n = r.randint(1, 5 if depth else 7)
        seq = []
        for i in range(n):
            first, last = i == 0, i == n - 1
            p = r.random()
            if not first and not last and p < 0.25:
                seq.append(self.gen_jump(depth))
            elif p < 0.38 and depth < 2:
                alts = [self.gen_seq(depth + 1) for _ in range(r.randint(2, 3))]
                seq.append(("alt", alts))
            else:
                seq.append(self.gen_byte())
        # a concrete byte somewhere, or yara has nothing to search for
        if top and not any(t[0] == "b" and t[2] == 0xFF for t in seq):
            seq.insert(r.randrange(len(seq) + 1), ("b", r.randrange(256), 0xFF))
        return seq

    def gen_jump(self, depth):
        r = self.g.r
        p = r.random()
        if p < 0.3:
            n = r.randint(1, 6)
            return ("j", n, n)
        if p < 0.75 or depth:
            lo = r.randint(0, 4)
            return ("j", lo, lo + r.randint(1, 6))
        if p < 0.85:
            return ("j", r.randint(0, 5), None)
        if p < 0.9:
            return ("j", None, None)
        # long enough for yara's chained strings (threshold 200)
        self.chained = True
        lo = r.choice([0, 10, 199, 201, 250])
        return ("j", lo, lo + r.choice([0, 1, 60, 300]) if lo else 260)

    def render_seq(self, seq):
        r = self.g.r
        out = []
        for t in seq:
            if t[0] == "b":
                _, v, m = t
                hx = "%02X" % v if r.random() < 0.5 else "%02x" % v
                if m == 0:
                    out.append("??")
                elif m == 0xF0:
                    out.append(hx[0] + "?")
                elif m == 0x0F:
                    out.append("?" + hx[1])
                else:
                    out.append(hx)
            elif t[0] == "j":
                _, lo, hi = t
                if lo is None:
                    out.append("[-]")
                elif hi is None:
                    out.append("[%d-]" % lo)
                elif lo == hi:
                    out.append("[%d]" % lo)
                else:
                    out.append("[%d-%d]" % (lo, hi))
            else:
                out.append("( " + " | ".join(self.render_seq(a) for a in t[1]) + " )")
        return " ".join(out)

    def source(self, g):
        return "{ " + self.render_seq(self.seq) + " }" + (" private" if self.private else "")

    def sample_seq(self, r, seq, out):
        for t in seq:
            if t[0] == "b":
                _, v, m = t
                out.append((v & m) | (r.randrange(256) & ~m & 0xFF))
            elif t[0] == "j":
                _, lo, hi = t
                lo = lo or 0
                hi = lo + 8 if hi is None else hi
                n = r.randint(lo, min(hi, lo + 8)) if r.random() < 0.8 else r.choice([lo, hi])
                out.extend(r.randrange(256) for _ in range(n))
            else:
                self.sample_seq(r, r.choice(t[1]), out)

    def sample(self, r):
        out = bytearray()
        self.sample_seq(r, self.seq, out)
        return bytes(out)


# ---------------------------------------------------------------- regular expressions

class RegexString:
    kind = "regex"

    def __init__(self, g):
        self.g = g
        r = g.r
        self.icase = r.random() < 0.2
        self.lazy = r.random() < 0.3  # yara: greedy and lazy quantifiers cannot be mixed
        self.dotall = r.random() < 0.2
        for _ in range(50):
            self.ast = self.gen_alt(0, top=True)
            if self.min_len(self.ast) >= 1 and self.has_literal(self.ast):
                break
        mods = []
        self.nocase = r.random() < 0.12
        if self.nocase:
            mods.append("nocase")
        w = r.random()
        self.wide = w < 0.15
        # never `ascii wide` on a regex: yara 4.2.3 then misses wide matches
        # when its atom also matches in ascii form and the part before the
        # atom fails (VirusTotal/yara#1933, fixed after 4.2.3; khien finds
        # them, e.g. /A(B|a)/ ascii wide on "A\0a\0")
        self.ascii = w > 0.93
        if self.wide:
            mods.append("wide")
        if self.ascii:
            mods.append("ascii")
        if not self.wide:
            self.ascii = True
        self.fullword = r.random() < 0.12
        if self.fullword:
            mods.append("fullword")
        self.private = r.random() < 0.06
        if self.private:
            mods.append("private")
        r.shuffle(mods)
        self.mods = mods
        # alternatives matching at one offset with different lengths: yara's length
        # depends on its atoms (documented difference), so only offsets are compared
        self.loose = self.ambiguous(self.ast)

    # AST: ("alt", [seqs]) ("seq", [items]) ("lit", byte) ("hexesc", byte) ("any",)
    #      ("class", neg, [ranges], [shorthands]) ("short", ch) ("anchor", kind) ("rep", node, lo, hi, lazy)
    #      ("group", alt)
    def gen_alt(self, depth, top=False):
        r = self.g.r
        n = 1 if r.random() < (0.75 if top else 0.5) else r.randint(2, 3)
        return ("alt", [self.gen_seq(depth, top) for _ in range(n)])

    def gen_seq(self, depth, top):
        r = self.g.r
        items = []
        if top and r.random() < 0.08:
            items.append(("anchor", "^"))
        for _ in range(r.randint(1, 5)):
            items.append(self.gen_item(depth))
        # no `$` in lazy regexes: yara 4.2.3 never lets a lazy `.{n,m}?` (or
        # `.{n,}?`) end at the end of the data unless it took exactly m
        # characters, so /-.{2,}?$/s misses "-cdef" at the end of a file
        # while /-.*?$/s and /-.{2,4}?$/s find it (see docs/YARA.md)
        if top and r.random() < 0.08 and not self.lazy:
            items.append(("anchor", "$"))
        return ("seq", items)

    def gen_atom(self, depth):
        r = self.g.r
        p = r.random()
        if p < 0.45:
            c = r.choice(b"abcdexyzABC0123 _-.:/\\*+?()[]{}|^$") if r.random() < 0.9 else r.randrange(1, 256)
            return ("lit", c)
        if p < 0.5:
            return ("hexesc", r.choice([r.randrange(256), 0x41, 0x61, 0x00]))
        if p < 0.58:
            return ("any",)
        if p < 0.72:
            ranges = []
            for _ in range(r.randint(1, 3)):
                a = r.choice(b"aAx0 _-.]^\\")
                if r.random() < 0.4:
                    b = min(255, a + r.randint(0, 25))
                    ranges.append((a, b))
                else:
                    ranges.append((a, a))
            shorts = [r.choice("wWdDsS")] if r.random() < 0.2 else []
            return ("class", r.random() < 0.25, ranges, shorts)
        if p < 0.8:
            return ("short", r.choice("wWdDsS"))
        if p < 0.86:
            return ("anchor", r.choice(["\\b", "\\B"]))
        if depth < 2:
            return ("group", self.gen_alt(depth + 1))
        return ("lit", r.choice(b"abc"))

    def gen_item(self, depth):
        r = self.g.r
        a = self.gen_atom(depth)
        if a[0] == "anchor" or r.random() < 0.65 or self.max_len(a) == 0:
            return a
        lazy = self.lazy
        # an unbounded repeat of a group backtracks exponentially in yara's own
        # regex engine (minutes per file); groups get bounded repeats only
        q = r.choice([2, 3, 4, 6]) if a[0] == "group" else r.randrange(7)
        lo, hi = [(0, None), (1, None), (0, 1), (2, 2), (1, 3), (2, None), (0, 2)][q]
        return ("rep", a, lo, hi, lazy, q)

    def min_len(self, n):
        k = n[0]
        if k == "alt":
            return min(self.min_len(s) for s in n[1])
        if k == "seq":
            return sum(self.min_len(i) for i in n[1])
        if k in ("lit", "hexesc", "any", "class", "short"):
            return 1
        if k == "anchor":
            return 0
        if k == "group":
            return self.min_len(n[1])
        if k == "rep":
            return n[2] * self.min_len(n[1])
        return 0

    def max_len(self, n):
        k = n[0]
        if k == "alt":
            ms = [self.max_len(s) for s in n[1]]
            return None if None in ms else max(ms)
        if k == "seq":
            ms = [self.max_len(i) for i in n[1]]
            return None if None in ms else sum(ms)
        if k in ("lit", "hexesc", "any", "class", "short"):
            return 1
        if k == "anchor":
            return 0
        if k == "group":
            return self.max_len(n[1])
        if k == "rep":
            m = self.max_len(n[1])
            return None if n[3] is None or m is None else n[3] * m
        return 0

    def has_literal(self, n):
        k = n[0]
        if k in ("lit", "hexesc"):
            return True
        if k == "alt":
            return all(self.has_literal(s) for s in n[1])
        if k == "seq":
            return any(self.has_literal(i) for i in n[1])
        if k == "group":
            return self.has_literal(n[1])
        if k == "rep":
            return n[2] >= 1 and self.has_literal(n[1])
        return False

    def ambiguous(self, n):
        """Alternatives whose lengths differ, or any alternative with a repetition."""
        k = n[0]
        if k == "alt":
            if len(n[1]) > 1:
                lens = set((self.min_len(s), self.max_len(s)) for s in n[1])
                if len(lens) > 1 or any(self.min_len(s) != self.max_len(s) for s in n[1]):
                    return True
            return any(self.ambiguous(s) for s in n[1])
        if k == "seq":
            return any(self.ambiguous(i) for i in n[1])
        if k == "group":
            return self.ambiguous(n[1])
        if k == "rep":
            return self.ambiguous(n[1])
        return False

    def rlit(self, c, in_class=False):
        if in_class:
            if c in b"]\\^-":
                return "\\" + chr(c)
        elif c in RE_META:
            return "\\" + chr(c)
        if c == 0x2F:
            return "\\/"
        if 0x21 <= c < 0x7F or c == 0x20:
            return chr(c)
        return "\\x%02x" % c

    def render(self, n):
        k = n[0]
        if k == "alt":
            return "|".join(self.render(s) for s in n[1])
        if k == "seq":
            return "".join(self.render(i) for i in n[1])
        if k == "lit":
            return self.rlit(n[1])
        if k == "hexesc":
            return "\\x%02x" % n[1]
        if k == "any":
            return "."
        if k == "class":
            body = ""
            for a, b in n[2]:
                body += self.rlit(a, True) if a == b else self.rlit(a, True) + "-" + self.rlit(b, True)
            body += "".join("\\" + s for s in n[3])
            return "[" + ("^" if n[1] else "") + body + "]"
        if k == "short":
            return "\\" + n[1]
        if k == "anchor":
            return n[1]
        if k == "group":
            return "(" + self.render(n[1]) + ")"
        if k == "rep":
            _, a, lo, hi, lazy, q = n
            s = self.render(a)
            suffix = ["*", "+", "?", "{2}", "{1,3}", "{2,}", "{,2}"][q]
            return s + suffix + ("?" if lazy else "")
        raise ValueError(k)

    def source(self, g):
        flags = ("i" if self.icase else "") + ("s" if self.dotall else "")
        return "/" + self.render(self.ast) + "/" + flags + "".join(" " + m for m in self.mods)

    def in_short(self, s, c):
        w = chr(c).isalnum() and c < 128 or c == 0x5F
        d = 0x30 <= c <= 0x39
        sp = c in b" \t\n\r\x0b\x0c"
        return {"w": w, "W": not w, "d": d, "D": not d, "s": sp, "S": not sp}[s]

    def sample_node(self, r, n, out):
        k = n[0]
        if k == "alt":
            self.sample_node(r, r.choice(n[1]), out)
        elif k == "seq":
            for i in n[1]:
                self.sample_node(r, i, out)
        elif k in ("lit", "hexesc"):
            c = n[1]
            if (self.icase or self.nocase) and chr(c).isalpha() and c < 128 and r.random() < 0.5:
                c ^= 0x20
            out.append(c)
        elif k == "any":
            c = r.randrange(256)
            out.append(c if c != 10 or self.dotall else 11)
        elif k == "class":
            members = [c for c in range(256) if self.class_has(n, c)]
            out.append(r.choice(members) if members else 0x41)
        elif k == "short":
            out.append(r.choice([c for c in range(256) if self.in_short(n[1], c)]))
        elif k == "group":
            self.sample_node(r, n[1], out)
        elif k == "rep":
            _, a, lo, hi, lazy, q = n
            for _ in range(r.randint(lo, hi if hi is not None else lo + 3)):
                self.sample_node(r, a, out)

    def class_has(self, n, c):
        cs = [c]
        if self.icase or self.nocase:
            if 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A:
                cs.append(c ^ 0x20)
        inside = any(a <= x <= b for x in cs for a, b in n[2]) or any(self.in_short(s, c) for s in n[3])
        return inside != n[1]

    def sample(self, r):
        out = bytearray()
        self.sample_node(r, self.ast, out)
        forms = ([False] if self.ascii else []) + ([True] if self.wide else [])
        return widen(bytes(out)) if r.choice(forms) else bytes(out)


# ---------------------------------------------------------------- PE / ELF headers

def pe_header(r):
    nsec = r.randint(0, 3)
    is64 = r.random() < 0.4
    opt_size = 240 if is64 else 224
    e_lfanew = 0x40 if r.random() < 0.7 else 0x80
    dos = bytearray(b"MZ" + bytes(e_lfanew - 2))
    struct.pack_into("<I", dos, 0x3C, e_lfanew)
    machine = 0x8664 if is64 else r.choice([0x14C, 0x14C, 0x1C0])
    chars = r.choice([0x102, 0x2102, 0x22, 0x10F])
    fh = struct.pack("<4sHHIIIHH", b"PE\0\0", machine, nsec, r.randrange(1 << 32), 0, 0, opt_size, chars)
    hdr_end = e_lfanew + 24 + opt_size + 40 * nsec
    size_headers = (hdr_end + 0x1FF) & ~0x1FF if r.random() < 0.5 else hdr_end
    ep = r.choice([0x1000, 0x1010, 0x2000, 0])
    if is64:
        opt = struct.pack("<HBBIIIIIQIIHHHHHHIIIIHHQQQQII", 0x20B, 14, r.randrange(40), 0x200, 0x200, 0, ep, 0x1000,
                          0x140000000, 0x1000, 0x200, 6, 0, 0, 0, 6, 0, 0, 0x4000, size_headers, 0,
                          r.choice([2, 3]), 0x8160, 0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
    else:
        opt = struct.pack("<HBBIIIIIIIIIHHHHHHIIIIHHIIIIII", 0x10B, 14, r.randrange(40), 0x200, 0x200, 0, ep, 0x1000,
                          0x2000, 0x400000, 0x1000, 0x200, 6, 0, 0, 0, 6, 0, 0, 0x4000, size_headers, 0,
                          r.choice([2, 3]), 0x8140, 0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
    opt += bytes(opt_size - len(opt))
    secs = bytearray()
    raw = size_headers
    for i in range(nsec):
        name = r.choice([b".text", b".data", b".rsrc", b"UPX0", b".reloc", b"abc"])
        rsize = r.choice([0, 0x10, 0x40])
        secs += struct.pack("<8sIIIIIIHHI", name, rsize or 0x10, 0x1000 * (i + 1), rsize, raw, 0, 0, 0, 0,
                            r.choice([0x60000020, 0xC0000040, 0x40000040]))
        raw += rsize
    out = bytes(dos) + fh + opt + bytes(secs)
    out += bytes(max(0, size_headers - len(out)))
    out += bytes(r.randrange(256) for _ in range(raw - size_headers))
    return out


def elf_header(r):
    is64 = r.random() < 0.5
    nsec = r.randint(0, 3)
    nseg = r.randint(0, 2)
    etype = r.choice([1, 2, 3, 4])
    mach = r.choice([3, 62, 40, 183])
    ep = r.choice([0, 0x401000, 0x1040])
    if is64:
        ehsize, phsz, shsz = 64, 56, 64
    else:
        ehsize, phsz, shsz = 52, 32, 40
    phoff = ehsize
    strtab = b"\0.text\0.data\0.shstrtab\0"
    data_off = phoff + nseg * phsz
    shoff = data_off + len(strtab) + 16
    shstrndx = nsec - 1 if nsec else 0
    ident = b"\x7fELF" + bytes([2 if is64 else 1, 1, 1]) + bytes(9)
    if is64:
        hdr = ident + struct.pack("<HHIQQQIHHHHHH", etype, mach, 1, ep, phoff if nseg else 0, shoff if nsec else 0, 0,
                                  ehsize, phsz, nseg, shsz, nsec, shstrndx)
    else:
        hdr = ident + struct.pack("<HHIIIIIHHHHHH", etype, mach, 1, ep, phoff if nseg else 0, shoff if nsec else 0, 0,
                                  ehsize, phsz, nseg, shsz, nsec, shstrndx)
    segs = b""
    for i in range(nseg):
        pt = r.choice([1, 1, 4, 6])
        if is64:
            segs += struct.pack("<IIQQQQQQ", pt, 5, 0, 0x400000, 0x400000, 0x100, 0x100, 0x1000)
        else:
            segs += struct.pack("<IIIIIIII", pt, 0, 0x8048000, 0x8048000, 0x100, 0x100, 5, 0x1000)
    secs = b""
    names = [0, 1, 7, 13]
    for i in range(nsec):
        st = 0 if i == 0 else (3 if i == nsec - 1 else 1)
        nm = names[min(i, 3)] if i else 0
        off = data_off if st == 3 else 0
        sz = len(strtab) if st == 3 else r.choice([0, 8])
        if is64:
            secs += struct.pack("<IIQQQQIIQQ", nm, st, 6 if st == 1 else 0, 0, off, sz, 0, 0, 1, 0)
        else:
            secs += struct.pack("<IIIIIIIIII", nm, st, 6 if st == 1 else 0, 0, off, sz, 0, 0, 1, 0)
    out = hdr + segs + strtab + bytes(16)
    out = out[:shoff] if nsec else out
    return out + secs


# ---------------------------------------------------------------- files

def filler(r, n):
    kind = r.randrange(5)
    if kind == 0:
        return bytes(r.randrange(256) for _ in range(n))
    if kind == 1:
        return bytes(n)
    if kind == 2:
        out = bytearray()
        while len(out) < n:
            out += r.choice(WORDS)
            out += r.choice([b" ", b" ", b"\n", b".", b"_", b"", b"-", b"\x00"])
        return bytes(out[:n])
    if kind == 3:
        pat = bytes(r.randrange(256) for _ in range(r.randint(1, 4)))
        return (pat * (n // len(pat) + 1))[:n]
    return bytes(r.choice(b"abcABC019 _\x00\xff") for _ in range(n))


def mutate(r, bs):
    if not bs:
        return bs
    b = bytearray(bs)
    i = r.randrange(len(b))
    b[i] = (b[i] + r.randint(1, 255)) & 0xFF
    return bytes(b)


# ---------------------------------------------------------------- rules and conditions

class Rule:
    def __init__(self, name, ns):
        self.name = name
        self.ns = ns
        self.strings = []  # (ident, obj)
        self.private = False
        self.glob = False
        self.tags = []
        self.meta = []
        self.cond = "true"


class Gen:
    def __init__(self, seed, nrules, nfiles):
        self.r = random.Random(seed)
        self.seed = seed
        self.nrules = nrules
        self.nfiles = nfiles
        self.modules = [m for m in ("math", "hash", "pe", "elf") if self.r.random() < 0.5]
        self.externals = {}
        self.files = []

    # -- externals: names and values handed to -d
    def make_externals(self):
        r = self.r
        self.externals = {
            "ext_int": str(r.choice([0, 1, -3, 42, 1000, r.randrange(1 << 20)])),
            "ext_bool": r.choice(["true", "false"]),
            "ext_str": r.choice(["", "abc", "Hello World", "kernel32.dll", "x.exe"]),
            "ext_float": r.choice(["0.5", "1.25", "-2.0", "3.75"]),
        }

    def new_string(self):
        p = self.r.random()
        if p < 0.5:
            return TextString(self)
        if p < 0.75:
            return HexString(self)
        return RegexString(self)

    def make_rules(self):
        r = self.r
        self.rules = []
        groups = ["ga", "gb", "gc", "gd"]
        for i in range(self.nrules):
            grp = groups[min(3, i * 4 // max(1, self.nrules))]
            ru = Rule("%s_%d" % (grp, i), "main")
            ru.group = grp
            ru.private = r.random() < 0.1
            ru.glob = r.random() < 0.04
            ru.tags = r.sample(["t1", "t2", "Tag_X", "evil", "x9"], r.choice([0, 0, 0, 1, 2]))
            for k in range(r.choice([0, 0, 1, 2, 3])):
                kind = r.randrange(3)
                if kind == 0:
                    val = '"%s"' % r.choice(["hello", "a\\tb", "quote\\\"d", "back\\\\slash", "", "x\\x41y", "ünï"])
                elif kind == 1:
                    val = str(r.choice([0, 1, -5, 123456, -2147483648, 9223372036854775807]))
                else:
                    val = r.choice(["true", "false"])
                ru.meta.append(("m%d" % k if r.random() < 0.8 else "dup", val))
            nstr = r.choice([0, 1, 1, 2, 2, 3, 4, 5])
            for k in range(nstr):
                s = self.new_string()
                ident = r.choice(["$s%d" % k, "$a%d" % k, "$b%d" % k]) if r.random() < 0.9 else "$%s%d" % (
                    r.choice(["x", "ab", "s_"]), k)
                if any(ident == x for x, _ in ru.strings):
                    ident = "$z%d" % k
                ru.strings.append((ident, s))
            self.rules.append(ru)
        self.other = []
        for i in range(self.r.randint(0, 3)):
            ru = Rule("o_%d" % i, "other")
            ru.group = "o"
            ru.private = r.random() < 0.2
            ru.glob = r.random() < 0.25
            ru.tags = r.sample(["t1", "o"], r.choice([0, 1]))
            for k in range(r.choice([0, 1, 2])):
                ru.strings.append(("$o%d" % k, self.new_string()))
            self.other.append(ru)

    def all_strings(self):
        for ru in self.rules + self.other:
            for ident, s in ru.strings:
                yield s

    def make_files(self, outdir):
        r = self.r
        strs = list(self.all_strings())
        os.makedirs(os.path.join(outdir, "files"), exist_ok=True)
        for fi in range(self.nfiles):
            size = r.choice([0, 1, 3, 16, 40, 100, 200, 300, 500, 800, 1500, r.randrange(64)])
            data = bytearray(filler(r, size))
            p = r.random()
            if p < 0.15:
                data = bytearray(pe_header(r)) + data
            elif p < 0.27:
                data = bytearray(elf_header(r)) + data
            ninst = r.choice([0, 1, 2, 4, 6, 10]) if strs else 0
            for _ in range(ninst):
                s = r.choice(strs)
                inst = s.sample(r)
                if r.random() < 0.15:
                    inst = mutate(r, inst)
                if r.random() < 0.2:
                    inst = inst * r.randint(2, 3)
                where = r.random()
                if where < 0.2 or not data:
                    pos = 0
                elif where < 0.4:
                    pos = len(data)
                elif where < 0.55 and len(data) >= len(inst):
                    data[len(data) - len(inst):] = inst
                    continue
                else:
                    pos = r.randrange(len(data) + 1)
                if r.random() < 0.5:
                    data[pos:pos + len(inst)] = inst  # overwrite (overlaps what is there)
                else:
                    data[pos:pos] = inst
                if r.random() < 0.15:
                    # word characters or separators around it (fullword, \b)
                    data[pos:pos] = bytes([r.choice(b"a_Z0 .\x00")])
            if r.random() < 0.1 and len(data) > 20:
                # a chained hex string's pieces far apart
                gap = bytes(r.randrange(256) for _ in range(r.choice([150, 205, 260, 320])))
                data[r.randrange(len(data)):r.randrange(len(data))] = gap
            self.files.append(bytes(data))
            with open(os.path.join(outdir, "files", "f%02d" % fi), "wb") as f:
                f.write(bytes(data))

    # -- conditions
    def cond_for(self, ru, rules_before):
        self.ru = ru
        self.before = rules_before
        self.used = set()
        self.loopvars = []  # (name, type)
        self.in_for_of = False
        self.depth = 0
        c = self.gen_bool(0)
        # what the final text references, not what was picked on the way
        # (a picked string can end up in a branch that was thrown away)
        unused = [ident for ident, _ in ru.strings if not self.referenced(ident, c)]
        if unused:
            r = self.r
            part = r.choice(["any of (%s)", "all of (%s)", "none of (%s)", "%d of (%%s)" % r.randint(1, len(unused))])
            part = part % ", ".join(unused)
            c = "(%s) %s %s" % (c, r.choice(["and", "or", "or"]), part) if r.random() < 0.8 else "%s or (%s)" % (
                part, c)
        return c

    @staticmethod
    def referenced(ident, cond):
        name = ident[1:]
        if re.search(r"\bthem\b", cond):
            return True
        if re.search(r"[$#@!]%s(?![A-Za-z0-9_])" % re.escape(name), cond):
            return True
        return any(name.startswith(pre) for pre in re.findall(r"\$([A-Za-z0-9_]*)\*", cond))

    def string_ids(self):
        return [ident for ident, _ in self.ru.strings]

    def pick_string(self, for_length=False):
        cands = [(i, s) for i, s in self.ru.strings if not (for_length and s.loose)]
        if not cands:
            return None
        ident, s = self.r.choice(cands)
        self.used.add(ident)
        return ident

    def ival(self, k=None):
        r = self.r
        v = k if k is not None else r.choice([0, 1, 2, 3, 5, 7, 10, 16, 32, 64, 100, 255, 256, 1000, -1, -7,
                                              r.randrange(1 << 16), r.randrange(1 << 40)])
        p = r.random()
        if v >= 0 and p < 0.15:
            return "0x%x" % v
        if v > 0 and p < 0.2:
            return "0o%o" % v
        if v in (1, 2) and p < 0.3:
            return "%d%s" % (v, r.choice(["KB", "MB"]))
        return str(v)

    def gen_int(self, d, nonzero=False, small=False):
        """Returns (text, constant value or None)."""
        r = self.r
        leaf = d > 3 or r.random() < 0.35
        ids = self.string_ids()
        if leaf:
            p = r.random()
            if p < 0.3 or (small and p < 0.6):
                v = r.choice([1, 2, 3, 5, 8, 10, 16, 100, 200]) if nonzero else None
                if v is None:
                    v = r.choice([0, 1, 2, 3, 4, 5, 10, 16, 100, 255, 1000, -1, -100, 1 << 33])
                if small:
                    v = r.choice([1, 2, 3, 4, 8]) if nonzero else r.choice([0, 1, 2, 3, 4, 8, 16])
                txt = self.ival(v)
                if txt.endswith("KB"):
                    v = int(txt[:-2]) * 1024
                elif txt.endswith("MB"):
                    v = int(txt[:-2]) << 20
                return txt, v
            if p < 0.45:
                return "filesize", None
            if p < 0.6 and ids:
                s = self.pick_string()
                q = r.random()
                if q < 0.5:
                    return "#" + s[1:], None
                if q < 0.75:
                    # yara 4.2.3 fails the scan (error 31) when the lower bound is not 0 (docs/YARA.md)
                    return "#%s in (0..%s)" % (s[1:], r.choice(["filesize", "100", "%d" % r.randint(0, 40),
                                                                "filesize - %d" % r.randint(1, 40)])), None
                sl = self.pick_string(for_length=True) if r.random() < 0.5 else None
                idx = r.choice(["1", "2", "3", "#" + s[1:], "0", "-1", "1 + 1"])
                if sl:
                    return "!%s[%s]" % (sl[1:], idx), None
                return "@%s[%s]" % (s[1:], idx), None
            if p < 0.68 and self.in_for_of:
                return r.choice(["#", "@[1]", "![1]", "@[2]", "#"]), None
            ivars = [n for n, t in self.loopvars if t == "i"]
            if p < 0.78 and ivars:
                return r.choice(ivars), None
            if p < 0.83:
                return "ext_int", None
            if p < 0.93:
                fn = r.choice(["int8", "int16", "int32", "uint8", "uint16", "uint32", "int8be", "int16be",
                               "int32be", "uint8be", "uint16be", "uint32be"])
                a, _ = self.gen_int(d + 1, small=r.random() < 0.6)
                if r.random() < 0.2:
                    a = "filesize - %d" % r.choice([1, 2, 4, 0])
                return "%s(%s)" % (fn, a), None
            return self.module_int(d)
        p = r.random()
        if p < 0.1:
            a, av = self.gen_int(d + 1)
            if av is not None and r.random() < 0.5:
                return "-(%s)" % a, None if av is None else -av
            return "~(%s)" % a, None if av is None else ~av
        ops = ["+", "-", "*", "\\", "%", "&", "|", "^", "<<", ">>"]
        op = r.choice(ops)
        a, av = self.gen_int(d + 1)
        if op in ("\\", "%"):
            # divisor: a non-zero constant, or something that can be zero at run time
            if r.random() < 0.5:
                b, bv = self.ival(r.choice([1, 2, 3, 7, 10, -3])), None
            else:
                b, bv = r.choice(["(filesize - filesize)", "#", "(filesize % 3)", "uint8(0)", "ext_int"]), None
                if b == "#":
                    b = "#" + self.pick_string()[1:] if ids else "filesize"
            return "(%s %s %s)" % (a, op, b), None
        if op in ("<<", ">>"):
            b = r.choice(["0", "1", "3", "8", "31", "32", "63", "64", "65", "(filesize % 70)", "uint8(1)"])
            return "(%s %s %s)" % (a, op, b), None
        b, bv = self.gen_int(d + 1)
        return "(%s %s %s)" % (a, op, b), None

    def module_int(self, d):
        r = self.r
        mods = self.modules
        cands = []
        if "pe" in mods:
            cands += ["pe.number_of_sections", "pe.machine", "pe.entry_point", "pe.characteristics", "pe.timestamp",
                      "pe.sections[%d].virtual_address" % r.randint(0, 3), "pe.sections[%d].raw_data_size" % r.randint(0, 3),
                      "pe.linker_version.major", "pe.subsystem", "pe.size_of_headers", "pe.image_base",
                      "pe.MACHINE_I386", "pe.MACHINE_AMD64", "pe.DLL", "pe.number_of_resources", "pe.overlay.size"]
        if "elf" in mods:
            cands += ["elf.type", "elf.machine", "elf.entry_point", "elf.number_of_sections", "elf.number_of_segments",
                      "elf.sections[%d].type" % r.randint(0, 3), "elf.sections[%d].size" % r.randint(0, 3),
                      "elf.segments[%d].type" % r.randint(0, 2), "elf.ET_EXEC", "elf.EM_X86_64", "elf.sh_offset"]
        if "math" in mods:
            cands += ["math.count(%d)" % r.choice([0, 0x61, 0xff]), "math.count(%d, 0, filesize)" % r.choice([0, 0x20]),
                      "math.mode()", "math.mode(0, %d)" % r.choice([1, 10, 100]),
                      "math.to_number(%s)" % self.gen_bool_simple(), "math.min(%d, filesize)" % r.randint(0, 50),
                      "math.max(filesize, %d)" % r.randint(0, 50), "math.abs(%d - filesize)" % r.randint(0, 50)]
        if "hash" in mods:
            cands += ["hash.crc32(0, filesize)", "hash.crc32(\"abc\")", "hash.checksum32(0, %d)" % r.choice([1, 10, 100]),
                      "hash.crc32(%d, %d)" % (r.randint(0, 10), r.randint(0, 20))]
        if not cands:
            return "filesize", None
        return r.choice(cands), None

    def gen_bool_simple(self):
        return self.r.choice(["true", "false", "filesize > 10", "ext_bool"])

    def gen_float(self, d):
        r = self.r
        if d > 3 or r.random() < 0.5:
            p = r.random()
            if p < 0.35:
                return r.choice(["0.5", "1.0", "2.5", "0.0", "100.0", "3.14159", "7.999"])
            if p < 0.45:
                return "ext_float"
            if "math" in self.modules and p < 0.85:
                rng = r.choice(["0, filesize", "0, 10", "%d, %d" % (r.randint(0, 20), r.randint(0, 100)),
                                "filesize, 1", "-1, 5"])
                return r.choice(["math.entropy(%s)" % rng, "math.mean(%s)" % rng, "math.deviation(%s, 64.0)" % rng,
                                 "math.serial_correlation(%s)" % rng, "math.monte_carlo_pi(%s)" % rng,
                                 "math.entropy(\"%s\")" % r.choice(["abc", "aaaa", ""]),
                                 "math.percentage(%d)" % r.choice([0, 0x61]),
                                 "math.percentage(%d, %s)" % (r.choice([0, 0x20]), rng)])
            a, _ = self.gen_int(d + 1)
            return "(%s + 0.5)" % a
        op = r.choice(["+", "-", "*", "\\"])
        a = self.gen_float(d + 1)
        if r.random() < 0.3:
            b, _ = self.gen_int(d + 1, nonzero=(op == "\\"))
        else:
            b = self.gen_float(d + 1)
            if op == "\\" and r.random() < 0.5:
                b = r.choice(["2.0", "(filesize - filesize)", "0.25"])
        return "(%s %s %s)" % (a, op, b)

    def gen_str(self, d):
        r = self.r
        p = r.random()
        if p < 0.35:
            return r.choice(['"abc"', '"ABC"', '""', '"Hello World"', '"kernel32.dll"', '"\\x00a"', '"a\\tb"',
                             '".text"', '"x.exe"', '"hello"'])
        if p < 0.5:
            return "ext_str"
        svars = [n for n, t in self.loopvars if t == "s"]
        if p < 0.6 and svars:
            return r.choice(svars)
        cands = []
        if "hash" in self.modules:
            cands += ["hash.md5(0, filesize)", "hash.sha1(0, %d)" % r.choice([1, 10, 100]),
                      "hash.sha256(%d, %d)" % (r.randint(0, 10), r.randint(0, 40)), 'hash.md5("abc")']
        if "pe" in self.modules:
            cands += ["pe.sections[%d].name" % r.randint(0, 3)]
        if "elf" in self.modules:
            cands += ["elf.sections[%d].name" % r.randint(0, 3)]
        if cands:
            return r.choice(cands)
        return '"abc"'

    def gen_bool(self, d):
        r = self.r
        ids = self.string_ids()
        self.depth = d
        leaf = d > 3 or r.random() < 0.3
        if not leaf:
            p = r.random()
            if p < 0.35:
                op = r.choice(["and", "or"])
                return "(%s %s %s)" % (self.gen_bool(d + 1), op, self.gen_bool(d + 1))
            if p < 0.45:
                return "not (%s)" % self.gen_bool(d + 1)
            if p < 0.52:
                x = r.random()
                inner = self.gen_int(d + 1)[0] if x < 0.5 else self.gen_float(d + 1) if x < 0.7 else self.gen_bool(
                    d + 1)
                return "defined (%s)" % inner
            if p < 0.66 and ids and not self.in_for_of:
                return self.gen_for_of(d)
            if p < 0.8:
                return self.gen_for_in(d)
            if p < 0.88 and ids:
                return self.gen_of(d)
        p = r.random()
        if p < 0.3 and ids:
            s = self.pick_string()
            q = r.random()
            if q < 0.6:
                return s
            if q < 0.75:
                at, atv = self.gen_int(d + 1, small=True)
                return "%s at %s" % (s, at)
            lo, lov = self.gen_int(d + 1, small=True)
            hi = r.choice(["filesize", "%s + %d" % (lo, r.choice([0, 1, 5, 50])), "100"])
            return "%s in (%s..%s)" % (s, lo, hi)
        if p < 0.38 and self.in_for_of:
            return r.choice(["$", "$ at %s" % self.gen_int(d + 1, small=True)[0],
                             "$ in (0..%s)" % self.gen_int(d + 1, small=True)[0], "# > 1", "@[1] > 5"])
        if p < 0.58:
            if r.random() < 0.7:
                a, _ = self.gen_int(d + 1)
                b, _ = self.gen_int(d + 1)
            else:
                a = self.gen_float(d + 1)
                b = self.gen_float(d + 1) if r.random() < 0.5 else self.gen_int(d + 1)[0]
            return "%s %s %s" % (a, r.choice(["==", "!=", "<", "<=", ">", ">="]), b)
        if p < 0.68:
            a = self.gen_str(d + 1)
            b = self.gen_str(d + 1)
            op = r.choice(["==", "!=", "<", ">", "contains", "icontains", "startswith", "istartswith", "endswith",
                           "iendswith", "iequals"])
            return "%s %s %s" % (a, op, b)
        if p < 0.72:
            a = self.gen_str(d + 1)
            re_ = r.choice(["/abc/", "/^a/", "/b$/", "/[a-z]+\\.exe/i", "/hel+o/", "/^$/", "/\\x00/", "/(x|y)z/s"])
            return "%s matches %s" % (a, re_)
        if p < 0.8 and self.before:
            ru = r.choice(self.before)
            return ru.name if r.random() < 0.7 else "not %s" % ru.name
        if p < 0.85 and self.before:
            return self.gen_rule_of()
        if p < 0.9:
            return self.module_bool(d)
        return r.choice(["true", "false", "ext_bool", "filesize > %d" % r.choice([0, 10, 100, 1000]),
                         "ext_str == \"abc\"", "ext_int > 10", "ext_float < 1.0"])

    def module_bool(self, d):
        r = self.r
        c = []
        if "pe" in self.modules:
            c += ["pe.is_pe", "pe.is_dll()", "pe.is_32bit()", "pe.is_64bit()",
                  'pe.section_index(".text") == %d' % r.randint(0, 2), 'pe.exports("x")',
                  'pe.imports("kernel32.dll")', "pe.characteristics & pe.DLL",
                  'pe.sections[0].name == ".text"', "pe.machine == pe.MACHINE_AMD64"]
        if "elf" in self.modules:
            c += ["elf.type == elf.ET_EXEC", "elf.machine == elf.EM_386", "elf.number_of_sections > 1",
                  'elf.sections[1].name == ".text"', "elf.segments[0].type == elf.PT_LOAD"]
        if "math" in self.modules:
            c += ["math.in_range(math.entropy(0, filesize), 2.0, 8.0)", "math.entropy(0, filesize) >= 3.5",
                  "math.mean(0, filesize) > 64.0"]
        if "hash" in self.modules and self.files:
            f = self.r.choice(self.files)
            lo = r.randint(0, max(0, len(f) - 1))
            n = r.randint(0, max(0, len(f) - lo))
            c += ['hash.md5(0, filesize) == "%s"' % hashlib.md5(f).hexdigest(),
                  'hash.sha1(%d, %d) == "%s"' % (lo, n, hashlib.sha1(f[lo:lo + n]).hexdigest()),
                  'hash.sha256(0, filesize) == "%s"' % hashlib.sha256(f).hexdigest(),
                  "hash.crc32(0, filesize) == 0x%x" % (zlib.crc32(f) & 0xFFFFFFFF),
                  "hash.checksum32(0, filesize) == %d" % (sum(f) & 0xFFFFFFFF)]
        if not c:
            return "true"
        return r.choice(c)

    def gen_rule_of(self):
        r = self.r
        q = r.choice(["any", "all", "none", "1", "2", "50%"])
        if r.random() < 0.5:
            names = [ru.name for ru in r.sample(self.before, min(len(self.before), r.randint(1, 3)))]
        else:
            grps = sorted(set(ru.group for ru in self.before if ru.group != self.ru.group))
            if grps and r.random() < 0.7:
                names = [r.choice(grps) + "_*"]
            else:
                names = [ru.name for ru in r.sample(self.before, 1)]
        return "%s of (%s)" % (q, ", ".join(names))

    def string_set(self):
        r = self.r
        ids = self.string_ids()
        p = r.random()
        if p < 0.3:
            self.used.update(ids)
            return "them", len(ids)
        if p < 0.45:
            self.used.update(ids)
            return "($*)", len(ids)
        if p < 0.6:
            pre = r.choice(ids)[:2]
            m = [i for i in ids if i.startswith(pre)]
            self.used.update(m)
            return "(%s*)" % pre, len(m)
        sel = r.sample(ids, r.randint(1, len(ids)))
        self.used.update(sel)
        return "(%s)" % ", ".join(sel), len(sel)

    def quant(self, n, percent=True, loop=False):
        r = self.r
        p = r.random()
        if not percent and 0.75 <= p < 0.9:
            p = 0.5
        if loop and 0.45 <= p < 0.55:
            p = 0.35  # yara 4.2.3: `for none` loops are always true (docs/YARA.md)
        if p < 0.3:
            return "any"
        if p < 0.45:
            return "all"
        if p < 0.55:
            return "none"
        if p < 0.75:
            return str(r.randint(0, n + 1))
        if p < 0.9:
            return "%d%%" % r.choice([1, 10, 33, 50, 51, 99, 100])
        return "(%s)" % r.choice(["ext_int", "filesize \\ 100", "1 + 1"])

    def gen_of(self, d):
        r = self.r
        s, n = self.string_set()
        ranged = r.random() < 0.3
        q = self.quant(n, not ranged)  # yara 4.2.3: no percentage with `in`
        if ranged:
            lo, _ = self.gen_int(d + 1, small=True)
            return "%s of %s in (%s..%s)" % (q, s, lo, r.choice(["filesize", "100", "%s + 20" % lo]))
        return "%s of %s" % (q, s)

    def gen_for_of(self, d):
        s, n = self.string_set()
        q = self.quant(n, False, True)
        self.in_for_of = True
        body = self.gen_bool(d + 1)
        self.in_for_of = False
        return "for %s of %s : ( %s )" % (q, s, body)

    def gen_for_in(self, d):
        r = self.r
        if len(self.loopvars) >= 3:
            return "true"
        name = "v%d" % len(self.loopvars)
        p = r.random()
        ids = self.string_ids()
        if p < 0.45:
            lo, lov = self.gen_int(d + 1, small=True)
            hi = r.choice(["%s + %d" % (lo, r.randint(0, 5)), "filesize \\ 50", "#", "2", "ext_int"])
            if hi == "#":
                hi = "#" + self.pick_string()[1:] if ids else "3"
            it = "(%s..%s)" % (lo, hi)
            q = self.quant(3, False, True)
            vt = "i"
        elif p < 0.7:
            items = [self.gen_int(d + 2, small=r.random() < 0.5)[0] for _ in range(r.randint(1, 4))]
            it = "(%s)" % ", ".join(items)
            q = self.quant(len(items), False, True)
            vt = "i"
        else:
            arrays = []
            if "pe" in self.modules:
                arrays += [("pe.sections", "pe_sec"), ("pe.data_directories", "pe_dd"), ("pe.version_info", "dict")]
            if "elf" in self.modules:
                arrays += [("elf.sections", "elf_sec"), ("elf.segments", "elf_seg")]
            if not arrays:
                return "for %s %s in (0..2) : ( %s > 0 )" % (self.quant(3, False, True), name, name)
            arr, kind = r.choice(arrays)
            q = self.quant(3, False, True)
            if kind == "dict":
                body = r.choice(['k == "CompanyName"', 'v contains "a"', 'k != ""'])
                return "for %s k, v in %s : ( %s )" % (q, arr, body)
            field = {"pe_sec": ["%s.virtual_address > 0x1000", '%s.name == ".text"', "%s.raw_data_size == 0"],
                     "pe_dd": ["%s.virtual_address == 0", "%s.size > 0"],
                     "elf_sec": ["%s.type == 1", '%s.name == ".text"', "%s.size > 0"],
                     "elf_seg": ["%s.type == elf.PT_LOAD", "%s.flags & elf.PF_X"]}[kind]
            return "for %s %s in %s : ( %s )" % (q, name, arr, r.choice(field) % name)
        self.loopvars.append((name, vt))
        body = self.gen_bool(d + 1)
        self.loopvars.pop()
        return "for %s %s in %s : ( %s )" % (q, name, it, body)

    # -- output
    def render_rule(self, ru):
        lines = []
        head = ""
        if ru.private:
            head += "private "
        if ru.glob:
            head += "global "
        head += "rule " + ru.name
        if ru.tags:
            head += " : " + " ".join(ru.tags)
        lines.append(head + " {")
        if ru.meta:
            lines.append("  meta:")
            for k, v in ru.meta:
                lines.append("    %s = %s" % (k, v))
        if ru.strings:
            lines.append("  strings:")
            for ident, s in ru.strings:
                lines.append("    %s = %s" % (ident, s.source(self)))
        lines.append("  condition:")
        lines.append("    " + ru.cond)
        lines.append("}")
        return "\n".join(lines)

    def write(self, outdir):
        os.makedirs(outdir, exist_ok=True)
        self.make_externals()
        self.make_rules()
        self.make_files(outdir)
        for i, ru in enumerate(self.rules):
            ru.cond = self.cond_for(ru, self.rules[:i])
            if ru.glob:  # keep global rules mostly true, or nothing of the namespace matches
                ru.cond = "(%s) or filesize %s %d" % (ru.cond, self.r.choice([">", "<"]), self.r.choice([5, 100, 400]))
        for i, ru in enumerate(self.other):
            ru.cond = self.cond_for(ru, self.other[:i])
        imports = "".join('import "%s"\n' % m for m in self.modules)
        with open(os.path.join(outdir, "rules.yar"), "w") as f:
            f.write("// seed %d\n" % self.seed + imports + "\n")
            for ru in self.rules:
                f.write(self.render_rule(ru) + "\n\n")
        with open(os.path.join(outdir, "other.yar"), "w") as f:
            f.write(imports + "\n")
            for ru in self.other:
                f.write(self.render_rule(ru) + "\n\n")
        with open(os.path.join(outdir, "defines"), "w") as f:
            for k, v in self.externals.items():
                f.write("%s=%s\n" % (k, v))
        with open(os.path.join(outdir, "loose"), "w") as f:
            for ru in self.rules + self.other:
                for ident, s in ru.strings:
                    if s.loose:
                        f.write("%s %s\n" % (ru.name, ident))


def normalise(outdir, path):
    """Prints yara's output in a comparable form: one record per rule line
    (with its string lines), records sorted; the data and length of loose
    strings replaced by '*'."""
    loose = set()
    with open(os.path.join(outdir, "loose")) as f:
        for line in f:
            rule, ident = line.split()
            loose.add((rule, ident))
    records = []
    cur = None
    with open(path, "rb") as f:
        for raw in f.read().split(b"\n"):
            line = raw.decode("latin-1")
            if not line:
                continue
            if line.startswith("0x") and cur is not None:
                parts = line.split(":", 3)
                rule = cur[0].split()[0].split(":")[-1]
                ident = parts[1] if parts[1].startswith("$") else parts[2]
                if (rule, ident) in loose:
                    line = parts[0] + ":" + ident + ": *"
                cur.append(line)
                continue
            cur = [line]
            records.append(cur)
    records.sort()
    for rec in records:
        sys.stdout.write("\n".join(rec) + "\n")


def main():
    args = sys.argv[1:]
    if args and args[0] == "--normalise":
        normalise(args[1], args[2])
        return
    nrules, nfiles = 24, 14
    if "--rules" in args:
        i = args.index("--rules")
        nrules = int(args[i + 1])
        del args[i:i + 2]
    if "--files" in args:
        i = args.index("--files")
        nfiles = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 2:
        sys.stderr.write(__doc__)
        sys.exit(2)
    Gen(int(args[0]), nrules, nfiles).write(args[1])


if __name__ == "__main__":
    main()
