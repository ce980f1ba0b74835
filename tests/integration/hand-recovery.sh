#!/bin/sh
# Recovers files by hand exactly as docs/format.md ("Recovering by hand") says, with only the
# key, `yunbak decrypt`, zstd, tar and rdiff; checks the content hash with b2sum.
. "$TESTS/integration/lib.sh"
for t in zstd tar rdiff b2sum; do command -v $t >/dev/null || exit 77; done

SRC="$SCRATCH/src/data"
mkdir -p "$SRC" "$SCRATCH/store"
head -c 1000000 /dev/urandom >"$SRC/db.bin"
printf 'version one\n' >"$SRC/note.txt"
age_recent "$SRC"
make_key hr
backup() {
        yunbak-agent backup --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
                --level "$1" --json "$SRC" | python3 -c 'import json,sys; print(json.load(sys.stdin)["snapshot"])'
}
full=$(backup full)
printf 'PAGE ONE CHANGED' | dd of="$SRC/db.bin" bs=4096 seek=10 conv=notrunc 2>/dev/null
incr1=$(backup incremental)
printf 'PAGE TWO CHANGED' | dd of="$SRC/db.bin" bs=4096 seek=200 conv=notrunc 2>/dev/null
incr2=$(backup incremental)
S="$SCRATCH/store/hr/snapshots"

# Step 1: the chain, from the clear headers.
for id in "$incr1" "$incr2"; do
        head -n 1 "$S/$id/header" | python3 -c 'import json,sys; h=json.load(sys.stdin); assert h["level"]=="incremental" and h["parent"], h'
done
export YUNBAK_PASSPHRASE_FILE="$SCRATCH/pass"
cd "$SCRATCH"
# Step 2: the full.
mkdir full incr1 incr2
yunbak decrypt --key keys/hr.key "$S/$full/vol-000001" | zstd -d | tar -x -C full
cmp full/tree/data/note.txt "$SRC/note.txt" || die "the full's note.txt differs"
# Step 3: the deltas, in order.
yunbak decrypt --key keys/hr.key "$S/$incr1/vol-000001" | zstd -d | tar -x -C incr1
yunbak decrypt --key keys/hr.key "$S/$incr2/vol-000001" | zstd -d | tar -x -C incr2
[ -f incr1/delta/data/db.bin ] || die "no delta for db.bin in the first incremental"
[ ! -e incr1/tree/data/note.txt ] && [ ! -e incr1/delta/data/note.txt ] || die "unchanged note.txt was stored again"
rdiff patch full/tree/data/db.bin incr1/delta/data/db.bin v1
rdiff patch v1 incr2/delta/data/db.bin v2
cmp v2 "$SRC/db.bin" || die "the hand-recovered db.bin differs"
# Step 4: the manifest's hash of the file is its BLAKE2b-256.
yunbak decrypt --key keys/hr.key "$S/$incr2/manifest" | zstd -d >manifest.bin
want=$(b2sum -l 256 v2 | cut -d' ' -f1)
python3 - manifest.bin "$want" <<'PY' || die "the manifest does not hold the file's BLAKE2b-256"
import sys
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"YBMANIF1"
assert bytes.fromhex(sys.argv[2]) in data
PY
echo "hand-recovery: ok"
