#!/usr/bin/env python3
"""Khiên — tests/compat: turn `yara -D` output for the pe module into the
"path = value" lines that pe_dump prints (undefined fields dropped, lines
sorted), and keep console.log lines ("@ key=value") as they are.

Usage: pe_flatten.py < yara-output > lines
"""
import sys

def main():
    out = []
    stack = []          # (depth, name, kind) of open containers
    in_pe = False
    dicts = {"version_info"}
    for raw in sys.stdin.read().splitlines():
        if raw.startswith("@ "):
            out.append(raw)
            continue
        if not raw.startswith("\t"):
            in_pe = raw == "pe"
            stack = []
            continue
        if not in_pe:
            continue
        depth = len(raw) - len(raw.lstrip("\t"))
        line = raw.strip()
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parent = stack[-1] if stack else None
        if " = " in line:
            name, value = line.split(" = ", 1)
        else:
            name, value = line, None
        if name.startswith("["):
            seg = name
        elif parent and parent[1] in dicts:
            seg = "[" + name + "]"
        else:
            seg = ("." if stack else "") + name
        path = (stack[-1][2] if stack else "") + seg
        if value is None:
            stack.append((depth, name, path))
            continue
        if value == "YR_UNDEFINED":
            continue
        out.append(f"{path} = {value}")
    for l in sorted(out):
        print(l)

main()
