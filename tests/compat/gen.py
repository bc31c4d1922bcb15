#!/usr/bin/env python3
"""Khiên — tests/compat: a seeded generator of ClamAV databases and files.

    gen.py --seed N --out DIR [--sigs K] [--files M]

writes, deterministically for a seed,

    DIR/db/gen.ndb   body signatures: every hex construct and offset form
    DIR/db/gen.hdb   MD5 (and SHA-256, ClamAV reads the type from the length)
    DIR/db/gen.hsb   SHA-1 / SHA-256 (and MD5) hash signatures, sizes fixed or *
    DIR/db/gen.fp    allow-listed files by MD5
    DIR/db/gen.sfp   allow-listed files by SHA-1 / SHA-256
    DIR/db/gen.ign2  signature names to leave out
    DIR/files/*      the files to scan: random bytes with planted matches
                     (and near misses), a few zip and tar.gz archives
    DIR/manifest.tsv what was planted where, to explain a difference

clamscan_diff.sh scans DIR/files with clamscan and khien and compares.

Every signature is valid for clamscan 1.4 (one bad line makes clamscan
refuse the whole database) and avoids the cases where clamscan is known to
misbehave, so that any difference is a difference of khien (see
docs/SIGNATURES.md, "Known differences", for what is left out and why):
  - each part (the pieces between `*` and `{n-m}` jumps) holds a run of at
    least three fixed bytes: clamscan needs two for its Aho-Corasick trie and
    three for a plain literal;
  - a part whose first three tokens are not fixed bytes is matched partly
    backwards by clamscan ("prefix"); such parts get no consuming (B) (L) (W)
    or negated specials: clamscan reads before the buffer with them (a crash
    at file start) and cannot match CRLF for (L) backwards;
  - `*` and ranges never appear inside alternatives, negated alternatives are
    fixed strings of one length, `[x-y]` sits at a part's edge with a single
    byte and at most 32, `{n}` with n < 128 only before the first range;
  - a hash signature with size `*` carries MinFL 73, as clamscan requires.

Files are binary for clamscan: a NUL, 0x02 pair at an even offset in the first
bytes (otherwise clamscan sees text, normalises it and matches more), and they
never contain the magic of a format clamscan would open (MZ, PK, <html, %PDF,
mail headers, ...), checked on the final bytes.
"""

import argparse
import hashlib
import io
import os
import random
import re
import sys
import tarfile
import zipfile

# ---- Byte classes (as clamscan 1.4 defines them; see docs/SIGNATURES.md) ----

B_ANY = set(b'\n\r "\'-./<=>@_')         # (B) in the middle: consumes one of these
B_LEFT = set(b' -./<@_')                  # (B) first in a part: the byte before
B_RIGHT = set(b'\n\r "\'-/=>_')           # (B) last in a part: the byte after
ALNUM = set(b'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz')
NON_ALNUM = set(range(256)) - ALNUM
ALL = set(range(256))

# Filler: any byte but the first bytes of the tokens clamscan's file-type
# detection looks for anywhere in a file.
RISKY = set(b'<MP%7RI\x60\xef\xa3\x01\x0a\x55\xaa')
FILLER = sorted(ALL - RISKY)
# Bytes that signatures are made of: mostly printable (so that (B) and (W)
# see both kinds around them), some binary.
PRINT = sorted(set(range(0x21, 0x7f)) - RISKY)
SIGBYTES = PRINT * 3 + FILLER

# Magic at file start (clamscan's built-in file types, offset 0).
START_MAGIC = [bytes.fromhex(h) for h in (
    '0000000c6a5020200d0a870a 000001b3 000001ba 1f8b 23407e5e 252150532d41646f6265 28546869732066696c65 '
    '2e524d46 3e46726f6d20 424d 425a68 446174653a20 44656c6976657265642d546f 44656c69766572792d64617465 '
    '456e76656c6f70652d746f 466f723a20 46726f6d20 46726f6d3a20 474946 48692e20 494433 49545346 4d5a '
    '4d6573736167652d49 4f676753 504b0304 504b3030 52494646 52494658 52617221 5265636569766564 '
    '52657475726e2d 535a4444 5375626a6563743a20 546f3a20 582d 60ea 626567696e20 763a0a 763a0d0a '
    '789f3e22 7f454c46 89504e47 b6b9acaefeffffff d0cf11e0 ffd8ff fffb90 5349502d48495420 3c2540 7b5c7274 '
    '5b616c69617365735d cefaedfe cffaedfe feedface feedfacf cafebabe 377abcaf271c 303730373031 '
    '303730373032 303730373037 71c7 c771 255044462d 53594d43 377f0682 377f0683 53514c697465 d9d505f9 '
    '5a5753 435753 465753 4d53434600000000 78617221 fd377a585a00 4c000000 7b20224d61676963 '
    '48575020446f63 efbbbf 3c3f786d6c 45474741 4d4d 49492a00 fffe feff 4552').split()]
