#!/usr/bin/env python3
"""Khiên — tests/compat: random logical (.ldb), PE-hash (.mdb .msb .imp) and
typed .ndb databases with files they should and should not match.

    ldb_gen.py --seed N --sigs N --files N --out DIR

Writes DIR/db/{t.ldb,t.ndb,t.mdb,t.msb,t.imp} and DIR/files/*: binary files
(never text: clamscan would also match a normalised copy), PE files (two to
four sections, an import table, the entry point inside .text) and ELF files
(one PT_LOAD, section headers). Signatures are built from "tokens" planted
a random number of times in the files, so that counts (=N >N <N, blocks
with ,M), offsets (n, n,m, EOF-n, EP+n, EP-n, Sx+n, SL+n, SEx), modifiers
(::i ::w ::wa ::f), PCRE subsignatures and target types (0, 1, 6) are all
exercised, matching and not. DIR/manifest.tsv says what went where.

Kept within what clamscan 1.4.6 does predictably (docs/SIGNATURES.md):
single-part subsignatures only (clamscan counts a multi-part one oddly),
no ::f with ::w, tokens that cannot overlap themselves.
"""

import argparse
import hashlib
import os
import random
import struct


def rb(rng, n, alpha=False):
    if alpha:
        return bytes(rng.choice(b'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ') for _ in range(n))
    return bytes(rng.randrange(256) for _ in range(n))


def make_token(rng, used):
    while True:
        kind = rng.random()
        n = rng.randint(5, 9)
        t = rb(rng, n, alpha=kind < 0.6)
        if kind >= 0.6:
            t = b'\xf1' + t[1:]  # a byte that random filler rarely makes
        # no self-overlap (a proper prefix that is also a suffix), not inside another token
        if any(t[:k] == t[-k:] for k in range(1, n)):
            continue
        if any(t in u or u in t for u in used):
            continue
        used.append(t)
        return t


def filler(rng, n):
    # binary: clamscan must not take the file for text
    b = bytearray(rb(rng, n))
    if n >= 4:
        b[0:4] = b'\x00\x02\x00\x02'
    return b


def overlaps(info, pos, n):
    # the import table of a PE is left alone (planted bytes there change what each tool reads)
    a, b = info.get('imp_span', (0, 0))
    return pos < b and pos + n > a


def plant(buf, tok, pos):
    buf[pos:pos + len(tok)] = tok


# ---- PE -----------------------------------------------------------------------------------

