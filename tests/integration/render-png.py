#!/usr/bin/env python3
"""What the render tests (render-lib.sh) read out of Chromium's screenshots, with a PNG decoder
of its own (zlib only: no imaging library to trust):

    render-png.py ink PNG
        the screenshot is not blank: ink on a good part of it, and colour besides black and
        white (the result's, the charts'); prints "ok" or why, exit 1
    render-png.py bars PNG PAGE
        the screenshot is not blank (as ink), and every bar of the page's charts (its SVG <rect class="ok|bad|neutral">, in
        <figure class="chart">) is in the screenshot where the SVG puts it: the same colour,
        its edges where the chart's scale and place put them, within 2 pixels (and 2% of
        its distance from the largest bar); the scale and
        the place of each chart found from its largest bar (its largest box of that colour
        not already matched). Prints "ok N bars" or why, exit 1
"""
import re
import struct
import sys
import zlib

# The stylesheet's bar colours (core/evidence/html.c).
TONES = {"ok": (0x2E, 0x8B, 0x3E), "bad": (0xC6, 0x28, 0x28), "neutral": (0x8A, 0x8F, 0x98)}


def decode(path):
    """(width, height, rows of (r, g, b) tuples)."""
    b = open(path, "rb").read()
    if b[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit("FAIL: %s is not a PNG" % path)
    i, idat = 8, b""
    while i < len(b):
        n, t = struct.unpack(">I4s", b[i:i + 8])
        d = b[i + 8:i + 8 + n]
        i += 12 + n
        if t == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", d)
        elif t == b"IDAT":
            idat += d
    if depth != 8 or interlace or ctype not in (2, 6):
        sys.exit("FAIL: a PNG this check does not read (depth %d, colour type %d)" % (depth, ctype))
    bpp = 3 if ctype == 2 else 4
    raw, stride, prev, p = zlib.decompress(idat), w * bpp, bytearray(w * bpp), 0
    rows = []
    for y in range(h):
        f, line = raw[p], bytearray(raw[p + 1:p + 1 + stride])
        p += 1 + stride
        if f == 1:
            for x in range(bpp, stride):
                line[x] = (line[x] + line[x - bpp]) & 255
        elif f == 2:
            for x in range(stride):
                line[x] = (line[x] + prev[x]) & 255
        elif f == 3:
            for x in range(stride):
                a = line[x - bpp] if x >= bpp else 0
                line[x] = (line[x] + (a + prev[x]) // 2) & 255
        elif f == 4:
            for x in range(stride):
                a = line[x - bpp] if x >= bpp else 0
                c = prev[x - bpp] if x >= bpp else 0
                u = prev[x]
                pa, pb, pc = abs(u - c), abs(a - c), abs(a + u - 2 * c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else u if pb <= pc else c)) & 255
        prev = line
        rows.append([tuple(line[x:x + 3]) for x in range(0, stride, bpp)])
    return w, h, rows


def ink(path, decoded=None):
    w, h, rows = decoded or decode(path)
    dark = colour = 0
    for row in rows:
        for r, g, b in row[::2]:
            dark += r + g + b < 600
            colour += max(r, g, b) - min(r, g, b) > 40
    total = (w // 2) * h
    if dark < total // 50:
        sys.exit("FAIL: the screenshot is (nearly) blank: %d of %d pixels sampled are not white"
                 % (dark, total))
    if colour < total // 500:
        sys.exit("FAIL: the screenshot has no colour: the result and the charts are not coloured")
    if not decoded:
        print("ok")


def boxes(rows, rgb):
    """Bounding boxes (x0, y0, x1, y1, exclusive ends) of the solid areas of colour rgb: runs of
    at least 2 pixels on a row, joined with the runs they touch on the row above."""
    def near(p):
        return all(abs(p[i] - rgb[i]) <= 10 for i in range(3))
    parent, box, prev_runs = {}, {}, []

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a
    for y, row in enumerate(rows):
        runs, x, n = [], 0, len(row)
        while x < n:
            if not near(row[x]):
                x += 1
                continue
            s = x
            while x < n and near(row[x]):
                x += 1
            if x - s >= 2:
                k = (y, s)
                parent[k], box[k] = k, [s, y, x, y + 1]
                for (py, ps, pe) in prev_runs:
                    if ps < x and s < pe:
                        a, b = find((py, ps)), find(k)
                        if a != b:
                            parent[b] = a
                runs.append((y, s, x))
        prev_runs = runs
    merged = {}
    for k, (x0, y0, x1, y1) in box.items():
        r = find(k)
        m = merged.setdefault(r, [x0, y0, x1, y1])
        m[0], m[1], m[2], m[3] = min(m[0], x0), min(m[1], y0), max(m[2], x1), max(m[3], y1)
    out = [tuple(m) for m in merged.values() if m[2] - m[0] >= 2 and m[3] - m[1] >= 2]
    # A target line drawn across a bar cuts it in two: pieces with the same sides (within a
    # pixel) and a gap of a few pixels between them are one bar.
    joined = True
    while joined:
        joined = False
        for a in out:
            for b in out:
                same_x = abs(a[0] - b[0]) <= 1 and abs(a[2] - b[2]) <= 1 and 0 <= b[1] - a[3] <= 4
                same_y = abs(a[1] - b[1]) <= 1 and abs(a[3] - b[3]) <= 1 and 0 <= b[0] - a[2] <= 4
                if a != b and (same_x or same_y):
                    out.remove(a)
                    out.remove(b)
                    out.append((min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])))
                    joined = True
                    break
            if joined:
                break
    return out