# Tokens clamscan looks for anywhere (embedded executables, archives, HTML,
# PDF, mail): a file containing one is opened as that format.
EMBEDDED = re.compile(
    rb'MZ|PK\x03\x04|PK00|Rar!|\x60\xea|\xa3\x48\x4b\xbe|\xef\xbe\xad\xde|InstallShield|%PDF|%pdf|'
    rb'7z\xbc\xaf|MSCF|\x01CD001|<[A-Za-z%?]|(?i:\n(from|mime-version|message-id|received|content-type|delivered-to):)|'
    rb'koly|\x19\x04\x00\x10|H\+\x00\x04|HX\x00\x05|EFI PART')


def looks_typed(data):
    """Would clamscan open these bytes as some format other than binary data?"""
    if any(data.startswith(m) for m in START_MAGIC):
        return True
    if len(data) > 511 and data[510:512] == b'\x55\xaa':
        return True
    if data[257:262] == b'ustar':
        return True
    return EMBEDDED.search(data) is not None


# clamscan's text detection (libclamav/textdet.c): T = text, F = never in text
_F = set(range(0, 7)) | {0x0b, 0x0e, 0x0f} | set(range(0x10, 0x1b)) | set(range(0x1c, 0x20)) | {0x7f}


def looks_text(data):
    """Would clamscan take these bytes for text (and also scan them
    normalised)? Its checks over the first 1024 bytes: ASCII, UTF-8, then a
    UTF-16 test without a BOM that fails only on a pair (0, F)."""
    buf = data[:1024]
    if not any(c in _F for c in buf):
        return True  # ASCII or (near enough) UTF-8
    if buf[:2] in (b'\xff\xfe', b'\xfe\xff'):
        return True
    for i in range(2, len(buf) - 1, 2):
        c = buf[i] * 256 + buf[i + 1]
        if c < 128 and c in _F:
            return False
    return True


def hx(bs):
    return bs.hex()


# ---- Signatures -------------------------------------------------------------
#
# A signature is a list of parts joined by jumps. A part is
#   left  : None | ('ch', tok, lo, hi) | ('sp', kind)      zero-width / look-behind
#   body  : list of elements
#   right : None | ('ch', tok, lo, hi) | ('sp', kind, neg)
# Elements: ('lit', bytes) ('any',) ('nib', val, mask) ('alt', [alternative...])
# ('nalt', [bytes...]) ('gap', n) inline {n}, ('sp', kind, neg) consuming.
# An alternative is a list of ('lit', b) ('any',) ('nib', v, m) ('alt', ...).
# A jump is ('star',) or ('range', text, lo, hi) with hi None for open.


class Sig:
    def __init__(self, name, parts, jumps, offset, flevel=''):
        self.name, self.parts, self.jumps, self.offset = name, parts, jumps, offset
        self.flevel = flevel  # ':MinFL[:MaxFL]' or ''

    def hex(self):
        out = []
        for i, p in enumerate(self.parts):
            if i:
                j = self.jumps[i - 1]
                out.append('*' if j[0] == 'star' else j[1])
            out.append(part_hex(p))
        return ''.join(out)

    def line(self):
        return '%s:0:%s:%s%s' % (self.name, self.offset[0], self.hex(), self.flevel)


def tok_hex(t):
    if t[0] == 'lit':
        return hx(t[1])
    if t[0] == 'any':
        return '??'
    if t[0] == 'nib':
        v, m = t[1], t[2]
        return ('%x?' % (v >> 4)) if m == 0xf0 else ('?%x' % (v & 15))
    if t[0] == 'alt':
        return '(' + '|'.join(''.join(tok_hex(x) for x in a) for a in t[1]) + ')'
    if t[0] == 'nalt':
        return '!(' + '|'.join(hx(a) for a in t[1]) + ')'
    if t[0] == 'gap':
        return '{%d}' % t[1]
    if t[0] == 'sp':
        return ('!' if t[2] else '') + '(' + t[1] + ')'
    raise ValueError(t)


def char_like(t):
    """Is t one token of clamscan's pattern that its prefilter accepts (a byte,
    ??, a nibble, a class of single bytes), rather than a multi-byte element?"""
    if t[0] in ('any', 'nib', 'gap', 'lit'):
        return True
    if t[0] == 'alt':
        return all(len(a) == 1 and a[0][0] == 'lit' and len(a[0][1]) == 1 for a in t[1])
    if t[0] == 'nalt':
        return len(t[1][0]) == 1
    return False


def tok_len(t):
    """(min, max) bytes an element matches."""
    if t[0] == 'lit':
        return len(t[1]), len(t[1])
    if t[0] in ('any', 'nib'):
        return 1, 1
    if t[0] == 'gap':
        return t[1], t[1]
    if t[0] == 'nalt':
        return len(t[1][0]), len(t[1][0])
    if t[0] == 'alt':
        ls = [tuple(map(sum, zip(*[tok_len(x) for x in a]))) for a in t[1]]
        return min(l[0] for l in ls), max(l[1] for l in ls)
    return 0, 2


