#!/usr/bin/env python3
"""api_symbols.py - the functions the public headers declare (STRATA_API),
one per line, sorted: what libstrata.so must export (src/strata.map).
  scripts/api_symbols.py include/strata/*.h"""
import re
import sys

names = set()
for path in sys.argv[1:]:
    text = open(path, encoding="utf-8").read()
    for m in re.finditer(r"STRATA_API\b([^;{]*?)\(", text, re.S):
        ids = re.findall(r"\bstrata_\w+", m.group(1))
        if ids:
            names.add(ids[-1])
print("\n".join(sorted(names)))
