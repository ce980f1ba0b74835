#!/bin/sh
# A file over 4 GiB (sparse, so the test stays cheap on disk) survives backup and restore byte
# for byte, with data beyond the 4 GiB mark, and comes back sparse.
. "$TESTS/integration/lib.sh"

SRC="$SCRATCH/src/big"
mkdir -p "$SRC" "$SCRATCH/store"
f="$SRC/huge.img"
truncate -s 4400M "$f"
printf 'head' | dd of="$f" bs=1 conv=notrunc 2>/dev/null
printf 'past four GiB' | dd of="$f" bs=1M seek=4200 conv=notrunc 2>/dev/null
printf 'tail' | dd of="$f" bs=1 seek=$((4400 * 1048576 - 4)) conv=notrunc 2>/dev/null
make_key hr
yunbak-agent backup --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
        --level full "$SRC" >/dev/null
yunbak restore --store "$SCRATCH/store" --system hr --key "$SCRATCH/keys/hr.key" \
        --passphrase-file "$SCRATCH/pass" --target "$SCRATCH/out" >/dev/null
g="$SCRATCH/out/big/huge.img"
[ "$(stat -c %s "$g")" = "$(stat -c %s "$f")" ] || die "size differs"
[ "$(b2sum <"$g")" = "$(b2sum <"$f")" ] || die "content differs"
[ "$(stat -c %b "$g")" -lt 100000 ] || die "restored without holes ($(stat -c %b "$g") blocks)"
[ "$(dd if="$g" bs=1M skip=4200 count=1 2>/dev/null | head -c 13)" = "past four GiB" ] || die "data past 4 GiB lost"
echo "large-file: ok"
