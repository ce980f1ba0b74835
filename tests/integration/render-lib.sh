# Sourced by the tests that render yunbak's self-contained pages (certificate-render.sh,
# drill-render.sh) with headless Chromium and check what a person sees:
#   render_require                 skips (77, saying why) without Chromium, poppler-utils,
#                                  python3 or fonts-noto-cjk; sets $CHROMIUM
#   chromium OUTDIR ARGS...        one headless run with a new profile, its net-log in OUTDIR
#   png_not_blank PNG              ink and colour in the screenshot (render-png.py ink)
#   cjk_check PDF WORD             WORD (six CJK characters) is in the PDF's text and its glyphs,
#                                  cut out of page 1 printed at 150 dpi, have ink and differ
#   cjk_check_tells_boxes PAGE WORD   the same check fails on PAGE printed with a Latin font only
#   pdf_all_a4 PDF                 prints its pages' count; dies unless every page is A4
#   no_page_requests NETLOG        fails (naming them) when the page requested anything
#   net_check_sees_requests PAGE   the net-log check catches a page that loads a stylesheet
# The caller has sourced lib.sh and is in $SCRATCH.

render_require() {
        CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
        [ -n "$CHROMIUM" ] || { echo "no chromium: the page cannot be rendered here"; exit 77; }
        for t in pdftotext pdftoppm pdfinfo python3; do
                command -v $t >/dev/null ||
                        { echo "no $t (poppler-utils, python3): cannot read the rendering"; exit 77; }
        done
        fc-list 2>/dev/null | grep -q "Noto Sans CJK" || {
                echo "no Noto Sans CJK font (fonts-noto-cjk): Chinese text cannot render here"
                exit 77
        }
}

chromium() {
        out=$1
        shift
        mkdir -p "$out"
        timeout 40 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
                --disable-background-networking --disable-component-update --disable-sync \
                --user-data-dir="$out/profile" --log-net-log="$out/net.json" "$@" \
                >"$out/log" 2>&1 || die "chromium failed ($*): $(tail -5 "$out/log")"
}

png_not_blank() {
        python3 "$TESTS/integration/render-png.py" ink "$1" >"$1.ink" 2>&1 || die "$(cat "$1.ink")"
}

cjk_check() {
        pdftotext -bbox -f 1 -l 1 "$1" "$1.bbox.html"
        pdftoppm -r 150 -f 1 -l 1 -gray "$1" "$1.page"
        python3 - "$1.bbox.html" "$1.page-1.pgm" "$2" <<'EOF'
import re, sys
text, word = open(sys.argv[1], encoding="utf-8").read(), sys.argv[3]
m = re.search(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">' + word + '</word>', text)
if not m:
    sys.exit("the name %s is not in the PDF's text: it was not drawn with a font that has it" % word)
x0, y0, x1, y1 = (float(v) * 150 / 72 for v in m.groups())
pgm = open(sys.argv[2], "rb").read()
head = pgm.split(maxsplit=4)
w, h, pixels = int(head[1]), int(head[2]), head[4]
n = len(word)
cells = []
for k in range(n):
    a, b = int(x0 + (x1 - x0) * k / n), int(x0 + (x1 - x0) * (k + 1) / n)
    cells.append(tuple(tuple(pixels[y * w + x] < 128 for x in range(a, b))
                       for y in range(int(y0), int(y1))))
for k, c in enumerate(cells):
    if sum(map(sum, c)) < 10:
        sys.exit("glyph %d of %s has no ink" % (k + 1, word))
if len(set(cells)) != len(set(word)):
    sys.exit("the glyphs of %s are not %d different characters (boxes?)" % (word, len(set(word))))
EOF
}

cjk_check_tells_boxes() {
        [ -d /usr/share/fonts/truetype/dejavu ] || return 0
        mkdir -p fonts-latin
        cat >fonts-latin/fonts.conf <<EOF
<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig><dir>/usr/share/fonts/truetype/dejavu</dir><cachedir>$SCRATCH/fonts-latin/cache</cachedir></fontconfig>
EOF
        FONTCONFIG_FILE="$SCRATCH/fonts-latin/fonts.conf" chromium latin --no-pdf-header-footer \
                --print-to-pdf="$SCRATCH/latin.pdf" "file://$1"
        if cjk_check latin.pdf "$2" >latin.out 2>&1; then
                die "the CJK check passes a page rendered without a CJK font: it cannot tell boxes"
        fi
}

pdf_all_a4() {
        pages=$(pdfinfo "$1" | sed -n 's/^Pages: *//p')
        pdfinfo -f 1 -l "$pages" "$1" >"$1.info"
        n=$(grep -c '^Page  *[0-9]* size: *594.9[0-9] x 841.9[0-9] pts (A4)' "$1.info" || true)
        [ "$n" -eq "$pages" ] || die "not every page of $1 is A4: $(grep size "$1.info")"
        echo "$pages"
}

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

net_check_sees_requests() {
        sed 's|</head>|<link rel="stylesheet" href="http://127.0.0.1:9/x.css"></head>|' "$1" >remote.html
        chromium remote --no-pdf-header-footer --print-to-pdf="$SCRATCH/remote.pdf" \
                "file://$SCRATCH/remote.html"
        if no_page_requests remote/net.json >net.out 2>&1; then
                die "the net-log check does not see a page's request for a stylesheet"
        fi
        grep -q "127.0.0.1:9/x.css" net.out || die "the net-log check names another request: $(cat net.out)"
}