def bars(png, page):
    text = open(page, encoding="utf-8").read()
    figures = []
    for svg in re.findall(r'<figure class="chart[^"]*">\s*<svg[^>]*>(.*?)</svg>', text, re.S):
        rects = [(cls, int(x), int(y), int(w), int(h)) for cls, x, y, w, h in re.findall(
            r'<rect class="(\w+)" x="(-?\d+)" y="(-?\d+)" width="(\d+)" height="(\d+)"/>', svg)]
        # Bars too thin to be seen whole are left out (they are checked by the unit tests).
        figures.append([r for r in rects if r[3] >= 3 and r[4] >= 3])
    if not any(figures):
        sys.exit("FAIL: the page has no bar to look for")
    decoded = decode(png)
    ink(png, decoded)
    rows = decoded[2]
    found = {tone: boxes(rows, rgb) for tone, rgb in TONES.items()}
    used, n = set(), 0
    # The chart with the largest bar first: its boxes, once matched, are no one else's anchor.
    for fig in sorted((f for f in figures if f), key=lambda f: -max(r[3] * r[4] for r in f)):
        anchor = max(fig, key=lambda r: r[3] * r[4])
        cands = [b for b in found[anchor[0]] if b not in used]
        if not cands:
            sys.exit("FAIL: no %s bar in the screenshot for a chart's largest bar %s" % (anchor[0], anchor))
        # The largest box of that colour, not yet matched, is the anchor: it gives the scale.
        a = max(cands, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
        # The scale from the bar's longer side (a pixel lost to smoothing matters least there).
        s = (a[2] - a[0]) / anchor[3] if anchor[3] >= anchor[4] else (a[3] - a[1]) / anchor[4]
        if abs((a[3] - a[1]) - anchor[4] * s) > 2:
            sys.exit("FAIL: the largest bar %s is drawn %dx%d: not the shape of the SVG's"
                     % (anchor, a[2] - a[0], a[3] - a[1]))
        ox, oy = a[0] - anchor[1] * s, a[1] - anchor[2] * s
        for cls, x, y, w, h in fig:
            want = (ox + x * s, oy + y * s, ox + (x + w) * s, oy + (y + h) * s)
            # 2 pixels, and 2% of the way from the anchor (what the scale's rounding may add).
            tol = 2 + 0.02 * max(abs(x - anchor[1]), abs(y - anchor[2])) * s
            hit = [b for b in found[cls]
                   if b not in used and all(abs(b[i] - want[i]) <= tol for i in range(4))]
            if not hit:
                sys.exit("FAIL: the %s bar at x=%d y=%d %dx%d of the SVG is not in the screenshot "
                         "at (%d,%d)-(%d,%d)" % ((cls, x, y, w, h) + tuple(round(v) for v in want)))
            used.add(hit[0])
            n += 1
    print("ok %d bars" % n)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "ink":
        ink(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "bars":
        bars(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
