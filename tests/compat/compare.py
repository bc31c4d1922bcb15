#!/usr/bin/env python3
"""Khiên — tests/compat: compares clamscan's and khien's detections.

    compare.py --files DIR [--db DIR] [--manifest FILE] CLAMSCAN_OUT KHIEN_OUT

Both outputs are `PATH: NAME FOUND` lines. They are reduced to a set of
(file, signature) pairs: the path relative to --files, an archive member
(`a.zip!x.bin`, khien) counted as its archive (clamscan names the archive),
clamscan's `.UNOFFICIAL` suffix dropped. Prints the totals and every pair
only one tool reports, with the signature's database line and what the
generator planted in that file (--manifest), and exits 1 if there is one.
"""

import argparse
import os
import re
import sys

LINE = re.compile(r'^(.*): (\S+) FOUND$')


def pairs(path, root):
    out = set()
    with open(path, errors='replace') as f:
        for line in f:
            m = LINE.match(line.rstrip('\n'))
            if not m:
                continue
            p, name = m.group(1), m.group(2)
            p = p.split('!', 1)[0]
            if root:
                p = os.path.relpath(p, root)
            if name.endswith('.UNOFFICIAL'):
                name = name[:-len('.UNOFFICIAL')]
            out.add((p, name))
    return out


def db_lines(dbdir):
    lines = {}
    if not dbdir:
        return lines
    for fn in sorted(os.listdir(dbdir)):
        with open(os.path.join(dbdir, fn), errors='replace') as f:
            for line in f:
                line = line.rstrip('\n')
                fields = line.split(':')
                if fn.endswith('.ndb') and fields:
                    lines[fields[0]] = '%s: %s' % (fn, line)
                elif len(fields) >= 3:
                    lines[fields[2]] = '%s: %s' % (fn, line)
                elif fields:
                    lines.setdefault(fields[0], '%s: %s' % (fn, line))
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--files')
    ap.add_argument('--db')
    ap.add_argument('--manifest')
    ap.add_argument('--label', default='')
    ap.add_argument('clam')
    ap.add_argument('khien')
    a = ap.parse_args()
    c, k = pairs(a.clam, a.files), pairs(a.khien, a.files)
    both = c & k
    only_c, only_k = sorted(c - k), sorted(k - c)
    print('%scompared: %d pairs found by both, %d only by clamscan, %d only by khien' %
          (a.label, len(both), len(only_c), len(only_k)))
    if not only_c and not only_k:
        return 0
    sigs = db_lines(a.db)
    plants = {}
    if a.manifest:
        with open(a.manifest) as f:
            for line in f:
                row = line.rstrip('\n').split('\t')
                plants.setdefault(row[0], []).append(row)
    for who, lst in (('clamscan only', only_c), ('khien only', only_k)):
        for p, name in lst:
            print('  %s: %s  %s' % (who, p, name))
            if name in sigs:
                print('      signature  %s' % sigs[name])
            for row in plants.get(os.path.basename(p), []):
                if row[1] == name or row[2] in ('allow', 'archive'):
                    print('      planted    %s' % ' '.join(row[1:]))
    return 1


if __name__ == '__main__':
    sys.exit(main())
