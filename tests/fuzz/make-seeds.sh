#!/bin/sh
# Makes the fuzz targets' seed corpora from a real repository: the real binaries back up a small
# tree (full, then incremental) and the snapshot files, unsealed and decompressed where a target
# reads plaintext, become seeds. The committed tests/fuzz/seeds/ were made with it; re-run it
# after a format change:
#   sh tests/fuzz/make-seeds.sh BUILD_DIR [OUT_DIR]
# BUILD_DIR is a YB_FUZZ=ON build (it needs yunbak, yunbak-agent and tests/fuzz/yb-fuzz-seedgen);
# OUT_DIR defaults to tests/fuzz/seeds. Needs zstd(1).
set -eu

[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [OUT_DIR]" >&2; exit 2; }
BIN=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${2:-$HERE/seeds}
SEEDGEN="$BIN/tests/fuzz/yb-fuzz-seedgen"
for f in "$BIN/yunbak" "$BIN/yunbak-agent" "$SEEDGEN"; do
        [ -x "$f" ] || { echo "$0: $f is missing: build with -DYB_FUZZ=ON first" >&2; exit 1; }
done
command -v zstd >/dev/null || { echo "$0: needs zstd" >&2; exit 1; }

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT INT TERM
export YUNBAK_KDF=interactive YB_LOG_LEVEL=warning
SYS=s
SRC="$W/src/app"
STORE="$W/store"
STATE="$W/state"

# A small tree with every kind of entry; the big file (> 64 KiB, so the incremental stores it as
# a delta) repeats itself so that the volumes stay a few KiB.
mkdir -p "$SRC/etc" "$SRC/data/sub" "$SRC/empty-dir"
printf 'name: app\nport: 8080\n' >"$SRC/etc/app.yaml"
printf 'hello\n' >"$SRC/data/hello.txt"
: >"$SRC/data/empty"
awk 'BEGIN { for (i = 0; i < 2400; i++) printf "record %03d: the quick brown fox\n", i % 40 }' \
        >"$SRC/data/big.txt"
printf '\000\001\002\377binary' >"$SRC/data/sub/blob.bin"
printf 'odd name\n' >"$SRC/data/$(printf 'caf\351')"
LONG="$SRC/data/a-directory-name-long-enough-that-the-path-needs/a-pax-path-record-in-the-volume"
mkdir -p "$LONG"
printf 'deep\n' >"$LONG/file-with-a-long-path.txt"
ln -s ../etc/app.yaml "$SRC/data/link"
ln "$SRC/data/hello.txt" "$SRC/data/hardlink.txt"
mkfifo "$SRC/fifo"
setfattr -n user.comment -v 'seed xattr' "$SRC/data/hello.txt" 2>/dev/null || true
chmod 1750 "$SRC/data/sub"

printf 'seed passphrase\n' >"$W/pass"
mkdir -p "$W/keys" "$STORE"
"$BIN/yunbak" key init --system "$SYS" --out "$W/keys" --passphrase-file "$W/pass" >/dev/null
backup() { # level -> prints the snapshot id
        "$BIN/yunbak-agent" backup --store "$STORE" --system "$SYS" \
                --public-key "$W/keys/$SYS.pub" --level "$1" --state-dir "$STATE" --threads 1 \
                --json "$SRC" | python3 -c 'import json,sys; print(json.load(sys.stdin)["snapshot"])'
}
S1=$(backup full)
# Change a line in the middle of the big file, add, delete, rename.
sed -i '1000s/the quick/THE QUICK/' "$SRC/data/big.txt"
printf 'fresh\n' >"$SRC/data/new-file"
rm "$SRC/fifo"
mv "$SRC/etc/app.yaml" "$SRC/etc/app-renamed.yaml"
S2=$(backup incremental)

decrypt() { # sealed file -> its plaintext (zstd)
        "$BIN/yunbak" decrypt --key "$W/keys/$SYS.key" --passphrase-file "$W/pass" "$1"
}

rm -rf "$OUT"
mkdir -p "$OUT/header" "$OUT/manifest" "$OUT/sigindex" "$OUT/config" "$OUT/seal" \
        "$OUT/pax-zstd" "$OUT/delta" "$OUT/signature"
cp "$STORE/$SYS/config" "$OUT/config/config"
cp "$W/keys/$SYS.pub" "$OUT/config/public-key"
n=0
for id in "$S1" "$S2"; do
        n=$((n + 1))
        D="$STORE/$SYS/snapshots/$id"
        cp "$D/header" "$OUT/header/header-$n"
        decrypt "$D/manifest" | zstd -dq >"$OUT/manifest/manifest-$n"
        "$SEEDGEN" unseal-agent "$STATE" <"$D/sigindex" | zstd -dq >"$OUT/sigindex/sigindex-$n"
        decrypt "$D/vol-000001" >"$OUT/pax-zstd/volume-$n.zst"
        # fuzz-seal opens files sealed to its fixed key: reseal real plaintexts to it.
        decrypt "$D/manifest" | "$SEEDGEN" seal "yunbak/1 $SYS $id manifest" >"$OUT/seal/manifest-$n"
done
# One file sealed to another key (the real one): fuzz-seal rejects it, a path worth keeping.
cp "$STORE/$SYS/snapshots/$S1/manifest" "$OUT/seal/other-key"
printf '' | "$SEEDGEN" seal "" >"$OUT/seal/empty"
# A volume with no entries and a zstd stream of a few frames.
printf '' | zstd -q >"$OUT/pax-zstd/empty.zst"
{ printf 'frame one' | zstd -q; printf 'frame two' | zstd -q; } >"$OUT/pax-zstd/two-frames.zst"

# Deltas against fuzz-delta's basis, made as the agent makes them.
"$SEEDGEN" basis >"$W/basis"
"$SEEDGEN" delta <"$W/basis" >"$OUT/delta/same"
printf '' | "$SEEDGEN" delta >"$OUT/delta/empty"
{ head -c 5000 "$W/basis"; printf 'INSERTED TEXT'; tail -c +5001 "$W/basis"; } |
        "$SEEDGEN" delta >"$OUT/delta/insert"
{ tail -c +4097 "$W/basis"; head -c 4096 "$W/basis"; printf 'appended'; } |
        "$SEEDGEN" delta >"$OUT/delta/reorder"
printf 'nothing in common with the basis\n' | "$SEEDGEN" delta >"$OUT/delta/literal"

# Signatures as the sigindex keeps them: of the basis, and of a short file.
"$SEEDGEN" signature <"$W/basis" >"$OUT/signature/basis"
printf 'short file\n' | "$SEEDGEN" signature >"$OUT/signature/short"

# fuzz-deltagen's inputs are edit programs (see the fields read in fuzz-deltagen.c), not files.
mkdir -p "$OUT/deltagen"
python3 - "$OUT/deltagen" <<'PY'
import struct, sys
u8 = lambda v: struct.pack('>B', v)
u16 = lambda v: struct.pack('>H', v)
u32 = lambda v: struct.pack('>I', v)
def old(shape, x, extra, kinds):  # shape % 16 + 1 pages and extra bytes, a kind a page
    return u8(shape) + u32(x) + (u8(extra) if shape % 16 == 15 else u16(extra)) + bytes(kinds)
BUILDER = u8(1)
def sig(block_index, strong):  # a signature by hand: blocks[block_index], 4 + strong bytes
    return u8(0) + u8(block_index) + u8(strong)
def op(code, a, tail=b''):
    return u8(code) + u16(a) + tail
def seed(name, o, s, chunk, cuts, ops, cut_at=()):
    data = o + s + u32(chunk - 1) + u8(cuts) + u8(len(ops)) + b''.join(ops) + u8(0)
    data += b''.join(u16(c) for c in cut_at)
    open(sys.argv[1] + '/' + name, 'wb').write(data)
PAGES9 = old(8, 0x12345678, 256, [4, 0, 4, 2, 1, 4, 3, 4, 4, 4])  # 9 pages and 256 bytes
# Pages changed in place: in-place restore's case, whole and in two parts.
seed('pages', PAGES9, BUILDER, 4097, 1,
     [op(0, 0x3000), op(3, 10, b'CHANGED!!!'), op(2, 10), op(9, 0)], [3])
# Bytes moved, zeros, repeated blocks against 2 KiB blocks of 12-byte sums, in three parts.
seed('moved', PAGES9, sig(5, 8), 65536, 2,
     [op(1, 0, u32(5000)), op(0, 0x4000), op(5, 0x2000), op(6, 2, u8(3)), op(4, 3000),
      op(1, 0, u32(0)), op(9, 0)], [2, 5])
# An appended log, fed a byte at a time.
seed('append', old(5, 7, 100, [4] * 7), BUILDER, 1, 0, [op(9, 0), op(4, 5000)])
# A file cut short.
seed('truncate', PAGES9, BUILDER, 70000, 0, [op(9, 0), op(7, 0, u32(20000))])
# A tiny old file and 1-byte blocks of 4-byte sums.
seed('tiny', old(15, 99, 100, [4]), sig(0, 0), 33, 0, [op(9, 0), op(3, 5, b'hello')])
# Over 1 MiB of new bytes between copies, in three parts.
seed('big', PAGES9, BUILDER, 70000, 2,
     [op(0, 0x2000), op(8, 0xc004), op(6, 3, u8(2)), op(9, 0)], [100, 200])
# Zero pages everywhere, 7-byte blocks.
seed('zeros', old(11, 1, 0, [0] * 12), sig(1, 28), 9999, 3,
     [op(5, 0xffff), op(9, 0)], [1, 2, 3])
PY

# A decommission certificate signed with a fresh key, as its JSON file and as its page.
mkdir -p "$OUT/certificate"
"$BIN/yb-certsign" sign "$W/yunbakd" "$HERE/../data/certificate/unsigned.json" \
        "$OUT/certificate/cert.json"
"$BIN/yunbak" certificate show "$OUT/certificate/cert.json" --html "$OUT/certificate/cert.html" \
        >/dev/null

# A drill record signed with a fresh key, as its JSON file and as its page.
mkdir -p "$OUT/drill"
"$BIN/yb-certsign" sign-drill "$W/yunbakd" "$HERE/../data/drill/unsigned.json" \
        "$OUT/drill/drill.json"
"$BIN/yunbak" drill show "$OUT/drill/drill.json" --html "$OUT/drill/drill.html" >/dev/null

du -ab "$OUT" | sort -k2
