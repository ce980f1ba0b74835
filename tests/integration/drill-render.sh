#!/bin/sh
# The drill record's page as people see it: a signed record with Chinese names (the fixture of
# tests/data/drill, its RTO target lowered so that the phases' bars are long) written by
# `yunbak drill show --html`, rendered by headless Chromium on a screen and printed to PDF.
# Checked:
# - the screenshot is not blank, and every bar of both charts (the phases against the RTO
#   target, the earlier drills) is drawn where its SVG puts it, in its colour (render-png.py);
# - the page is valid HTML to html5lib's strict parser (which does catch a broken page), and
#   self-contained (html-check.py);
# - 人事门户网站 and 市人力资源和社会保障局 are drawn with a CJK font, not as boxes (the PDF's text
#   and the glyphs cut out of the printed page; the check fails with a Latin font only);
# - every printed page is A4; the page made no network request (and the check would see one);
# - rendering changed nothing, `yunbak drill verify` passes on the page, and fails after one byte
#   of it changes (visible text, or the record it embeds), or with another yunbakd's key.
# Skipped, saying why, without Chromium, poppler-utils, fonts-noto-cjk or python3-html5lib.
set -eu
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/render-lib.sh"
render_require
PY5=""
for py in python3 /usr/bin/python3; do
        if "$py" -c "import html5lib" 2>/dev/null; then
                PY5=$py
                break
        fi
done
[ -n "$PY5" ] || { echo "no python3-html5lib: the page cannot be validated here"; exit 77; }
cd "$SCRATCH"

python3 - "$TESTS/data/drill/unsigned.json" >unsigned.json <<'EOF'
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
d["objectives"]["rto_seconds"] = 600
print(json.dumps(d, ensure_ascii=False, indent=1))
EOF
yb-certsign sign-drill "$SCRATCH/yunbakd" unsigned.json drill.json
yunbak drill show drill.json --html drill.html >show.out
grep -q "^Drill 12 of hr-portal (人事门户网站), 市人力资源和社会保障局: PASSED" show.out ||
        die "drill show says: $(cat show.out)"
sha256sum drill.html >drill.html.sha256

chromium screen --window-size=1024,1900 --hide-scrollbars --screenshot="$SCRATCH/screen.png" \
        "file://$SCRATCH/drill.html"
chromium print --no-pdf-header-footer --print-to-pdf="$SCRATCH/drill.pdf" "file://$SCRATCH/drill.html"
[ -s screen.png ] || die "chromium wrote no screenshot"
[ -s drill.pdf ] || die "chromium wrote no PDF"

# 1. Not blank; the bars where the SVG puts them (7: four phases, three earlier drills).
python3 "$TESTS/integration/render-png.py" bars screen.png drill.html >bars.out 2>&1 ||
        die "$(cat bars.out)"
grep -qx "ok 7 bars" bars.out || die "bars: $(cat bars.out)"

# 2. Valid HTML (html5lib, strict: any parse error raises), and it would see a broken page.
html5() {
        "$PY5" - "$1" <<'EOF'
import sys, html5lib
try:
    html5lib.HTMLParser(strict=True).parse(open(sys.argv[1], "rb"))
except Exception as e:
    sys.exit("not valid HTML: %s" % e)
EOF
}
html5 drill.html >html5.out 2>&1 || die "drill.html: $(cat html5.out)"
sed 's|<h2>Phases</h2>|<h2>Phases</h3>|' drill.html >broken.html
if html5 broken.html >/dev/null 2>&1; then
        die "html5lib's strict parser accepts a page with a mismatched end tag"
fi
python3 "$TESTS/integration/html-check.py" drill.html >check.out 2>&1 || die "$(cat check.out)"

# 3. The Chinese names drawn with a CJK font.
for word in 人事门户网站 市人力资源和社会保障局; do
        cjk_check drill.pdf $word >cjk.out 2>&1 ||
                die "Chinese text is not rendered with a CJK font: $(cat cjk.out)"
done
cjk_check_tells_boxes "$SCRATCH/drill.html" 人事门户网站

# 4. A4; no network request.
pdf_all_a4 drill.pdf >/dev/null
for run in screen print; do
        no_page_requests "$run/net.json" >net.out 2>&1 || die "$run: $(cat net.out)"
done
net_check_sees_requests drill.html

# 5. Rendering changed nothing; the page verifies, and not after one byte changes.
sha256sum -c --quiet drill.html.sha256 || die "rendering changed the page"
cp yunbakd/yunbakd.pub yunbakd.pub
expect_exit 0 yunbak drill verify drill.html --public-key yunbakd.pub
grep -q "^valid: drill 12 of hr-portal (passed)" "$SCRATCH/stdout" ||
        die "verify says: $(cat "$SCRATCH/stdout")"
expect_exit 0 yunbak drill verify drill.html
grep -q "^note: checked against the key the drill record names" "$SCRATCH/stdout" ||
        die "verify without a key does not say what it proved: $(cat "$SCRATCH/stdout")"
sed 's|<h2>Phases</h2>|<h2>Phasez</h2>|' drill.html >visible.html
expect_exit 1 yunbak drill verify visible.html --public-key yunbakd.pub
expect_stderr "visible.html: the page was changed at line [0-9]+, column [0-9]+"
sed 's|"rto_ms": 624743|"rto_ms": 624742|' drill.html >embedded.html
cmp -s drill.html embedded.html && die "the test's edit changed nothing"
expect_exit 1 yunbak drill verify embedded.html --public-key yunbakd.pub
expect_stderr "the drill record was changed after it was signed"
yb-certsign sign-drill "$SCRATCH/other" unsigned.json other.json
expect_exit 1 yunbak drill verify drill.html --public-key other/yunbakd.pub
expect_stderr "was signed by the key SHA256:[^ ]+, not by yunbakd's key in other/yunbakd.pub"
echo "drill-render: ok"