def expand(t):
    """The alternatives of t as flat lists of byte sets."""
    if t[0] == 'lit':
        return [[{c} for c in t[1]]]
    if t[0] == 'any':
        return [[ALL]]
    if t[0] == 'nib':
        return [[{c for c in range(256) if c & t[2] == t[1] & t[2]}]]
    if t[0] == 'alt':
        out = []
        for a in t[1]:
            seqs = [[]]
            for x in a:
                seqs = [s + e for s in seqs for e in expand(x)]
            out.extend(seqs)
        return out
    return [[ALL] * tok_len(t)[0]]


def derivative(t):
    """Does an alternative of t possibly match a prefix of another one?"""
    if t[0] != 'alt':
        return False
    alts = expand(t)
    for x in alts:
        for y in alts:
            if len(x) < len(y) and all(a & b for a, b in zip(x, y)):
                return True
    return False


def var_len(t):
    lo, hi = tok_len(t)
    return lo != hi


def part_hex(p):
    left, body, right = p
    s = ''
    if left and left[0] == 'ch':
        s += tok_hex(left[1]) + ('[%d-%d]' % (left[2], left[3]))
    elif left:
        s += '(' + left[1] + ')'
    s += ''.join(tok_hex(t) for t in body)
    if right and right[0] == 'ch':
        s += ('[%d-%d]' % (right[2], right[3])) + tok_hex(right[1])
    elif right:
        s += ('!' if right[2] else '') + '(' + right[1] + ')'
    return s


