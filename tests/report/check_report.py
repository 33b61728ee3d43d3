#!/usr/bin/env python3
"""check_report.py -- checks the output of `mpimill report` (used by report.sh).

  check_report.py table MANIFEST TABLE RANKS  the printed table against the manifest
  check_report.py html PAGE RANKS             the page parses, is self-contained, has
                                              its SVG bars and the table
  check_report.py png SHOT RANKS              the screenshot shows each phase's bars

Exits 0 when the check passes, 1 with a FAIL line naming what differs.
No third-party modules: the PNG is decoded with zlib.
"""
import json
import struct
import sys
import zlib
from html.parser import HTMLParser

PHASES = ("map", "shuffle", "reduce", "commit")
COUNT = {"map": "records", "shuffle": "records", "reduce": "records", "commit": "files"}
PART = {"map": "read", "shuffle": "exchange", "reduce": "write"}  # time inside the phase, "PART_s"
COLORS = {"map": (0x4e, 0x79, 0xa7), "shuffle": (0xf2, 0x8e, 0x2b), "reduce": (0x59, 0xa1, 0x4f),
          "commit": (0xb0, 0x7a, 0xa1),
          # the parts' bars may be under a pixel wide, and then are not drawn
          "read": (0x24, 0x47, 0x6b), "exchange": (0x9c, 0x54, 0x14), "write": (0x2e, 0x6b, 0x29)}


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def check_table(manifest_path, table_path, nranks):
    with open(manifest_path) as f:
        manifest = json.load(f)
    m = manifest["metrics"]
    sizes = {e["name"]: e["size"] for e in manifest["files"]}
    with open(table_path) as f:
        lines = f.read().splitlines()
    header = next((l.split() for l in lines if l.split()[:1] == ["rank"]), None)
    if not header:
        fail("no header line starting with 'rank' in the table")
    rows = [l.split() for l in lines if l.split() and l.split()[0].isdigit()]
    if len(rows) != nranks or len(m["ranks"]) != nranks:
        fail(f"{len(rows)} rank rows in the table, {len(m['ranks'])} in the manifest, want {nranks}")
    for row, mr in zip(rows, m["ranks"]):
        if len(row) != len(header):
            fail(f"row {row} has {len(row)} columns, header {len(header)}")
        got = dict(zip(header, row))
        r = mr["rank"]
        if int(got["rank"]) != r:
            fail(f"rank {got['rank']} where the manifest has {r}")
        want = {"sent_bytes": mr["bytes_sent"], "spill_bytes": mr["spill_bytes"]}
        for p in PHASES:
            ph = mr["phases"][p]
            d = ph["end"] - ph["start"]
            if abs(float(got[p + "_s"]) - d) > 0.0011:
                fail(f"rank {r} {p}_s {got[p + '_s']}, manifest {d:.6f}")
            want[p + "_bytes"] = ph["bytes"]
            want[f"{p}_{COUNT[p]}"] = ph["records"]
            if p in PART:
                k = PART[p] + "_s"
                if abs(float(got[k]) - mr[k]) > 0.0011:
                    fail(f"rank {r} {k} {got[k]}, manifest {mr[k]:.6f}")
                # Measured, and a part of its phase: a rank that read, moved
                # or wrote bytes spent time on it, and no more than the phase.
                if not 0 <= mr[k] <= d + 1e-6 or (ph["bytes"] > 0 and mr[k] <= 0):
                    fail(f"rank {r} {k} {mr[k]} against the {p} phase's {d:.6f} s and {ph['bytes']} bytes")
        # The commit phase made this rank's part file durable: its bytes are
        # the file's size in the manifest's list.
        part = f"part-{r:05d}"
        if mr["phases"]["commit"]["records"] != 1 or mr["phases"]["commit"]["bytes"] != sizes.get(part):
            fail(f"rank {r} commit phase {mr['phases']['commit']}, want 1 file of {sizes.get(part)} bytes ({part})")
        for k, v in want.items():
            if int(got[k]) != v:
                fail(f"rank {r} {k} {got[k]}, manifest {v}")
        if abs(float(got["peak_rss_MiB"]) - mr["peak_rss"] / 2**20) > 0.051:
            fail(f"rank {r} peak_rss_MiB {got['peak_rss_MiB']}, manifest {mr['peak_rss']} bytes")
    imb = next((l for l in lines if l.startswith("imbalance (max/mean):")), None)
    want = "imbalance (max/mean): " + ", ".join(f"{p} {m['imbalance'][p]:.3f}" for p in PHASES)
    if imb != want:
        fail(f"imbalance line {imb!r}, want {want!r}")
    tot = next((l for l in lines if l.startswith("totals:")), "")
    for k in ("records_in", "keys_out"):
        if f"{k} {m[k]}," not in tot:
            fail(f"totals line {tot!r} lacks {k} {m[k]}")
    if f"seconds {m['seconds']:.3f}," not in tot or "MiB/s" not in tot:
        fail(f"totals line {tot!r} lacks seconds {m['seconds']:.3f} or a throughput")


