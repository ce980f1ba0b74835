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
. "$TESTS/integration/render-lib.sh"
render_require
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

chromium screen --window-size=1280,900 --hide-scrollbars --screenshot="$SCRATCH/screen.png" \
        "file://$SCRATCH/cert.html"
chromium print --no-pdf-header-footer --print-to-pdf="$SCRATCH/cert.pdf" "file://$SCRATCH/cert.html"
[ -s screen.png ] || die "chromium wrote no screenshot"
[ -s cert.pdf ] || die "chromium wrote no PDF"

# 1. The screenshot is not blank: ink on a good part of it, and colours (the result's green,
#    the duties' yellow) besides black and white.
png_not_blank screen.png

# 2. The system's name is drawn with a CJK font (its six glyphs, cut out of page 1 printed at
#    150 dpi, differ), and the check would tell boxes.
cjk_check cert.pdf 人事门户网站 >cjk.out 2>&1 ||
        die "Chinese text is not rendered with a CJK font: $(cat cjk.out)"
cjk_check_tells_boxes "$SCRATCH/cert.html" 人事门户网站

# 3. A4 pages; nothing off a page; no row of the artifacts split between pages.
pages=$(pdf_all_a4 cert.pdf)
[ "$pages" -ge 2 ] || die "the certificate with 28 artifacts printed on $pages page"
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
for run in screen print; do
        no_page_requests "$run/net.json" >net.out 2>&1 || die "$run: $(cat net.out)"
done
net_check_sees_requests cert.html

# 5. Rendering changed nothing, and the page verifies.
sha256sum -c --quiet cert.html.sha256 || die "rendering changed the page"
cp yunbakd/yunbakd.pub yunbakd.pub
yunbak certificate verify cert.html --public-key yunbakd.pub >verify.out ||
        die "the rendered page does not verify: $(cat verify.out)"
grep -q "^valid: certificate 3 for hr-portal" verify.out || die "verify says: $(cat verify.out)"
echo "certificate-render: ok"
