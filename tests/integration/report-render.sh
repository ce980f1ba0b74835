#!/bin/sh
# The report's page as people see it (`yunbak report --html`): a yunbakd whose catalog holds a
# month of two systems with Chinese names (snapshots with an RPO breach, lag hours over max_lag,
# storage samples, a passed and a failed drill), its page rendered by headless Chromium on a
# screen (PNG) and printed (PDF), with the checks render-lib.sh shares. Checked:
# - the page is valid HTML (html5lib, strict) and self-contained (html-check.py); each chart is
#   drawn, or, with nothing to draw, says so in words;
# - the charts are not blank: every bar is in the screenshot where its SVG puts it, in its
#   colour (render-png.py), the bars that met in green and those that did not in red;
# - 人事门户网站 is drawn with the CJK font (and the check fails with a Latin font only);
# - every printed page is A4, no word runs off it; the page made no network request;
# - rendering changed nothing (the same bytes).
# About 40 s on an idle machine, most of it Chromium's four runs (screen, print, the Latin-only
# print that proves the CJK check, the page with a remote stylesheet that proves the net check).
# Skipped, saying why, without Chromium, poppler-utils, fonts-noto-cjk or python3-html5lib
# (scripts/install-deps.sh).
set -eu
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/render-lib.sh"
render_require
command -v sqlite3 >/dev/null || { echo "no sqlite3: the test cannot fill the catalog"; exit 77; }
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

# 1. Valid HTML, strictly; self-contained; each chart drawn or said in words.
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

chromium screen --window-size=1280,2600 --hide-scrollbars --screenshot="$SCRATCH/screen.png" \
        "file://$SCRATCH/report.html"
chromium print --no-pdf-header-footer --print-to-pdf="$SCRATCH/report.pdf" "file://$SCRATCH/report.html"
[ -s screen.png ] && [ -s report.pdf ] || die "chromium wrote no screenshot or no PDF"

# 2. The charts are not blank: every bar where its SVG puts it, in its colour; both colours.
png_not_blank screen.png
python3 "$TESTS/integration/render-png.py" bars screen.png report.html >bars.out 2>&1 ||
        die "$(cat bars.out)"
bars=$(grep -o '<rect class="' report.html | wc -l)
grep -qx "ok $bars bars" bars.out || die "bars: $(cat bars.out) (the page has $bars)"
grep -q '<rect class="ok"' report.html && grep -q '<rect class="bad"' report.html ||
        die "the charts do not show both what met (green) and what did not (red)"

# 3. 人事门户网站 drawn with the CJK font, not as boxes.
cjk_check report.pdf 人事门户网站 >cjk.out 2>&1 ||
        die "Chinese text is not rendered with a CJK font: $(cat cjk.out)"
cjk_check_tells_boxes "$SCRATCH/report.html" 人事门户网站

# 4. A4, nothing off the page; no network request.
pdf_all_a4 report.pdf >/dev/null
pdftotext -bbox report.pdf all.html
python3 - all.html <<'EOF' || die "the printed page overflows (above)"
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
for n, (width, words) in enumerate(re.findall(r'<page width="([\d.]+)"[^>]*>(.*?)</page>', text, re.S)):
    for x0, x1, word in re.findall(r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">([^<]*)</word>', words):
        if float(x1) > float(width) - 20 or float(x0) < 20:
            sys.exit("'%s' on page %d runs into the page's edge" % (word, n + 1))
EOF
for run in screen print; do
        no_page_requests "$run/net.json" >net.out 2>&1 || die "$run: $(cat net.out)"
done
net_check_sees_requests report.html

# 5. Rendering changed nothing.
sha256sum -c --quiet report.html.sha256 || die "rendering changed the page"
echo "report-render: ok"