class Gen:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.seed = seed

    def byte(self, pool=None):
        return self.rng.choice(pool if pool is not None else SIGBYTES)

    def lit(self, lo, hi, first_nonzero=False):
        n = self.rng.randint(lo, hi)
        b = bytearray(self.byte() for _ in range(n))
        if first_nonzero and b[0] == 0:
            b[0] = 0x41 + self.rng.randrange(26)
        return ('lit', bytes(b))

    def nib(self):
        v = self.byte(PRINT)
        return ('nib', v, self.rng.choice((0xf0, 0x0f)))

    def alt(self, generic, inline_ok=False):
        r = self.rng
        n = r.randint(2, 4)
        if not generic:
            ln = r.choice((1, 1, 2, 3))
            alts = set()
            while len(alts) < n:
                alts.add(bytes(self.byte() for _ in range(ln)))
            return ('alt', [[('lit', a)] for a in sorted(alts)])
        alts = []
        for _ in range(n):
            kind = r.randrange(6)
            if kind == 0:
                a = [self.lit(1, 3)]
            elif kind == 1:
                a = [self.lit(1, 2), ('any',)]
            elif kind == 2:
                a = [self.nib(), self.lit(1, 2)]
            elif kind == 3:
                a = [self.lit(1, 2), self.nib()]
            elif kind == 3 and r.random() < 0.5:  # one nibble: (4?|5a) is a class
                a = [self.nib()]
            elif kind == 4:  # nested alternatives
                a = [self.lit(1, 1), ('alt', [[self.lit(1, 2)], [self.lit(1, 2)]])]
            else:
                a = [self.lit(2, 4)]
            if inline_ok and r.random() < 0.1:  # an inline {n} is n ?? here too
                a = [self.lit(1, 2), ('gap', r.randint(1, 3)), self.lit(1, 2)]
            alts.append(a)
        return ('alt', alts)

    def ch_tok(self):
        # the byte of x[n-m] / [n-m]x: exact or a low nibble; clamscan skips
        # the check for a high nibble (a?), as for ??
        if self.rng.random() < 0.75:
            return ('lit', bytes([self.byte()]))
        return ('nib', self.byte(PRINT), 0x0f)

    def nalt(self):
        ln = self.rng.choice((1, 1, 2, 3))
        n = self.rng.randint(1, 3)
        alts = set()
        while len(alts) < n:
            alts.add(bytes(self.byte() for _ in range(ln)))
        return ('nalt', sorted(alts))

    def special(self):
        return ('sp', self.rng.choice('BLW'), self.rng.random() < 0.3)

    def wild_elem(self, inline_ok):
        r = self.rng.randrange(7 if inline_ok else 6)
        if r == 0:
            return ('any',)
        if r == 1:
            return self.nib()
        if r == 2:
            return self.alt(False)
        if r == 3:
            return self.alt(True, inline_ok)
        if r == 4:
            return self.nalt()
        if r == 5:
            return ('any',)
        return ('gap', self.rng.choice((1, 2, 3, 5, 17, 127)))

    def lead_elem(self, inline_ok):
        # clamscan matches the elements before a part's first fixed run
        # backwards, and there it never matches alternatives of which one
        # is a prefix of another
        while True:
            e = self.wild_elem(inline_ok)
            if not derivative(e):
                return e

    def part(self, inline_ok, first, last):
        """One part. inline_ok: {n} may be used (no range jump before it)."""
        r = self.rng
        anchored = r.random() < 0.6
        body = []
        if anchored:
            body.append(self.lit(3, 6, first_nonzero=True))
        else:
            # clamscan's prefilter needs two single-byte tokens before the
            # first multi-byte element of a part (leading ones are skipped)
            body.append(self.lead_elem(inline_ok))
            if r.random() < 0.3:
                e = self.lead_elem(inline_ok)
                if char_like(body[0]) and not char_like(e):
                    e = ('any',)
                body.append(e)
            body.append(self.lit(3, 5, first_nonzero=True))
        for _ in range(r.randint(0, 3)):
            c = r.randrange(10)
            if c < 5:
                body.append(self.wild_elem(inline_ok))
            elif c < 8 and anchored:
                body.append(self.special())
            else:
                body.append(self.lit(1, 4))
        if r.random() < 0.5 or body[-1][0] == 'sp':
            # a special last in a part would look after it, not consume
            body.append(self.lit(1, 4))
        # merge adjacent literals (a fixed run, as ClamAV sees it)
        merged = []
        for t in body:
            if t[0] == 'lit' and merged and merged[-1][0] == 'lit':
                merged[-1] = ('lit', merged[-1][1] + t[1])
            else:
                merged.append(t)
        body = merged
        left = right = None
        c = r.random()
        if c < 0.15:
            left = ('sp', r.choice('BLW'))
        elif c < 0.25 and first:
            tok = self.ch_tok()
            lo = r.randint(0, 8)
            left = ('ch', tok, lo, r.randint(lo, min(32, lo + 6)))
        c = r.random()
        if c < 0.15:
            right = ('sp', r.choice('BLW'), r.random() < 0.3)
        elif c < 0.25 and last:
            tok = self.ch_tok()
            lo = r.randint(0, 8)
            right = ('ch', tok, lo, r.randint(lo, min(32, lo + 6)))
        return (left, body, right)

    def jump(self):
        r = self.rng
        c = r.randrange(9)
        if c < 3:
            return ('star',)
        if c == 3:
            n = r.randint(0, 40)
            return ('range', '{-%d}' % n, 0, n)
        if c == 4:
            n = r.randint(1, 30)
            return ('range', '{%d-}' % n, n, None)
        if c == 5:
            lo = r.randint(1, 20)
            hi = lo + r.randint(0, 30)
            return ('range', '{%d-%d}' % (lo, hi), lo, hi)
        if c == 6:
            n = r.choice((128, 130, 200, 300))
            return ('range', '{%d}' % n, n, n)
        if c == 7:
            lo = r.randint(100, 300)
            return ('range', '{%d-%d}' % (lo, lo + 60), lo, lo + 60)
        # clamscan reads a range whose maximum is 0 as unbounded
        return r.choice([('range', '{0}', 0, None), ('range', '{-0}', 0, None), ('range', '{3-0}', 3, None)])

    def offset(self):
        r = self.rng
        c = r.randrange(10)
        if c < 4:
            return ('*',)
        if c == 4:
            n = r.choice((0, 0, 1, 4, 7, 64, 100, 300))
            return ('%d' % n, 'abs', n, 0)
        if c == 5:
            n = r.choice((0, 4, 10, 50, 200))
            m = r.choice((0, 1, 5, 40, 500))
            return ('%d,%d' % (n, m), 'abs', n, m)
        if c in (6, 7):
            n = r.choice((8, 16, 30, 100, 500))
            return ('EOF-%d' % n, 'eof', n, 0)
        n = r.choice((20, 60, 300))
        m = r.choice((1, 10, 50))
        return ('EOF-%d,%d' % (n, m), 'eof', n, m)

    def sig(self, idx, like=None):
        """A signature; `like` (another one) gives it the same first part,
        so that the matcher sees families of patterns sharing a prefix (a
        Vectorscan defect showed only there)."""
        r = self.rng
        nparts = r.choice((1, 1, 1, 2, 2, 3)) if like is None else r.choice((2, 3))
        parts, jumps = [], []
        inline_ok = True
        for i in range(nparts):
            if i:
                j = self.jump()
                jumps.append(j)
                if j[0] == 'range':
                    inline_ok = False
            if i == 0 and like is not None:
                left, body, _ = like.parts[0]
                parts.append((left, body, None))
            else:
                parts.append(self.part(inline_ok, i == 0, i == nparts - 1))
        # a part with a left special or a look-behind byte after a jump must
        # be able to see a gap byte: forbid jumps that may be empty before it
        for i, j in enumerate(jumps):
            if j[0] == 'range' and j[3] is not None and j[3] < 2 and (parts[i + 1][0] or parts[i][2]):
                jumps[i] = ('star',)
        # clamscan fixes a part's end with the first alternative that
        # completes it, before looking at the next part: before a bounded
        # jump, no alternatives of which one is a prefix of another
        for i, j in enumerate(jumps):
            if j[0] == 'range' and j[3] is not None:
                left, body, right = parts[i]
                parts[i] = (left, [('any',) if derivative(t) else t for t in body], right)
        # inline {n} only before the first range jump, as clamscan splits at
        # every brace after that one
        seen_range = False
        for i, p in enumerate(parts):
            if i and jumps[i - 1][0] == 'range':
                seen_range = True
            if seen_range and any(t[0] == 'gap' for t in p[1]):
                parts[i] = (p[0], [t if t[0] != 'gap' else ('any',) for t in p[1]], p[2])
        off = self.offset() if like is None else ('*',)
        if off[0] != '*':
            # clamscan checks an offset against the part's start computed
            # with the longest leading elements and an unsigned subtraction:
            # near the file start a variable-length lead makes it skip the
            # match. Keep the elements before the first fixed run one length.
            left, body, right = parts[0]
            lead = 0
            while body[lead][0] != 'lit':
                lead += 1
            body = [('any',) if i < lead and var_len(t) else t for i, t in enumerate(body)]
            if len(body) > 1 and char_like(body[0]) and not char_like(body[1]):
                body[1] = ('any',)  # the prefilter rule again (see part())
            parts[0] = (left, body, right)
        # functionality levels: loaded (1-210 or open) or left out (max < 210);
        # khien is at 210, clamscan 1.4.6 at 216: levels 211-216 differ
        fl = r.choice([''] * 12 + [':1', ':51', ':210', ':99:300', '::99', ':20:200', ':300'])
        return Sig('Kh.S%d.N%03d' % (self.seed, idx), parts, jumps, off, fl)


