#!/bin/sh
# The report's page as people see it (`yunbak report --html`): a yunbakd whose catalog holds a
# month of two systems with Chinese names (snapshots with an RPO breach, lag hours over max_lag,
# storage samples, a passed and a failed drill), its page rendered by headless Chromium on a
# screen (PNG) and printed (PDF). Checked:
# - the page is valid HTML (html5lib, strict) and self-contained (html-check.py);
# - the charts are not blank: the screenshot holds the green of bars that met and the red of
#   bars that did not (the SVG charts' only colours); each chart is drawn, or, with nothing to
#   draw, says so in words;
# - 人事门户网站 is drawn with the CJK font: in the PDF's text, its six glyphs inked and different;
# - every printed page is A4 and no word runs off it;
# - rendering changed nothing (the same bytes).
# Skipped, saying why, without Chromium, poppler-utils, fonts-noto-cjk or python3-html5lib
# (scripts/install-deps.sh).
. "$TESTS/integration/lib.sh"
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROMIUM" ] || { echo "no chromium: the page cannot be rendered here"; exit 77; }
for t in pdftotext pdftoppm pdfinfo sqlite3; do
        command -v $t >/dev/null || { echo "no $t (poppler-utils, sqlite3): cannot read the rendering"; exit 77; }
done
fc-list 2>/dev/null | grep -q "Noto Sans CJK" || {
        echo "no Noto Sans CJK font (fonts-noto-cjk): Chinese text cannot render here"
        exit 77
}
# html5lib is Debian's python3-html5lib, for Debian's python3 (another python3 may come first).
PY5=
for p in python3 /usr/bin/python3; do
        $p -c 'import html5lib' 2>/dev/null && { PY5=$p; break; }
done
[ -n "$PY5" ] || { echo "no html5lib (python3-html5lib): the page cannot be validated"; exit 77; }
. "$TESTS/integration/daemon-lib.sh"

daemon_config
mkdir -p "$D/intracity"
sed -i "s|^    url: $D/store\$|&\n  intracity:\n    url: $D/intracity|" "$D/yunbakd.yaml"
NEVER="*-02-29 02:00 UTC"
daemon_system hr-portal 市人力资源和社会保障局 "$NEVER" "$NEVER" "tier2:
  store: intracity
  max_lag: 1min
  checkpoint: \"*-02-29 00:00:00 UTC\""
sed -i 's/^  name: .*/  name: 人事门户网站/' "$D/policies/hr-portal.yaml"
daemon_system finance 市财政局 "$NEVER" "$NEVER"
sed -i 's/^  name: .*/  name: 财政预算系统/' "$D/policies/finance.yaml"
finish() {
        set +e
        [ -z "${YUNBAKD_PID:-}" ] || kill "$YUNBAKD_PID" 2>/dev/null
        cleanup
}
trap finish EXIT
trap 'exit 1' HUP INT TERM
start_yunbakd
stop_yunbakd

# The month before the previous one in Asia/Shanghai, and its rows (the numbers themselves are
# report-numbers.sh's concern).
eval "$(python3 - <<'PY'
import datetime, zoneinfo
z = zoneinfo.ZoneInfo("Asia/Shanghai")
this = datetime.datetime.now(z).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
first = (this - datetime.timedelta(days=1)).replace(day=1)
prev = (first - datetime.timedelta(days=1)).replace(day=1)
print("MONTH=%s FROM=%d TO=%d" % (prev.strftime("%Y-%m"), prev.timestamp() * 10**6, first.timestamp() * 10**6))
PY
)"
python3 - "$D/catalog.db" "$FROM" "$TO" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
F, T = int(sys.argv[2]), int(sys.argv[3])
U, H, DAY = 10**6, 3600 * 10**6, 86400 * 10**6
c.execute("UPDATE policy_versions SET loaded_usec = ?", (F - 400 * DAY,))
for system, every in (("hr-portal", 20 * H), ("finance", 31 * H)):
    t, i = F - 10 * H, 0
    while t < T:
        c.execute("INSERT INTO snapshots VALUES (?, 'local', ?, 'full', NULL, NULL, ?, ?, 1, 1,"
                  " ?, 0, NULL)", (system, "%s-%d" % (system, i), t - U, t, 1000 * i))
        c.execute("INSERT INTO jobs (system, tier, level, trigger, state, scheduled_usec,"
                  " started_usec, finished_usec, snapshot) VALUES (?, 1, 'full', 'schedule',"
                  " ?, ?, ?, ?, ?)", (system, "failed" if i % 9 == 4 else "succeeded", t, t, t,
                                      "%s-%d" % (system, i)))
        t, i = t + every, i + 1
for h in range(0, 600, 7):
    c.execute("INSERT INTO replication_lag VALUES ('hr-portal', ?, 3600, 0, 900, ?, ?)",
              (F + h * H, 40000 + h * 50, 90000))
c.execute("INSERT INTO drills (system, tier, store, scenario, run_by, started_usec, state,"
          " rto_ms, rpo_seconds, rto_met, rpo_met) VALUES ('hr-portal', 1, 'local', '年度演练',"
          " 'root', ?, 'passed', 252000, 3600, 1, 1)", (F + 3 * DAY,))
c.execute("INSERT INTO drills (system, tier, store, scenario, run_by, started_usec, state,"
          " failed_phase) VALUES ('hr-portal', 1, 'local', '季度演练', 'root', ?, 'failed',"
          " 'verify')", (F + 20 * DAY,))
