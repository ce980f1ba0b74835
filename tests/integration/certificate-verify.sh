#!/bin/sh
# A decommission certificate checked with independent tools, and `yunbak certificate`:
# - the canonical form and the file are what Python's json.dumps writes, on text with everything
#   the format allows (Chinese, quotes, backslashes, \n, \t, '/', U+2028, large integers);
# - a certificate signed with a key made as yunbakd makes its own (yb-certsign) verifies with
#   Python and `openssl pkeyutl -verify -rawin`, running the very commands its page prints;
# - `yunbak certificate verify` passes the JSON and the HTML, and fails, saying why, after one
#   byte is changed in the JSON (content, whitespace), in the page's visible text or in the JSON
#   it embeds, with a wrong public key, and for a file that is no certificate;
# - the page passes an HTML check (python's html.parser: balanced, one <html>, nothing outside).
set -eu
. "$TESTS/integration/lib.sh"
command -v python3 >/dev/null || { echo "no python3: the independent check needs it"; exit 77; }
command -v openssl >/dev/null || { echo "no openssl: the independent check needs it"; exit 77; }
openssl pkeyutl -help 2>&1 | grep -q -- -rawin || {
        echo "openssl without pkeyutl -rawin (OpenSSL 3 has it)"
        exit 77
}
cd "$SCRATCH"

# 1. The canonical form and the file, against Python.
python3 - <<'EOF' >nasty.json
import json
print(json.dumps({
    "名称": "人事门户网站 \"引号\" back\\slash / slash\nline\ttab \u2028 😀",
    "big": 9223372036854775807, "neg": -9223372036854775808, "zero": 0,
    "list": [[], {}, True, False, None, "</script><!-- x -->"],
    "a": {"z": 1, "Z": 2, "é": 3, "e": 4}, "signature": {"left": "out"}}))
EOF
yb-certsign canonical nasty.json >ours.canonical
yb-certsign dump nasty.json >ours.dump
python3 - <<'EOF'
import json, sys
d = json.load(open("nasty.json", encoding="utf-8"))
dump = json.dumps(d, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
d.pop("signature")
canonical = json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
for name, want in (("ours.canonical", canonical), ("ours.dump", dump)):
    got = open(name, "rb").read()
    if got != want.encode():
        sys.exit("FAIL: %s differs from Python's: %r vs %r" % (name, got, want.encode()))
EOF
printf '{"a": 1.5}\n' >real.json
expect_exit 1 yb-certsign canonical real.json

# 2. A signed certificate; the page; Python and OpenSSL run the commands the page prints.
yb-certsign sign "$SCRATCH/yunbakd" "$TESTS/data/certificate/unsigned.json" cert.json
cp yunbakd/yunbakd.pub yunbakd.pub
yunbak certificate show cert.json --html cert.html >shown
grep -q "Every copy of 人事门户网站's data in 3 stores and on 1 host was destroyed and verified; 3 key copies destroyed (1 attested)." shown ||
        die "show does not say the result: $(cat shown)"
grep -q "deletion only  *destroy the volume (sda2)" shown || die "show lacks what the operator must do"
python3 "$TESTS/integration/html-check.py" cert.html >check || die "the page fails the HTML check: $(cat check)"
grep -q 'Noto Sans CJK SC' cert.html || die "the page does not name a font for Chinese"
grep -q '@page { size: A4' cert.html || die "the page has no A4 print rule"
grep -q '<td class="must">destroy the volume (vda)' cert.html || die "what the operator must do is not highlighted"
# The checker itself catches an outside reference and a tag left open.
sed 's|</head>|<link rel="stylesheet" href="https://fonts.example/x.css"></head>|' cert.html >bad.html
expect_exit 1 python3 "$TESTS/integration/html-check.py" bad.html
sed 's|<h2>System</h2>|<h2>System|' cert.html >bad.html
expect_exit 1 python3 "$TESTS/integration/html-check.py" bad.html
# Deterministic: the same certificate, the same page; and the page's JSON is the file's bytes.
yunbak certificate show cert.json --html again.html >/dev/null
cmp cert.html again.html || die "two pages of one certificate differ"
yunbak certificate show cert.html --json >embedded.json
cmp embedded.json cert.json || die "the page does not embed the JSON file byte for byte"

python3 - cert.html >openssl-steps <<'EOF'
import html, re, sys
page = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r'<pre id="verify-openssl">(.*?)</pre>', page, re.S)
if not m:
    sys.exit("FAIL: the page shows no OpenSSL steps")