# ---- Instances: bytes that match (or nearly match) a signature --------------

class Inst:
    """A byte string with the offset of the signature's start in it and the
    constraints on the byte before / after (None: any)."""

    def __init__(self):
        self.b = bytearray()
        self.start = None
        self.before = None   # (set of bytes, file_start_ok)
        self.after = None    # (set of bytes, eof_ok)


class Mutation(Exception):
    pass


def elem_bytes(g, t, miss):
    """Bytes for one element; miss asks for a near miss of this element."""
    r = g.rng
    if t[0] == 'lit':
        b = bytearray(t[1])
        if miss:
            i = r.randrange(len(b))
            b[i] ^= 1 << r.randrange(8)
        return bytes(b)
    if t[0] == 'any':
        return bytes([r.choice(FILLER)])
    if t[0] == 'nib':
        v, m = t[1], t[2]
        x = (v & m) | (r.randrange(256) & ~m & 0xff)
        if miss:
            x ^= 0x10 if m == 0xf0 else 0x01
        return bytes([x])
    if t[0] == 'alt':
        a = r.choice(t[1])
        return b''.join(elem_bytes(g, x, miss and i == 0) for i, x in enumerate(a))
    if t[0] == 'nalt':
        ln = len(t[1][0])
        if miss:
            return r.choice(t[1])
        while True:
            c = bytes(r.choice(FILLER) for _ in range(ln))
            if c not in t[1]:
                return c
    if t[0] == 'gap':
        n = t[1] + (r.choice((-1, 1)) if miss else 0)
        return bytes(r.choice(FILLER) for _ in range(max(0, n)))
    if t[0] == 'sp':
        kind, neg = t[1], t[2]
        ok = {'B': B_ANY, 'W': NON_ALNUM, 'L': None}[kind]
        if kind == 'L':
            good = neg != miss
            if not good:  # a line break
                return r.choice((b'\n', b'\r\n'))
            return bytes([r.choice(sorted(set(PRINT) - {0x0d}))])
        want_in = (not neg) != miss
        pool = sorted(ok if want_in else ALL - ok)
        return bytes([r.choice(pool)])
    raise ValueError(t)


def left_ok_set(kind):
    return {'B': B_LEFT, 'L': {0x0a}, 'W': NON_ALNUM}[kind]


def right_ok_set(kind):
    return {'B': B_RIGHT, 'L': {0x0a}, 'W': NON_ALNUM}[kind]


def choose(pool_set, g, want):
    pool = sorted(pool_set if want else ALL - pool_set)
    return g.rng.choice(pool)