for system, a, b in (("hr-portal", 10 << 30, 13 << 30), ("finance", 4 << 30, 3 << 30)):
    c.execute("INSERT INTO storage_usage VALUES (?, 1, 'local', ?, ?, 10)", (system, F // DAY * DAY, a))
    c.execute("INSERT INTO storage_usage VALUES (?, 1, 'local', ?, ?, 30)", (system, T // DAY * DAY, b))
c.commit()
PY
start_yunbakd
cd "$SCRATCH"
yunbak report --month "$MONTH" --tz Asia/Shanghai --html report.html --socket "$SOCK" >summary.txt ||
        die "yunbak report --html failed"
stop_yunbakd
YUNBAKD_PID=
grep -q "Wrote the report's page to report.html" summary.txt || die "the summary does not say where the page went"
sha256sum report.html >report.html.sha256

# 1. Valid HTML, strictly; self-contained; four charts per department.
$PY5 - report.html <<'EOF' || die "the page is not valid HTML (above)"
import sys, html5lib
p = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
try:
    doc = p.parse(open(sys.argv[1], "rb"))
except Exception as e:
    sys.exit("html5lib: %s at %s" % (e, p.errors[:3]))
svgs = doc.findall(".//{http://www.w3.org/2000/svg}svg")
# hr-portal's department: 4 charts; finance's: RPO and storage (no tier 2, no drills: those
# two say so in words).
if len(svgs) != 6:
    sys.exit("%d charts drawn, not 6" % len(svgs))
empty = [p for p in doc.iter("p") if "chart-empty" in (p.get("class") or "")]
if len(empty) != 2:
    sys.exit("%d empty charts said in words, not 2" % len(empty))
EOF
python3 "$TESTS/integration/html-check.py" report.html >check.out || die "html-check: $(cat check.out)"

# chromium OUTDIR ARGS...: one headless run with a new, empty profile.
chromium() {
        out=$1
        shift
        mkdir -p "$out"
        timeout 40 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
                --disable-background-networking --disable-component-update --disable-sync \
                --user-data-dir="$out/profile" "$@" >"$out/log" 2>&1 ||
                die "chromium failed ($*): $(tail -5 "$out/log")"
}
chromium screen --window-size=1280,2400 --hide-scrollbars --screenshot="$SCRATCH/screen.png" \
        "file://$SCRATCH/report.html"
chromium print --no-pdf-header-footer --print-to-pdf="$SCRATCH/report.pdf" "file://$SCRATCH/report.html"
[ -s screen.png ] && [ -s report.pdf ] || die "chromium wrote no screenshot or no PDF"

# 2. The charts are not blank: the PNG decoded here (zlib), the bars' green and red counted.
python3 - screen.png <<'EOF' || die "the charts are blank (above)"
import struct, sys, zlib
b = open(sys.argv[1], "rb").read()
i, idat = 8, b""
while i < len(b):
    n, t = struct.unpack(">I4s", b[i:i + 8])
    if t == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", b[i + 8:i + 18])
    elif t == b"IDAT":
        idat += b[i + 8:i + 8 + n]
    i += 12 + n
bpp = {2: 3, 6: 4}[ctype]
raw, stride, prev, p = zlib.decompress(idat), w * bpp, bytearray(w * bpp), 0
green = red = 0
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
    for x in range(0, stride, bpp):
        px = tuple(line[x:x + 3])
        green += px == (0x2e, 0x8b, 0x3e)
        red += px == (0xc6, 0x28, 0x28)
# A bar is at least 16 pixels high; several bars of each colour are drawn.
if green < 2000 or red < 2000:
    sys.exit("%d green and %d red pixels: the bars that met and did not were not drawn" % (green, red))
EOF

# 3. 人事门户网站 drawn with the CJK font: in the PDF's text, its six glyphs inked and different.
pdftotext -bbox -f 1 -l 1 report.pdf bbox.html
pdftoppm -r 150 -f 1 -l 1 -gray report.pdf page
python3 - bbox.html page-1.pgm <<'EOF' || die "人事门户网站 is not drawn with a CJK font (above)"
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">人事门户网站</word>', text)
if not m:
    sys.exit("the name 人事门户网站 is not in the PDF's text")
x0, y0, x1, y1 = (float(v) * 150 / 72 for v in m.groups())
head = open(sys.argv[2], "rb").read().split(maxsplit=4)
w, pixels = int(head[1]), head[4]
cells = [tuple(tuple(pixels[y * w + x] < 128 for x in range(int(x0 + (x1 - x0) * k / 6), int(x0 + (x1 - x0) * (k + 1) / 6)))
               for y in range(int(y0), int(y1))) for k in range(6)]
if any(sum(map(sum, c)) < 10 for c in cells) or len(set(cells)) != 6:
    sys.exit("the six glyphs of 人事门户网站 are not six inked, different characters (boxes?)")
EOF

# 4. A4, nothing off the page.
pages=$(pdfinfo report.pdf | sed -n 's/^Pages: *//p')
pdfinfo -f 1 -l "$pages" report.pdf >pdfinfo.out
n=$(grep -c '^Page  *[0-9]* size: *594.9[0-9] x 841.9[0-9] pts (A4)' pdfinfo.out || true)
[ "$n" -eq "$pages" ] || die "not every page is A4: $(grep size pdfinfo.out)"
pdftotext -bbox report.pdf all.html
python3 - all.html <<'EOF' || die "the printed page overflows (above)"
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
for n, (width, words) in enumerate(re.findall(r'<page width="([\d.]+)"[^>]*>(.*?)</page>', text, re.S)):
    for x0, x1, word in re.findall(r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">([^<]*)</word>', words):
        if float(x1) > float(width) - 20 or float(x0) < 20:
            sys.exit("'%s' on page %d runs into the page's edge" % (word, n + 1))
EOF

# 5. Rendering changed nothing.
sha256sum -c --quiet report.html.sha256 || die "rendering changed the page"
echo "report-render: ok"