print(html.unescape(m.group(1)))
EOF
grep -q "302a300506032b6570032100" openssl-steps || die "the steps do not build the DER key"
for f in cert.json cert.html; do
        rm -f cert.canonical cert.sig yunbakd.der
        sed "s|FILE|$f|" openssl-steps >steps.sh
        sh steps.sh >openssl.out 2>&1 || die "openssl does not verify $f: $(cat openssl.out)"
        grep -q "Signature Verified Successfully" openssl.out || die "openssl says: $(cat openssl.out)"
done
# The same steps refuse a certificate changed after signing (OpenSSL judges, not yunbak).
sed 's/"name": "人事门户网站"/"name": "人事门户网站X"/' cert.json >changed.json
sed "s|FILE|changed.json|" openssl-steps >steps.sh
expect_exit 1 sh steps.sh

# 3. yunbak certificate verify.
fp=$(base64 -d yunbakd.pub | openssl dgst -sha256 -binary | base64 | tr -d =)
for f in cert.json cert.html; do
        yunbak certificate verify "$f" --public-key yunbakd.pub >out
        grep -qx "valid: certificate 3 for hr-portal, signed by yunbakd key SHA256:$fp on 2026-12-06T15:04:05Z" out ||
                die "verify $f says: $(cat out)"
done
yunbak certificate verify cert.json >out
grep -q "proves it is intact since it was signed, not who signed it" out || die "no key: $(cat out)"

# A content byte of the JSON (still well-formed): the signature fails.
expect_exit 1 yunbak certificate verify changed.json --public-key yunbakd.pub
expect_stderr "invalid: changed.json: the certificate was changed after it was signed, or was not signed by this key"
# Whitespace: the content still checks out, but the bytes are not what yunbak writes.
sed '3s/^    {/     {/' cert.json >spaced.json
expect_exit 1 yunbak certificate verify spaced.json --public-key yunbakd.pub
expect_stderr "spaced.json was changed at line 3, column 5: its bytes are not what yunbak writes"
# A byte of the page's visible text.
sed 's|<h2>What was destroyed</h2>|<h2>What was kept</h2>|' cert.html >visible.html
cmp -s visible.html cert.html && die "the test did not change the page"
expect_exit 1 yunbak certificate verify visible.html --public-key yunbakd.pub
line=$(grep -n '<h2>What was kept</h2>' visible.html | cut -d: -f1)
expect_stderr "visible.html: the page differs at line $line, column 14 from what this yunbak \\([0-9.]+\\) writes for the certificate it embeds, whose signed content is intact: it was changed, or written by another version of yunbak"
# A content byte of the JSON the page embeds.
sed '/yunbak-certificate">/,$ s/"files": 45/"files": 44/' cert.html >embedded.html
expect_exit 1 yunbak certificate verify embedded.html --public-key yunbakd.pub
expect_stderr "the certificate embedded in the page was changed after it was signed"
# Whitespace of the JSON the page embeds.
sed '/yunbak-certificate">/,$ s/^  "id": 3,$/  "id":  3,/' cert.html >embedded-ws.html
cmp -s embedded-ws.html cert.html && die "the test did not change the embedded JSON"
expect_exit 1 yunbak certificate verify embedded-ws.html --public-key yunbakd.pub
line=$(grep -n '^  "id":  3,$' embedded-ws.html | cut -d: -f1)
expect_stderr "the certificate embedded in the page was changed at line $line, column 9: its bytes"
# Another key.
yb-certsign sign "$SCRATCH/other" "$TESTS/data/certificate/unsigned.json" other.json
expect_exit 1 yunbak certificate verify other.json --public-key yunbakd.pub
grep -qF "not by yunbakd's key in yunbakd.pub (SHA256:$fp)" "$SCRATCH/stderr" || die "wrong key: $(cat "$SCRATCH/stderr")"
expect_stderr "other.json was signed by the key SHA256:"
expect_exit 1 yunbak certificate verify cert.json --public-key cert.json
expect_stderr "is not yunbakd's public key"
# Not a certificate.
printf '{"type": "something-else"}\n' >other-doc.json
expect_exit 1 yunbak certificate verify other-doc.json
expect_stderr "is not a yunbak decommission certificate"
printf 'hello\n' >text.txt
expect_exit 1 yunbak certificate verify text.txt
expect_stderr "neither JSON nor an HTML page"
expect_exit 1 yunbak certificate verify missing.json
expect_stderr "cannot read missing.json"
expect_exit 2 yunbak certificate verify
echo "certificate-verify: ok"