def build(g, s, miss):
    """An instance of s. miss: None for a true match, else the kind of near
    miss: 'byte' (one element wrong), 'gap' (a jump out of range),
    'left'/'right' (an edge condition broken)."""
    r = g.rng
    inst = Inst()
    nparts = len(s.parts)
    target_elem = None
    if miss == 'byte':
        cands = [(pi, ei) for pi, p in enumerate(s.parts) for ei, t in enumerate(p[1])
                 if t[0] in ('lit', 'nib', 'nalt', 'sp', 'gap') or (t[0] == 'alt' and t[1][0][0][0] == 'lit')]
        target_elem = r.choice(cands)
    gap_miss = None
    if miss == 'gap':
        cands = [i for i, j in enumerate(s.jumps) if j[0] == 'range' and (j[2] > 0 or j[3] is not None)]
        if not cands:
            raise Mutation()
        gap_miss = r.choice(cands)
    for pi, (left, body, right) in enumerate(s.parts):
        if pi:
            j = s.jumps[pi - 1]
            need = 0
            if s.parts[pi - 1][2] and s.parts[pi - 1][2][0] == 'ch':
                prev = s.parts[pi - 1][2]
                need = prev[3] + 2
            if left and left[0] == 'ch':
                need = max(need, left[3] + 2)
            if left or s.parts[pi - 1][2]:
                need = max(need, 1)
            if left and s.parts[pi - 1][2]:
                need = max(need, 2)
            if j[0] == 'star':
                d = max(need, r.choice((0, 1, 3, 10, 40, 200)))
            else:
                lo, hi = j[2], j[3]
                if gap_miss == pi - 1:
                    d = lo - 1 if (hi is None or (lo > 0 and r.random() < 0.5)) else hi + 1
                    if d < need:
                        raise Mutation()
                else:
                    top = hi if hi is not None else lo + 60
                    if top < need:
                        raise Mutation()
                    d = r.randint(max(lo, need), top)
            # the gap is measured from the end of the previous part's core (its
            # right look-ahead byte lies inside) to the start of this core
            gstart = len(inst.b)
            inst.b += bytes(r.choice(FILLER) for _ in range(d))
            gend = len(inst.b)
            prev_right = s.parts[pi - 1][2]
            if prev_right and prev_right[0] == 'ch':
                dist = r.randint(prev_right[2], prev_right[3])
                inst.b[gstart + dist] = elem_bytes(g, prev_right[1], False)[0]
            elif prev_right:
                kind, neg = prev_right[1], prev_right[2]
                inst.b[gstart] = choose(right_ok_set(kind), g, not neg)
                if kind == 'L' and neg and inst.b[gstart] == 0x0d:
                    inst.b[gstart] = 0x20
            if left and left[0] == 'ch':
                dist = r.randint(left[2], left[3])
                inst.b[gend - 1 - dist] = elem_bytes(g, left[1], False)[0]
            elif left:
                inst.b[gend - 1] = choose(left_ok_set(left[1]), g, True)
        else:
            if left and left[0] == 'ch':
                dist = r.randint(left[2], left[3])
                if miss == 'left':
                    dist = left[3] + 1
                tokb = elem_bytes(g, left[1], miss == 'left' and r.random() < 0.5)
                inst.b += tokb + bytes(r.choice(FILLER) for _ in range(dist))
            elif left:
                inst.before = (left_ok_set(left[1]), miss != 'left')
                if miss == 'left':
                    inst.before = (ALL - left_ok_set(left[1]), False)
            inst.start = len(inst.b)
        for ei, t in enumerate(body):
            inst.b += elem_bytes(g, t, target_elem == (pi, ei))
        if pi == nparts - 1:
            if right and right[0] == 'ch':
                dist = r.randint(right[2], right[3])
                if miss == 'right':
                    dist = right[3] + 1
                inst.b += bytes(r.choice(FILLER) for _ in range(dist))
                inst.b += elem_bytes(g, right[1], False)
            elif right:
                kind, neg = right[1], right[2]
                good = miss != 'right'
                ok = right_ok_set(kind)
                if good != neg:   # next byte in the set (or end of file)
                    inst.after = (ok, True)
                else:
                    inst.after = (ALL - ok - {0x0d}, False)
    if (miss == 'left' and not s.parts[0][0]) or (miss == 'right' and not s.parts[-1][2]):
        raise Mutation()
    return inst


# ---- Files -------------------------------------------------------------------

HEADER = b'KH\x00\x02'


