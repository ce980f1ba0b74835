#!/bin/sh
# The decommission certificate's page as people see it: rendered by headless Chromium on a screen
# and printed to PDF, from a signed certificate with Chinese names (the fixture, with more source
# paths so that its table of artifacts runs over several printed pages). Checked:
# - the screenshot is not blank (the PNG decoded here by hand, with zlib);
# - the system's name 人事门户网站 is drawn with a CJK font, not as boxes: the PDF holds it as text
#   of an embedded font with its Unicode (pdftotext finds the word and where it is), and its six
#   glyphs, cut out of the printed page, each have ink and differ from each other. Rendered again
#   with only a Latin font installed (fontconfig told so), the same check fails: it tells boxes
#   from characters;
# - every printed page is A4, no word runs off a page, and no row of the artifacts' table is split
#   across pages (each row's path is on one page only);
# - the page made no network request: Chromium's net-log holds no request that the page made
#   (the browser's own requests aside), and a page with a remote image, stylesheet and font,
#   rendered the same way, is caught;
# - rendering changed nothing: the page is the same bytes and `yunbak certificate verify` passes.
# Skipped, saying why, without Chromium, poppler-utils or fonts-noto-cjk (scripts/install-deps.sh).
set -eu
. "$TESTS/integration/lib.sh"
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROMIUM" ] || { echo "no chromium: the page cannot be rendered here"; exit 77; }
for t in pdftotext pdftoppm pdfinfo python3; do
        command -v $t >/dev/null || { echo "no $t (poppler-utils, python3): cannot read the rendering"; exit 77; }
done
fc-list 2>/dev/null | grep -q "Noto Sans CJK" || {
        echo "no Noto Sans CJK font (fonts-noto-cjk): Chinese text cannot render here"
        exit 77
}
cd "$SCRATCH"

# A signed certificate whose table runs over pages: 20 more source paths, each named once.
python3 - "$TESTS/data/certificate/unsigned.json" >unsigned.json <<'EOF'
import copy, json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
src = next(a for a in d["artifacts"] if a["kind"] == "source-path")
for i in range(20):
    a = copy.deepcopy(src)
    a["name"] = "/srv/hr/part-%02d" % i
    a["location"] = "hr-app-01:/srv/hr/part-%02d" % i
    a["verification"]["detail"] = "part-%02d is empty" % i
    d["artifacts"].append(a)
# A long path without a break, and a long key: they must wrap inside their columns.
d["artifacts"][0]["location"] = "/srv/yunbak/" + "store-of-the-city-cloud-" * 6 + "/hr-portal"
print(json.dumps(d, ensure_ascii=False, indent=1))
EOF
yb-certsign sign "$SCRATCH/yunbakd" unsigned.json cert.json
yunbak certificate show cert.json --html cert.html >/dev/null
sha256sum cert.html >cert.html.sha256

# chromium OUTDIR ARGS...: one headless run with a new, empty profile; its net-log in OUTDIR.
chromium() {
        out=$1
        shift
        mkdir -p "$out"
        timeout 40 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
                --disable-background-networking --disable-component-update --disable-sync \
                --user-data-dir="$out/profile" --log-net-log="$out/net.json" "$@" \
                >"$out/log" 2>&1 || die "chromium failed ($*): $(tail -5 "$out/log")"
}
chromium screen --window-size=1280,900 --hide-scrollbars --screenshot="$SCRATCH/screen.png" \
        "file://$SCRATCH/cert.html"
chromium print --no-pdf-header-footer --print-to-pdf="$SCRATCH/cert.pdf" "file://$SCRATCH/cert.html"
[ -s screen.png ] || die "chromium wrote no screenshot"
[ -s cert.pdf ] || die "chromium wrote no PDF"

# 1. The screenshot is not blank: a PNG decoded with zlib; ink on a good part of it, and colours
#    (the result's green, the duties' yellow) besides black and white.
python3 - screen.png <<'EOF'
import struct, sys, zlib
b = open(sys.argv[1], "rb").read()
if b[:8] != b"\x89PNG\r\n\x1a\n":
    sys.exit("FAIL: screen.png is not a PNG")
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
ink = colour = 0
for y in range(h):
    f, line = raw[p], bytearray(raw[p + 1:p + 1 + stride])
    p += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        c = prev[x - bpp] if x >= bpp else 0
        u = prev[x]
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + u) & 255
        elif f == 3: line[x] = (line[x] + (a + u) // 2) & 255
        elif f == 4:
            pa, pb, pc = abs(u - c), abs(a - c), abs(a + u - 2 * c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else u if pb <= pc else c)) & 255
    prev = line
    for x in range(0, stride, bpp * 2):
        r, g, bl = line[x], line[x + 1], line[x + 2]
        ink += r + g + bl < 600
        colour += max(r, g, bl) - min(r, g, bl) > 40
