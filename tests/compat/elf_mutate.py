#!/usr/bin/env python3
"""Khiên — tests/compat: deterministic mutants of ELF files, for comparing
our elf module with yara on damaged input.

Each mutant takes a seed file and damages it where the elf module looks:
a field of the file header, of a program or section header, of a symbol
or dynamic entry, random bytes, or the length, with values chosen to sit
on the edges of the checks (0, 1, the file size and its neighbours, high
bits, all ones, yara's UNDEFINED marker). The same arguments always give
the same files.

usage: elf_mutate.py OUTDIR COUNT RANDOM-SEED SEEDFILE...
"""
import os
import random
import struct
import sys

UNDEF = 0xFFFABADAFABADAFF


def layout(b):
    """(is64, big-endian, header fields) or None."""
    if len(b) < 52 or b[:4] != b'\x7fELF' or b[4] not in (1, 2) or b[5] not in (1, 2):
        return None
    is64, be = b[4] == 2, b[5] == 2
    e = '>' if be else '<'
    W = 'Q' if is64 else 'I'
    fmt = e + '16sHHI' + W * 3 + 'IHHHHHH'
    if len(b) < struct.calcsize(fmt):
        return None
    return is64, be, struct.unpack_from(fmt, b, 0)


def interesting(r, n, wide):
    vals = [0, 1, 2, 3, 6, 8, 11, 0x10, 0x40, 0xff, 0xffff, 0xff00, 0xfeff, 0x7fffffff, 0x80000000,
            0xffffffff, n, n - 1, n + 1, n - 8, n - 16, n - 40, n - 64, n // 2, r.randrange(max(n, 1))]
    if wide:
        vals += [0xffffffffffffffff, 0x8000000000000000, UNDEF, 0x100000000]
    return r.choice(vals)


def put(b, off, size, val, be):
    if off < 0 or off + size > len(b):
        return
    val &= (1 << (8 * size)) - 1
    b[off:off + size] = val.to_bytes(size, 'big' if be else 'little')


def mutate(r, b):
    lay = layout(b)
    n = len(b)
    how = r.randrange(9)
    if lay is None or how == 0:
        for _ in range(r.randint(1, 8)):
            if b:
                b[r.randrange(len(b))] = r.randrange(256)
        return b
    is64, be, h = lay
    W = 8 if is64 else 4
    phoff, shoff, phnum, shnum = h[5], h[6], h[10], h[12]
    shsz, phsz = (64, 56) if is64 else (40, 32)
    if how == 1:  # a header field
        d = 3 * (W - 4)  # the 64-bit header has three wider words before e_flags
        fields = [(16, 2), (18, 2), (24, W), (24 + W, W), (24 + 2 * W, W), (42 + d, 2),
                  (44 + d, 2), (46 + d, 2), (48 + d, 2), (50 + d, 2), (4, 1), (5, 1)]
        off, size = r.choice(fields)
        put(b, off, size, interesting(r, n, size == 8), be)
    elif how == 2 and shnum:  # a section header field
        i = r.randrange(min(shnum, 0xff00))
        base = shoff + i * shsz
        fields = ([(0, 4), (4, 4), (8, 8), (16, 8), (24, 8), (32, 8), (40, 4)] if is64 else
                  [(0, 4), (4, 4), (8, 4), (12, 4), (16, 4), (20, 4), (24, 4)])
        off, size = r.choice(fields)
        put(b, base + off, size, interesting(r, n, size == 8), be)
    elif how == 3 and phnum:  # a program header field
        i = r.randrange(min(phnum, 0xffff))
        base = phoff + i * phsz
        fields = ([(0, 4), (4, 4), (8, 8), (16, 8), (40, 8)] if is64 else
                  [(0, 4), (4, 4), (8, 4), (20, 4), (24, 4)])
        off, size = r.choice(fields)
        val = 2 if r.random() < 0.3 and off == 0 else interesting(r, n, size == 8)
        put(b, base + off, size, val, be)
    elif how == 4:  # bytes somewhere in the second half (tables usually live there)
        for _ in range(r.randint(1, 16)):
            if n:
                b[r.randrange(n // 2, n)] = r.choice([0, 0xff, r.randrange(256)])
    elif how == 5:  # truncate
        del b[r.randrange(max(n, 1)):]
    elif how == 6:  # splice: copy a header-sized chunk over another place
        if n > 128:
            a, c = r.randrange(n - 64), r.randrange(n - 64)
            b[c:c + 64] = b[a:a + 64]
    elif how == 7 and shnum:  # point a section name or link at an edge
        i = r.randrange(min(shnum, 0xff00))
        base = shoff + i * shsz
        if r.random() < 0.5:
            put(b, base, 4, interesting(r, n, False), be)
        else:
            put(b, base + (40 if is64 else 24), 4, r.choice([0, 1, shnum - 1, shnum, shnum + 1,
                                                             0x100, 0xffff, r.randrange(0x2000)]), be)
    else:  # many small random changes in the header
        for _ in range(r.randint(1, 4)):
            b[r.randrange(min(n, 64))] = r.randrange(256)
    return b


def main():
    out, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    seeds = [bytearray(open(p, 'rb').read()) for p in sys.argv[4:]]
    r = random.Random(seed)
    os.makedirs(out, exist_ok=True)
    for k in range(count):
        b = bytearray(r.choice(seeds))
        for _ in range(r.choice([1, 1, 1, 2, 3])):
            b = mutate(r, b)
        with open(os.path.join(out, 'm%05d' % k), 'wb') as f:
            f.write(b)


if __name__ == '__main__':
    main()
