#!/usr/bin/env python3
"""Khiên — tests/compat: turn a little-endian ELF file into a big-endian one.

The machine has no big-endian ELF files and objcopy cannot change byte
order, so the differential test makes its own: the file header, program
headers, section headers, symbol tables (SHT_SYMTAB, SHT_DYNSYM) and
dynamic entries (SHT_DYNAMIC sections and PT_DYNAMIC segments) are
byte-swapped and EI_DATA set to ELFDATA2MSB; every other byte is left as
is. The result is not a runnable program, but every field the elf module
reads is the same value, stored big-endian.

usage: elf_swap.py IN OUT
"""
import struct
import sys


def main():
    src, dst = sys.argv[1], sys.argv[2]
    b = bytearray(open(src, 'rb').read())
    if b[:4] != b'\x7fELF' or b[5] != 1:
        sys.exit('%s: not a little-endian ELF file' % src)
    is64 = b[4] == 2
    W = 'Q' if is64 else 'I'
    ehdr = '<16sHHI' + W * 3 + 'IHHHHHH'
    phdr = '<IIQQQQQQ' if is64 else '<IIIIIIII'
    shdr = '<II' + W * 4 + 'II' + W * 2
    sym = '<IBBHQQ' if is64 else '<IIIBBH'
    dyn = '<' + W * 2
    done = set()  # offsets of structures already swapped

    def swap(fmt, off):
        size = struct.calcsize(fmt)
        if off in done or off + size > len(b):
            return None
        done.add(off)
        vals = struct.unpack_from(fmt, b, off)
        struct.pack_into('>' + fmt[1:], b, off, *vals)
        return vals

    def swap_array(fmt, off, size):
        es = struct.calcsize(fmt)
        for k in range(size // es):
            swap(fmt, off + k * es)

    h = struct.unpack_from(ehdr, b, 0)
    phoff, shoff = h[5], h[6]
    phnum, shnum = h[10], h[12]
    for i in range(phnum):
        p = swap(phdr, phoff + i * struct.calcsize(phdr))
        if p and p[0] == 2:  # PT_DYNAMIC
            off, filesz = (p[2], p[5]) if is64 else (p[1], p[4])
            swap_array(dyn, off, filesz)
    for i in range(shnum):
        s = swap(shdr, shoff + i * struct.calcsize(shdr))
        if not s:
            continue
        typ, off, size = s[1], s[4], s[5]
        if typ in (2, 11):  # SHT_SYMTAB, SHT_DYNSYM
            swap_array(sym, off, size)
        elif typ == 6:  # SHT_DYNAMIC
            swap_array(dyn, off, size)
    swap(ehdr, 0)
    b[5] = 2
    open(dst, 'wb').write(b)


if __name__ == '__main__':
    main()