total = (w // 2) * h
if ink < total // 50:
    sys.exit("FAIL: the screenshot is (nearly) blank: %d of %d pixels sampled are not white" % (ink, total))
if colour < total // 500:
    sys.exit("FAIL: the screenshot has no colour: the result and duties are not highlighted")
EOF

# 2. The system's name is drawn with a CJK font. cjk_check PDF: finds the word in the PDF's text
#    (with where it is on page 1), cuts it out of the page printed at 150 dpi and compares its
#    six glyphs.
cjk_check() {
        pdftotext -bbox -f 1 -l 1 "$1" "$1.bbox.html"
        pdftoppm -r 150 -f 1 -l 1 -gray "$1" "$1.page"
        python3 - "$1.bbox.html" "$1.page-1.pgm" <<'EOF'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">人事门户网站</word>', text)
if not m:
    sys.exit("the name 人事门户网站 is not in the PDF's text: it was not drawn with a font that has it")
x0, y0, x1, y1 = (float(v) * 150 / 72 for v in m.groups())
pgm = open(sys.argv[2], "rb").read()
head = pgm.split(maxsplit=4)
w, h, pixels = int(head[1]), int(head[2]), head[4]
cells = []
for k in range(6):
    a, b = int(x0 + (x1 - x0) * k / 6), int(x0 + (x1 - x0) * (k + 1) / 6)
    cells.append(tuple(tuple(pixels[y * w + x] < 128 for x in range(a, b))
                       for y in range(int(y0), int(y1))))
for k, c in enumerate(cells):
    if sum(map(sum, c)) < 10:
        sys.exit("glyph %d of 人事门户网站 has no ink" % (k + 1))
if len(set(cells)) != 6:
    sys.exit("the glyphs of 人事门户网站 are not six different characters (boxes?)")
EOF
}
cjk_check cert.pdf >cjk.out 2>&1 || die "Chinese text is not rendered with a CJK font: $(cat cjk.out)"
mkdir -p fonts-latin
cat >fonts-latin/fonts.conf <<EOF
<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig><dir>/usr/share/fonts/truetype/dejavu</dir><cachedir>$SCRATCH/fonts-latin/cache</cachedir></fontconfig>
EOF
if [ -d /usr/share/fonts/truetype/dejavu ]; then
        FONTCONFIG_FILE="$SCRATCH/fonts-latin/fonts.conf" chromium latin --no-pdf-header-footer \
                --print-to-pdf="$SCRATCH/latin.pdf" "file://$SCRATCH/cert.html"
        if cjk_check latin.pdf >latin.out 2>&1; then
                die "the CJK check passes a page rendered without a CJK font: it cannot tell boxes"
        fi
fi

# 3. A4 pages; nothing off a page; no row of the artifacts split between pages.
pages=$(pdfinfo cert.pdf | sed -n 's/^Pages: *//p')
[ "$pages" -ge 2 ] || die "the certificate with 28 artifacts printed on $pages page"
pdfinfo -f 1 -l "$pages" cert.pdf >pdfinfo.out
n=$(grep -c '^Page  *[0-9]* size: *594.9[0-9] x 841.9[0-9] pts (A4)' pdfinfo.out || true)
[ "$n" -eq "$pages" ] || die "not every page is A4: $(grep size pdfinfo.out)"
pdftotext -bbox cert.pdf cert.bbox.html
python3 - cert.bbox.html <<'EOF'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
where = {}
for n, page in enumerate(re.findall(r'<page width="([\d.]+)"[^>]*>(.*?)</page>', text, re.S)):
    width, words = float(page[0]), page[1]
    for x0, x1, word in re.findall(r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">([^<]*)</word>', words):
        if float(x1) > width - 20 or float(x0) < 20:
            sys.exit("FAIL: '%s' on page %d runs into the page's edge (x %s to %s of %s)" % (word, n + 1, x0, x1, width))
        for part in re.findall(r"part-\d\d", word):
            where.setdefault(part, set()).add(n + 1)
if len(where) != 20:
    sys.exit("FAIL: %d of the 20 source paths found in the PDF's text" % len(where))
split = {p: sorted(s) for p, s in where.items() if len(s) > 1}
if split:
    sys.exit("FAIL: rows split across pages: %s" % split)
if len(set().union(*where.values())) < 2:
    sys.exit("FAIL: the table does not run over two pages: the test proves nothing about splits")
EOF

# 4. No network request made by the page (the browser's own, whose initiator is "not an origin",
#    aside), in the screen and print runs; and the check sees one when a page makes it.
no_page_requests() {
        python3 - "$1" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
names = {v: k for k, v in d["constants"]["logEventTypes"].items()}
urls = sorted({e["params"]["url"] for e in d["events"]
               if names.get(e["type"]) == "URL_REQUEST_START_JOB" and "url" in e.get("params", {})
               and e["params"].get("initiator") != "not an origin"})
if urls:
    sys.exit("the page requested: " + ", ".join(urls))
EOF
}
for run in screen print; do
        no_page_requests "$run/net.json" >net.out 2>&1 || die "$run: $(cat net.out)"
done
sed 's|</head>|<link rel="stylesheet" href="http://127.0.0.1:9/x.css"></head>|' cert.html >remote.html
chromium remote --no-pdf-header-footer --print-to-pdf="$SCRATCH/remote.pdf" "file://$SCRATCH/remote.html"
if no_page_requests remote/net.json >net.out 2>&1; then
        die "the net-log check does not see a page's request for a stylesheet"
fi
grep -q "127.0.0.1:9/x.css" net.out || die "the net-log check names another request: $(cat net.out)"

# 5. Rendering changed nothing, and the page verifies.
sha256sum -c --quiet cert.html.sha256 || die "rendering changed the page"
cp yunbakd/yunbakd.pub yunbakd.pub
yunbak certificate verify cert.html --public-key yunbakd.pub >verify.out ||
        die "the rendered page does not verify: $(cat verify.out)"
grep -q "^valid: certificate 3 for hr-portal" verify.out || die "verify says: $(cat verify.out)"
echo "certificate-render: ok"