class FileGen:
    def __init__(self, g, sigs):
        self.g, self.sigs = g, sigs

    def place(self, size, plants):
        """Lays out the planted instances in `size` random bytes.
        plants: list of (sig, inst, kind). Returns (bytes, manifest rows) or None."""
        r = self.g.rng
        data = bytearray(r.choice(FILLER) for _ in range(size))
        data[0:4] = HEADER
        used = [(0, 4)]
        header = True  # the file still starts with HEADER (binary marker)
        rows = []

        def free(a, b):
            return all(b <= x or a >= y for x, y in used)

        for s, inst, kind in plants:
            n = len(inst.b)
            off = s.offset
            fixed = None
            if off[0] != '*':
                base, shift = off[2], off[3]
                pick = r.choice((-1, shift + 1)) if kind == 'offset' else r.randint(0, shift)
                if off[1] == 'abs':
                    fixed = base + pick - inst.start
                else:
                    fixed = size - base + pick - inst.start
            for _ in range(30):
                if fixed is not None:
                    p = fixed
                elif inst.after and inst.after[1] and r.random() < 0.25:
                    p = size - n
                elif (not inst.before or inst.before[1]) and r.random() < 0.08:
                    p = 0
                else:
                    p = r.randint(4, max(4, size - n - 2))
                ok = 0 <= p and p + n <= size and (p == 0 or p >= 4)
                # clamscan accepts a match cut by the end of the file when the
                # signature has (B) (L) (W) or alternatives of different lengths
                # (its minimum length counts them short): near misses stay clear
                if ok and kind not in ('match', 'offset') and p + n + 2 > size:
                    ok = False
                if ok and p == 0 and inst.before and not inst.before[1]:
                    ok = False
                if ok and p + n == size and inst.after and not inst.after[1]:
                    ok = False
                lo = p - 1 if (inst.before and p > 0) else p
                hi = p + n + 1 if (inst.after and p + n < size) else p + n
                if ok and p == 0:
                    ok = header and free(4, hi)
                elif ok:
                    ok = free(lo, hi)
                if ok or fixed is not None:
                    break
            if not ok:
                continue
            if p == 0:
                used.remove((0, 4))
                header = False
            data[p:p + n] = inst.b
            used.append((lo, hi))
            if inst.before and p > 0:
                data[p - 1] = r.choice(sorted(inst.before[0]))
            if inst.after and p + n < size:
                data[p + n] = r.choice(sorted(inst.after[0]))
            rows.append((s.name, kind, p + inst.start))
        # a file that starts with a planted match still needs its binary marker
        if not header:
            for q in range(2, min(size - 2, 1000), 2):
                if free(q, q + 2):
                    data[q:q + 2] = b'\x00\x02'
                    used.append((q, q + 2))
                    break
            else:
                return None
        return bytes(data), rows


def gen_files(g, sigs, nfiles, outdir):
    r = g.rng
    fg = FileGen(g, sigs)
    manifest = []
    files = {}
    kinds = ['match'] * 6 + ['byte', 'byte', 'gap', 'left', 'right', 'offset']
    for fi in range(nfiles):
        for attempt in range(30):
            size = r.choice((64, 200, 600, 1500, 4000, 9000))
            plants = []
            for _ in range(r.randint(1, 6)):
                s = r.choice(sigs)
                kind = r.choice(kinds)
                if kind == 'offset' and s.offset[0] == '*':
                    kind = 'byte'
                try:
                    inst = build(g, s, None if kind in ('match', 'offset') else kind)
                except Mutation:
                    continue
                if len(inst.b) > size - 8:
                    continue
                plants.append((s, inst, kind))
            res = fg.place(size, plants)
            if res is None:
                continue
            data, rows = res
            if looks_typed(data) or looks_text(data):
                continue
            break
        else:
            data, rows = HEADER + bytes(r.choice(FILLER) for _ in range(60)), []
        name = 'f%03d.bin' % fi
        files[name] = data
        for row in rows:
            manifest.append((name,) + row)
    return files, manifest


def archives(g, files, manifest):
    """A few zip and tar.gz files holding some of the generated files.
    clamscan also scans the tar inside a .tar.gz as one file (khien reads
    the members only), so a .tar.gz holds files with nothing planted: a
    match across a member's edge or at a tar offset would differ."""
    r = g.rng
    names = sorted(files)
    planted = {row[0] for row in manifest}
    clean = [n for n in names if n not in planted] or names[:1]
    out = {}
    for k in range(4):
        pool = names if k % 2 == 0 else clean
        members = r.sample(pool, min(len(pool), r.randint(1, 3)))
        if k % 2 == 0:
            bio = io.BytesIO()
            comp = zipfile.ZIP_DEFLATED if k == 0 else zipfile.ZIP_STORED
            with zipfile.ZipFile(bio, 'w', comp) as z:
                for m in members:
                    zi = zipfile.ZipInfo(m, date_time=(2024, 1, 1, 0, 0, 0))
                    zi.compress_type = comp
                    z.writestr(zi, files[m])
            out['a%d.zip' % k] = (bio.getvalue(), members)
        else:
            bio = io.BytesIO()
            with tarfile.open(fileobj=bio, mode='w:gz', format=tarfile.USTAR_FORMAT) as t:
                for m in members:
                    ti = tarfile.TarInfo(m)
                    ti.size = len(files[m])
                    ti.mtime = 1704067200
                    t.addfile(ti, io.BytesIO(files[m]))
            # gzip stores a time stamp: zero it for determinism
            raw = bytearray(bio.getvalue())
            raw[4:8] = b'\0\0\0\0'
            out['a%d.tar.gz' % k] = (bytes(raw), members)
    return out


# ---- Hash databases, allow-lists, ignore list ---------------------------------

