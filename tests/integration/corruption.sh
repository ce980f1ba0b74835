#!/bin/sh
# One flipped byte in any kind of repository file is caught by verify without a key, which names
# the snapshot and the file; restore refuses damaged content instead of writing it.
. "$TESTS/integration/lib.sh"

SRC="$SCRATCH/src/data"
mkdir -p "$SRC" "$SCRATCH/store"
head -c 500000 /dev/urandom >"$SRC/a"
seq 1 50000 >"$SRC/b"
make_key hr
yunbak-agent backup --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
        --level full "$SRC" >/dev/null
id=$(ls "$SCRATCH/store/hr/snapshots")
snap="$SCRATCH/store/hr/snapshots/$id"
cp -a "$SCRATCH/store" "$SCRATCH/pristine"

flip() { # file offset: xor one byte with 0x01
        python3 - "$1" "$2" <<'PY'
import sys
p, off = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, "rb").read())
off = off % len(b)
b[off] ^= 1
open(p, "wb").write(bytes(b))
PY
}
reset() { rm -rf "$SCRATCH/store"; cp -a "$SCRATCH/pristine" "$SCRATCH/store"; }

for f in manifest vol-000001 sigindex; do
        size=$(stat -c %s "$snap/$f")
        # The clear header, the first chunk, the middle and the last byte.
        for off in 3 40 200 $((size / 2)) $((size - 1)); do
                reset
                flip "$snap/$f" "$off"
                expect_exit 5 yunbak verify --store "$SCRATCH/store" --system hr
                grep -q "DAMAGED  $id/$f" "$SCRATCH/stdout" || { cat "$SCRATCH/stdout"; die "verify did not name $f (offset $off)"; }
        done
done
for off in 20 100 300; do
        reset
        flip "$snap/header" "$off"
        expect_exit 5 yunbak verify --store "$SCRATCH/store" --system hr
        grep -q "DAMAGED  $id/header" "$SCRATCH/stdout" || die "verify did not name the header (offset $off)"
done
# Truncated and extended files.
reset
truncate -s -1 "$snap/vol-000001"
expect_exit 5 yunbak verify --store "$SCRATCH/store" --system hr
reset
printf 'x' >>"$snap/manifest"
expect_exit 5 yunbak verify --store "$SCRATCH/store" --system hr
# A stray file in a snapshot is reported.
reset
: >"$snap/vol-000002"
expect_exit 5 yunbak verify --store "$SCRATCH/store" --system hr
grep -q "vol-000002: not named" "$SCRATCH/stdout" || die "a stray file was not reported"
# A damaged config: a clear message and status 5.
reset
flip "$SCRATCH/store/hr/config" 5
expect_exit 5 yunbak verify --store "$SCRATCH/store" --system hr
expect_stderr "config .*damaged"

# Restore never writes damaged content. Flip a byte deep inside the volume: the sealed chunk
# fails to authenticate and the files in it are named as not restored.
reset
flip "$snap/vol-000001" $(($(stat -c %s "$snap/vol-000001") - 100))
expect_exit 5 yunbak restore --store "$SCRATCH/store" --system hr --key "$SCRATCH/keys/hr.key" \
        --passphrase-file "$SCRATCH/pass" --target "$SCRATCH/out"
expect_stderr "Not restored: 'data/b'.*damaged"
[ ! -e "$SCRATCH/out/data/b" ] || die "a damaged file was restored"
reset
yunbak verify --store "$SCRATCH/store" --system hr >/dev/null || die "the pristine copy does not verify"
echo "corruption: ok"