def build_pe(rng, nsect, imports, fill=None):
    """A PE32 file: headers in 0x200, sections of 0x200..0x600 bytes, raw = virtual layout / 0x1000."""
    sect_names = [b'.text', b'.data', b'.rdata', b'.idata'][:nsect]
    sizes = [0x200 * rng.randint(1, 3) for _ in range(nsect)]
    raws, va = [], []
    off = 0x200
    for i in range(nsect):
        raws.append(off)
        va.append(0x1000 * (i + 1))
        off += sizes[i]
    data = bytearray(off)
    for i in range(nsect):
        data[raws[i]:raws[i] + sizes[i]] = filler(rng, sizes[i])
    ep_rva = va[0] + rng.randrange(0, sizes[0] - 64, 4)
    # import table in the last section
    imp_rva, imp_size = 0, 0
    imp_span = (0, 0)
    if imports:
        s = nsect - 1
        base_off, base_rva = raws[s], va[s]
        blob = bytearray()
        ndesc = len(imports)
        desc_size = 20 * (ndesc + 1)
        # layout: descriptors, then per dll: ILT, IAT, name, hint/names
        cur = desc_size
        descs = []
        tail = bytearray()
        for dll, funcs in imports:
            ilt = cur + len(tail)
            tail += b'\x00' * (4 * (len(funcs) + 1))
            iat = cur + len(tail)
            tail += b'\x00' * (4 * (len(funcs) + 1))
            name = cur + len(tail)
            tail += dll + b'\x00'
            if len(tail) % 2:
                tail += b'\x00'
            hn = []
            for f in funcs:
                hn.append(cur + len(tail))
                tail += b'\x00\x00' + f + b'\x00'
                if len(tail) % 2:
                    tail += b'\x00'
            for k, h in enumerate(hn):
                struct.pack_into('<I', tail, ilt - cur + 4 * k, base_rva + h)
                struct.pack_into('<I', tail, iat - cur + 4 * k, base_rva + h)
            descs.append((base_rva + ilt, base_rva + name, base_rva + iat))
        for d in descs:
            blob += struct.pack('<IIIII', d[0], 0, 0, d[1], d[2])
        blob += b'\x00' * 20
        blob += tail
        if len(blob) > sizes[s]:
            raise ValueError('imports too large')
        data[base_off:base_off + len(blob)] = blob
        imp_rva, imp_size = base_rva, desc_size
        imp_span = (base_off, base_off + len(blob))
    # headers
    data[0:2] = b'MZ'
    struct.pack_into('<I', data, 0x3c, 0x40)
    data[0x40:0x44] = b'PE\x00\x00'
    struct.pack_into('<HHIIIHH', data, 0x44, 0x14c, nsect, 0, 0, 0, 0xe0, 0x0102)
    oh = 0x58
    struct.pack_into('<HBBIIIIII', data, oh, 0x10b, 1, 0, sizes[0], sum(sizes[1:]), 0, ep_rva, va[0],
                     va[1] if nsect > 1 else 0)
    struct.pack_into('<III', data, oh + 28, 0x400000, 0x1000, 0x200)
    struct.pack_into('<HHHHHH', data, oh + 40, 4, 0, 0, 0, 4, 0)
    struct.pack_into('<IIII', data, oh + 52, 0, 0x1000 * (nsect + 1), 0x200, 0)
    struct.pack_into('<HH', data, oh + 68, 2, 0)
    struct.pack_into('<IIIIII', data, oh + 72, 0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
    struct.pack_into('<II', data, oh + 96 + 8, imp_rva, imp_size)  # directory 1: imports
    st = oh + 0xe0
    for i in range(nsect):
        chars = 0x60000020 if i == 0 else 0xc0000040
        data[st + 40 * i:st + 40 * i + 8] = sect_names[i].ljust(8, b'\x00')
        struct.pack_into('<IIIIIIHHI', data, st + 40 * i + 8, sizes[i], va[i], sizes[i], raws[i], 0, 0, 0, 0, chars)
    info = {'ep': raws[0] + ep_rva - va[0], 'sect': list(zip(raws, sizes)), 'imp_rva': imp_rva, 'imp_span': imp_span}
    return data, info


def imphash_string(imports):
    parts = []
    for dll, funcs in imports:
        d = dll.lower()
        for ext in (b'.dll', b'.ocx', b'.sys'):
            if d.endswith(ext):
                d = d[:-4]
        for f in funcs:
            parts.append(d + b'.' + f.lower())
    return b','.join(parts)


# ---- ELF ----------------------------------------------------------------------------------

def build_elf(rng):
    """ELF64 LE executable: one PT_LOAD over the file, three sections and .shstrtab."""
    body = 0x1000 + 0x200 * rng.randint(1, 4)
    data = bytearray(filler(rng, body))
    shstr = b'\x00.text\x00.data\x00.shstrtab\x00'
    text_off, text_size = 0x100, 0x300
    data_off, data_size = 0x400, body - 0x400 - 0x100
    shstr_off = body - 0x100
    data[shstr_off:shstr_off + len(shstr)] = shstr
    shoff = body
    data += b'\x00' * (64 * 4)
    entry_off = text_off + rng.randrange(0, text_size - 64, 4)
    data[0:64] = b'\x00' * 64
    data[0:16] = b'\x7fELF\x02\x01\x01' + b'\x00' * 9
    struct.pack_into('<HHIQQQIHHHHHH', data, 16, 2, 62, 1, 0x400000 + entry_off, 64, shoff, 0, 64, 56, 1, 64, 4, 3)
    struct.pack_into('<IIQQQQQQ', data, 64, 1, 5, 0, 0x400000, 0x400000, len(data), len(data), 0x1000)
    secs = [(0, 0, 0, 0, 0), (1, 1, 6, text_off, text_size), (7, 1, 3, data_off, data_size),
            (13, 3, 0, shstr_off, len(shstr))]
    for i, (name, typ, flags, off, size) in enumerate(secs):
        addr = 0x400000 + off if flags else 0
        struct.pack_into('<IIQQQQIIQQ', data, shoff + 64 * i, name, typ, flags, addr, off, size, 0, 0, 1, 0)
    # the section headers are left alone, as a PE's import table
    info = {'ep': entry_off, 'sect': [(s[3], s[4]) for s in secs], 'imp_span': (shoff, len(data))}
    return data, info


# ---- Signatures ----------------------------------------------------------------------------

def hexs(b):
    return b.hex()


def wide(b):
    return bytes(x for c in b for x in (c, 0))


class Gen:
    def __init__(self, seed, nsigs, nfiles):
        self.rng = random.Random(seed)
        self.nsigs, self.nfiles = nsigs, nfiles
        self.tokens = []
        self.files = []  # (name, bytearray, info, type)
        self.manifest = []

    def setup_files(self):
        rng = self.rng
        toks = [make_token(rng, self.tokens) for _ in range(max(12, self.nsigs // 3))]
        self.toks = toks
        for i in range(self.nfiles):
            r = rng.random()
            if r < 0.35:
                nimp = rng.randint(0, 2)  # see docs/SIGNATURES.md: a third DLL is sometimes left out by clamscan
                imports = [(rng.choice([b'KERNEL32.dll', b'user32.dll', b'ws2_32.DLL', b'advapi32.dll', b'x.ocx']) +
                            b'', [rb(rng, rng.randint(4, 10), True) for _ in range(rng.randint(1, 4))])
                           for _ in range(nimp)]
                # distinct dll names
                seen, imp2 = set(), []
                for d, f in imports:
                    if d.lower() not in seen:
                        seen.add(d.lower())
                        imp2.append((d, f))
                data, info = build_pe(rng, rng.randint(2, 4) if not imp2 else rng.randint(2, 4), imp2)
                info['imports'] = imp2
                kind = 'pe'
            elif r < 0.55:
                data, info = build_elf(rng)
                kind = 'elf'
            else:
                data, info = filler(rng, rng.randint(200, 4000)), {}
                kind = 'bin'
            self.files.append(['f%03d.%s' % (i, kind), data, info, kind])
        # plant tokens: each file gets a few, some several times, in varied forms
        for f in self.files:
            data, info, kind = f[1], f[2], f[3]
            for _ in range(rng.randint(0, 6)):
                t = rng.choice(toks)
                form = rng.random()
                if form < 0.15:
                    t2 = t.swapcase()
                    t = bytes(rng.choice([c, t2[k]]) for k, c in enumerate(t))
                elif form < 0.25:
                    t = wide(t)
                elif form < 0.32:
                    t = b' ' + t + b' '
                reps = rng.choice([1, 1, 1, 2, 2, 3, 4])
                for _ in range(reps):
                    where = rng.random()
                    if kind in ('pe', 'elf') and where < 0.4:
                        if rng.random() < 0.5:
                            pos = info['ep'] + rng.choice([0, 4, 8, 16, -8, -16])
                        else:
                            sx = rng.randrange(len(info['sect']))
                            raw, size = info['sect'][sx]
                            if size < len(t) + 40:
                                continue
                            pos = raw + rng.choice([0, 8, 16, rng.randrange(0, size - len(t))])
                    elif where < 0.55:
                        pos = len(data) - len(t) - rng.choice([0, 1, 5, 10])
                    else:
                        pos = rng.randrange(4, max(5, len(data) - len(t)))
                    if pos < 4 or pos + len(t) > len(data):
                        continue
                    if kind == 'pe' and pos < 0x200:
                        continue
                    if kind == 'elf' and pos < 0x100:
                        continue
                    if overlaps(info, pos, len(t)):
                        continue
                    plant(data, t, pos)
                    self.manifest.append('%s\t%d\t%s' % (f[0], pos, t.hex()))

    def offset(self, target):
        rng = self.rng
        r = rng.random()
        if r < 0.45:
            return ''
        if target in (1, 6) and r < 0.8:
            c = rng.random()
            if c < 0.35:
                n = rng.choice([0, 4, 8, 16])
                return 'EP+%d,%d:' % (n, rng.choice([0, 8, 64, 4096])) if rng.random() < 0.5 else 'EP+%d:' % n
            if c < 0.45:
                return 'EP-%d,%d:' % (rng.choice([8, 16]), rng.choice([0, 16, 32]))
            if c < 0.65:
                return 'S%d+%d,%d:' % (rng.randint(0, 3), rng.choice([0, 8, 16]), rng.choice([0, 64, 2048]))
            if c < 0.8:
                return 'SL+%d,%d:' % (rng.choice([0, 8, 16]), rng.choice([0, 100, 4096]))
            return 'SE%d:' % rng.randint(0, 3)
        c = rng.random()
        if c < 0.3:
            return '%d,%d:' % (rng.choice([0, 100, 500]), rng.choice([100, 1000, 5000]))
        if c < 0.6:
            return 'EOF-%d,%d:' % (rng.choice([20, 100, 1000]), rng.choice([0, 20, 500, 1000]))
        return '*:'

    def subsig(self, target):
        rng = self.rng
        t = rng.choice(self.toks)
        mods = ''
        m = rng.random()
        if m < 0.15:
            mods = '::i'
        elif m < 0.22:
            mods = '::w'
        elif m < 0.28:
            mods = '::wa'
        elif m < 0.34:
            mods = '::f'
        elif m < 0.38:
            mods = '::fi'
        h = hexs(t)
        if rng.random() < 0.2 and len(t) > 5:
            k = rng.randint(1, len(t) - 4)
            h = hexs(t[:k]) + '??' + hexs(t[k + 1:])
        return self.offset(target) + h + mods

    def expr(self, ids, top=True):
        rng = self.rng
        if len(ids) == 1:
            i = ids[0]
            r = rng.random()
            if r < 0.6:
                return str(i)
            if r < 0.75:
                return '%d>%d' % (i, rng.choice([0, 1, 2]))
            if r < 0.9:
                return '%d=%d' % (i, rng.choice([0, 1, 2]))
            return '%d<%d' % (i, rng.choice([1, 2, 3]))
        k = rng.randint(1, len(ids) - 1)
        left, right = self.expr(ids[:k], False), self.expr(ids[k:], False)
        op = rng.choice('&|')
        e = '%s%s%s' % (left, op, right)
        if not top or rng.random() < 0.5:
            e = '(%s)' % e
            if rng.random() < 0.3:
                mod = rng.choice('=><')
                v = rng.choice([1, 2, 3, 4])
                e += '%s%d' % (mod, v)
                if mod != '<' and rng.random() < 0.4:
                    e += ',%d' % rng.randint(1, min(2, len(ids)))
        return e

    def pcre(self, nsub):
        rng = self.rng
        a, b = rng.sample(self.toks, 2)
        # plant "a<2..6 lowercase letters>b" in some files
        for f in rng.sample(self.files, min(4, len(self.files))):
            data = f[1]
            mid = bytes(rng.choice(b'abcdefgh') for _ in range(rng.randint(2, 6)))
            s = a + mid + b
            lo = 0x300 if f[3] != 'bin' else 8
            if len(data) < lo + len(s) + 8:
                continue
            pos = rng.randrange(lo, len(data) - len(s) - 4)
            if overlaps(f[2], pos, len(s)):
                continue
            plant(data, s, pos)
            self.manifest.append('%s\t%d\t%s' % (f[0], pos, s.hex()))
        esc = lambda bs: ''.join('\\x%02x' % c for c in bs)
        flags = rng.choice(['', 'g', 'i', 's'])
        return '%d/%s[a-h]{2,6}%s/%s' % (rng.randrange(nsub), esc(a), esc(b), flags), a

    def run(self, out):
        rng = self.rng
        self.setup_files()
        ldb, ndb = [], []
        for i in range(self.nsigs):
            target = rng.choice([0, 0, 0, 1, 1, 6])
            nsub = rng.randint(1, 4)
            subs = [self.subsig(target) for _ in range(nsub)]
            e = self.expr(list(range(nsub)))
            tdb = 'Engine:51-255,Target:%d' % target
            r = rng.random()
            if r < 0.1:
                lo = rng.choice([0, 500, 1000])
                tdb += ',FileSize:%d-%d' % (lo, lo + rng.choice([1000, 3000]))
            elif r < 0.15 and target == 1:
                tdb += ',NumberOfSections:%d-%d' % (rng.randint(1, 3), rng.randint(3, 4))
            elif r < 0.2 and target in (1, 6):
                ep = rng.choice([f[2]['ep'] for f in self.files if f[3] == ('pe' if target == 1 else 'elf')] or [0])
                tdb += ',EntryPoint:%d-%d' % (ep - rng.choice([0, 8]), ep + rng.choice([0, 8]))
            elif r < 0.25:
                tdb += ',Container:CL_TYPE_ANY'
            if rng.random() < 0.1:
                p, _ = self.pcre(nsub)
                subs.append(p)
                e = '(%s)&%d' % (e, nsub) if rng.random() < 0.7 else '%d' % nsub if nsub == 1 else '(%s)|%d' % (e, nsub)
                tdb = tdb.replace('Engine:51-255', 'Engine:81-255')
            if any('::' in s for s in subs):
                tdb = tdb.replace('Engine:51-255', 'Engine:81-255')
            ldb.append('L%04d;%s;%s;%s' % (i, tdb, e, ';'.join(subs)))
        # typed .ndb lines
        for i in range(self.nsigs // 4):
            target = rng.choice([1, 6, 1])
            off = self.offset(target)[:-1] or '*'
            ndb.append('N%04d:%d:%s:%s' % (i, target, off, hexs(rng.choice(self.toks))))
        # section and import hashes
        mdb, msb, imp = [], [], []
        pes = [f for f in self.files if f[3] == 'pe']
        for k, f in enumerate(rng.sample(pes, min(len(pes), max(2, self.nsigs // 10)))):
            raw, size = rng.choice(f[2]['sect'])
            sec = bytes(f[1][raw:raw + size])
            alg = rng.choice(['md5', 'sha1', 'sha256'])
            h = hashlib.new(alg, sec).hexdigest()
            sz = rng.random()
            size_s, fl = (str(size), '') if sz < 0.6 else ('*', ':73') if sz < 0.85 else (str(size + 1), '')
            (mdb if alg == 'md5' else msb).append('%s:%s:S%03d%s' % (size_s, h, k, fl))
            if f[2].get('imports'):
                s = imphash_string(f[2]['imports'])
                alg = rng.choice(['md5', 'sha1', 'sha256'])
                h = hashlib.new(alg, s).hexdigest()
                sz = rng.random()
                size_s, fl = (str(len(s)), '') if sz < 0.6 else ('*', ':73') if sz < 0.85 else (str(len(s) + 2), '')
                imp.append('%s:%s:I%03d%s' % (h, size_s, k, fl))
        os.makedirs(os.path.join(out, 'db'), exist_ok=True)
        os.makedirs(os.path.join(out, 'files'), exist_ok=True)
        for name, lines in (('t.ldb', ldb), ('t.ndb', ndb), ('t.mdb', mdb), ('t.msb', msb), ('t.imp', imp)):
            if lines:  # clamscan refuses an empty database
                with open(os.path.join(out, 'db', name), 'w') as fh:
                    fh.write('\n'.join(lines) + '\n')
        for name, data, _, _ in self.files:
            with open(os.path.join(out, 'files', name), 'wb') as fh:
                fh.write(data)
        with open(os.path.join(out, 'manifest.tsv'), 'w') as fh:
            fh.write('\n'.join(self.manifest) + '\n')
        print('%d ldb, %d ndb, %d mdb/msb, %d imp, %d files (%d PE, %d ELF)' %
              (len(ldb), len(ndb), len(mdb) + len(msb), len(imp), len(self.files), len(pes),
               sum(1 for f in self.files if f[3] == 'elf')))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--sigs', type=int, default=120)
    ap.add_argument('--files', type=int, default=60)
    ap.add_argument('--out', required=True)
    a = ap.parse_args()
    Gen(a.seed, a.sigs, a.files).run(a.out)


if __name__ == '__main__':
    main()