def hash_dbs(g, files, arch, manifest, sigs):
    r = g.rng
    hdb, hsb, fp, sfp, ign = [], [], [], [], []
    names = sorted(files)
    n = 0
    for name in names:
        if r.random() > 0.3:
            continue
        data = files[name]
        n += 1
        hname = 'Kh.S%d.H%03d' % (g.seed, n)
        kind = r.randrange(8)
        size = str(len(data))
        if kind == 0:
            hdb.append('%s:%s:%s' % (hashlib.md5(data).hexdigest(), size, hname + '.md5'))
        elif kind == 1:
            hdb.append('%s:*:%s:73' % (hashlib.md5(data).hexdigest(), hname + '.md5any'))
        elif kind == 2:
            hsb.append('%s:%s:%s' % (hashlib.sha1(data).hexdigest(), size, hname + '.sha1'))
        elif kind == 3:
            hsb.append('%s:*:%s:73' % (hashlib.sha1(data).hexdigest(), hname + '.sha1any'))
        elif kind == 4:
            hsb.append('%s:%s:%s' % (hashlib.sha256(data).hexdigest(), size, hname + '.sha256'))
        elif kind == 5:
            hsb.append('%s:*:%s:73' % (hashlib.sha256(data).hexdigest(), hname + '.sha256any'))
        elif kind == 6:  # the type comes from the length, whatever the extension
            hdb.append('%s:%s:%s' % (hashlib.sha256(data).hexdigest(), size, hname + '.sha256inhdb'))
        else:           # near miss: the right hash with a wrong size
            hsb.append('%s:%d:%s' % (hashlib.sha1(data).hexdigest(), len(data) + 1, hname + '.wrongsize'))
        manifest.append((name, hname, 'hash', -1))
    # allow-list some files that something detects (and one archive member)
    in_tar = {m for name, (data, members) in arch.items() if name.endswith('.tar.gz') for m in members}
    detected = sorted({row[0] for row in manifest} - in_tar)
    for name in r.sample(detected, min(len(detected), max(1, len(detected) // 6))):
        data = files[name]
        k = r.randrange(4)
        if k == 0:
            fp.append('%s:%d:%s' % (hashlib.md5(data).hexdigest(), len(data), 'Allow.' + name))
        elif k == 1:
            sfp.append('%s:%d:%s' % (hashlib.sha1(data).hexdigest(), len(data), 'Allow.' + name))
        elif k == 2:
            sfp.append('%s:%d:%s' % (hashlib.sha256(data).hexdigest(), len(data), 'Allow.' + name))
        else:
            sfp.append('%s:*:%s:73' % (hashlib.sha256(data).hexdigest(), 'Allow.' + name))
        manifest.append((name, 'Allow.' + name, 'allow', -1))
    # ignore a few names: Name, or Name:MD5 of its database line (which
    # only ignores that line: a wrong MD5 ignores nothing)
    lines = [(s.name, s.line()) for s in sigs] + [(l.split(':')[2], l) for l in hdb + hsb]
    for nm, line in r.sample(lines, min(len(lines), 4)):
        k = r.randrange(3)
        if k == 0:
            ign.append(nm)
        elif k == 1:
            ign.append('%s:%s' % (nm, hashlib.md5(line.encode()).hexdigest()))
        else:
            ign.append('%s:%s' % (nm, hashlib.md5((line + 'x').encode()).hexdigest()))
        manifest.append(('-', nm, 'ignored' if k < 2 else 'not-ignored', -1))
    # clamscan rejects a plain name after a Name:MD5 line: plain names first
    ign.sort(key=lambda l: ':' in l)
    return hdb, hsb, fp, sfp, ign


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--seed', type=int, required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--sigs', type=int, default=120)
    ap.add_argument('--files', type=int, default=80)
    a = ap.parse_args()
    g = Gen(a.seed)
    sigs = []
    for i in range(a.sigs):
        like = g.rng.choice(sigs) if sigs and g.rng.random() < 0.12 else None
        sigs.append(g.sig(i, like))
    os.makedirs(os.path.join(a.out, 'db'), exist_ok=True)
    os.makedirs(os.path.join(a.out, 'files'), exist_ok=True)
    files, manifest = gen_files(g, sigs, a.files, a.out)
    arch = archives(g, files, manifest)
    hdb, hsb, fp, sfp, ign = hash_dbs(g, files, arch, manifest, sigs)

    def write(rel, lines):
        # clamscan refuses an empty hash database: leave such files out
        if not lines:
            return
        with open(os.path.join(a.out, rel), 'w') as f:
            f.write(''.join(l + '\n' for l in lines))

    write('db/gen.ndb', [s.line() for s in sigs])
    write('db/gen.hdb', hdb)
    write('db/gen.hsb', hsb)
    write('db/gen.fp', fp)
    write('db/gen.sfp', sfp)
    write('db/gen.ign2', ign)
    for name, data in files.items():
        with open(os.path.join(a.out, 'files', name), 'wb') as f:
            f.write(data)
    for name, (data, members) in arch.items():
        with open(os.path.join(a.out, 'files', name), 'wb') as f:
            f.write(data)
        manifest.append((name, '+'.join(members), 'archive', -1))
    write('manifest.tsv', ['\t'.join(str(x) for x in row) for row in manifest])
    print('seed %d: %d signatures (%d hash, %d allow, %d ignored), %d files, %d archives' %
          (a.seed, len(sigs), len(hdb) + len(hsb), len(fp) + len(sfp), len(ign), len(files), len(arch)))


if __name__ == '__main__':
    main()