class Page(HTMLParser):
    """Collects what the checks need and checks that elements nest."""
    VOID = {"meta", "br", "hr", "img", "input", "link"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.bars, self.svgs, self.tbody_rows = [], [], [], 0, 0
        self.external, self.bar_ends, self.end_x = [], [], None

    def handle_starttag(self, tag, attrs):
        self._element(tag, attrs)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self._element(tag, attrs)

    def _element(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "link", "img", "iframe", "object", "embed"):
            self.external.append(tag)
        for k in ("src", "href"):
            if k in a:
                self.external.append(f"{tag} {k}={a[k]}")
        if tag == "svg":
            self.svgs += 1
        if tag == "rect" and (a.get("class") or "").split()[:1] == ["bar"]:
            self.bars.append(a["class"].split()[1])
            self.bar_ends.append(float(a["x"]) + float(a["width"]))
        if tag == "line" and a.get("class") == "total":
            self.end_x = float(a["x1"])
        if tag == "tr" and "tbody" in self.stack:
            self.tbody_rows += 1

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> at line {self.getpos()[0]} closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def check_html(path, nranks):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if not text.startswith("<!DOCTYPE html>"):
        fail("the page does not start with <!DOCTYPE html>")
    p = Page()
    p.feed(text)
    p.close()
    if p.errors or p.stack:
        fail(f"the page is not well-formed: {p.errors[:3]} unclosed {p.stack}")
    if p.external:
        fail(f"the page loads external resources or scripts: {p.external}")
    if p.svgs != 1:
        fail(f"{p.svgs} <svg> elements, want 1")
    if len(p.bars) != len(PHASES) * nranks or any(p.bars.count(ph) != nranks for ph in PHASES):
        fail(f"bars {p.bars}, want {nranks} of each of {PHASES}")
    if p.tbody_rows != nranks:
        fail(f"{p.tbody_rows} rows in the HTML table, want {nranks}")
    # The end line is by the last bar, on the axis of the start barrier, not
    # shifted right by the time before it (loading, listing, setup). It may
    # come a little before the last bar's end: each rank's clock starts as it
    # leaves the barrier, some ms apart, and a short job's axis is ms long.
    last, width = max(p.bar_ends), 1000 - 80 - 20
    if p.end_x is None or p.end_x - last > 0.25 * width:
        fail(f"the end line at x={p.end_x} is far from the last bar's end at x={last}")


def read_png(path):
    """Returns (width, height, rows of RGB tuples' flat bytes, bytes per pixel)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail(f"{path} is not a PNG")
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = ihdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        fail(f"{path}: PNG of depth {depth}, color type {ctype}, interlace {interlace}: not decoded here")
    bpp = 3 if ctype == 2 else 4
    raw, stride = zlib.decompress(idat), w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        ft, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if ft == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif ft == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif ft == 3:
            for i in range(stride):
                line[i] = (line[i] + ((line[i - bpp] if i >= bpp else 0) + prev[i]) // 2) & 255
        elif ft == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return w, h, rows, bpp


def check_png(path, nranks):
    w, h, rows, bpp = read_png(path)
    # Each phase's color must show as separate horizontal bands: the legend
    # swatch, one bar per rank and the table's key (nranks + 2 bands); each
    # part's color at least in the legend and the table's key.
    for ph, (r, g, b) in COLORS.items():
        band_rows = []
        for y, line in enumerate(rows):
            hits = 0
            for x in range(0, w * bpp, bpp):
                if abs(line[x] - r) <= 8 and abs(line[x + 1] - g) <= 8 and abs(line[x + 2] - b) <= 8:
                    hits += 1
            if hits:
                band_rows.append(y)
        bands = sum(1 for i, y in enumerate(band_rows) if i == 0 or band_rows[i - 1] != y - 1)
        print(f"{ph}: {bands} bands of its color, in rows {band_rows[:1]}..{band_rows[-1:]}")
        want = nranks + 2 if ph in PHASES else 2
        if bands < want:
            fail(f"{path}: {bands} bands of {ph}'s color, want {want} (bars, legend, table key)")
    dark = sum(1 for line in rows for x in range(0, w * bpp, bpp * 4) if line[x] < 80 and line[x + 1] < 80)
    if dark < 200:
        fail(f"{path}: almost no dark pixels: no text rendered?")


def main():
    what, args = sys.argv[1], sys.argv[2:]
    if what == "table":
        check_table(args[0], args[1], int(args[2]))
    elif what == "html":
        check_html(args[0], int(args[1]))
    elif what == "png":
        check_png(args[0], int(args[1]))
    else:
        fail(f"unknown check {what}")
    print(f"ok: {what}")


if __name__ == "__main__":
    main()
