#!/usr/bin/env python3
"""gencsv.py OUT ROWS SEED [KEYS]: a CSV test table with a header
id,region,product,price,qty,note -- quoted fields with commas and doubled
quotes, empty values, CRLF on some rows, unicode bytes; region and product
draw from few values so that groups repeat; KEYS bounds id's range (ids
repeat when KEYS < ROWS, for joins)."""
import random, sys

out, rows, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
keys = int(sys.argv[4]) if len(sys.argv) > 4 else rows
r = random.Random(seed)
regions = ["north", "south", "east", "west", "Ost, Mitte", 'say "hi"', ""]
products = ["apple", "pear", "plum", "fig", "kiwi", "café"]

def q(s):
    return '"' + s.replace('"', '""') + '"' if any(c in s for c in ',"') or r.random() < 0.1 else s

with open(out, "w", newline="", encoding="utf-8") as f:
    f.write("id,region,product,price,qty,note\n")
    for i in range(rows):
        price = "" if r.random() < 0.05 else "%d.%02d" % (r.randint(-50, 500), r.randint(0, 99))
        qty = "" if r.random() < 0.05 else str(r.randint(0, 1000))
        note = r.choice(["", "ok", "a, b", 'x "y" z', "plain text"])
        row = [str(r.randint(1, keys)), r.choice(regions), r.choice(products), price, qty, note]
        f.write(",".join(q(v) for v in row) + ("\r\n" if r.random() < 0.2 else "\n"))
        if r.random() < 0.02:
            f.write("\n")  # a blank line: not a row
