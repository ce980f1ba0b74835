#!/bin/sh
# A local store's files leave the page cache once used (core/store/store-local.c): a volume is
# not cached after the backup that wrote it (dropped after its fsync), nor after a key-less
# verify, a restore or a copy read it (dropped behind the reader). Resident bytes are read with
# fincore (util-linux), which asks the kernel (mincore).
. "$TESTS/integration/lib.sh"

resident() { fincore --bytes --noheadings --output RES "$1" | tr -d ' '; }
warm() { cat "$1" >/dev/null && [ "$(resident "$1")" -gt 0 ] || die "cat did not bring $1 into the cache"; }

# Where the kernel keeps no page cache of its own for a file (tmpfs keeps every page), advice
# to drop one does nothing: say so and skip.
mkdir -p "$SCRATCH/probe"
head -c 16777216 /dev/urandom >"$SCRATCH/probe/f"
sync "$SCRATCH/probe/f" # (dirty pages are never dropped)
cat "$SCRATCH/probe/f" >/dev/null
dd if="$SCRATCH/probe/f" iflag=nocache count=0 status=none
if [ "$(resident "$SCRATCH/probe/f")" != 0 ]; then
        echo "skipped: $SCRATCH is on a file system that keeps pages POSIX_FADV_DONTNEED drops elsewhere ($(stat -f -c %T "$SCRATCH"))" >&2
        exit 77
fi

SRC="$SCRATCH/src"
mkdir -p "$SRC" "$SCRATCH/store" "$SCRATCH/far"
head -c 25165824 /dev/urandom >"$SRC/big.bin" # 24 MiB: incompressible, so the volume is as big
echo small >"$SRC/small.txt"
make_key hr
yunbak-agent backup --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
        --level full --json "$SRC" >"$SCRATCH/full.json"
id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot"])' "$SCRATCH/full.json")
vol="$SCRATCH/store/hr/snapshots/$id/vol-000001"
size=$(stat -c %s "$vol")
[ "$size" -gt 25165824 ] || die "the volume holds $size bytes, not the 24 MiB file"

# 1. Written and synced: not left in the cache.
[ "$(resident "$vol")" = 0 ] || die "the backup left $(resident "$vol") bytes of its volume cached"

# 2. Read by a key-less verify: dropped behind it.
warm "$vol"
yunbak verify --store "$SCRATCH/store" --system hr >/dev/null
[ "$(resident "$vol")" = 0 ] || die "verify left $(resident "$vol") bytes of the volume cached"

# 3. Read by a restore: dropped behind it, and the restore is the source.
warm "$vol"
yunbak restore --store "$SCRATCH/store" --system hr --key "$SCRATCH/keys/hr.key" \
        --passphrase-file "$SCRATCH/pass" --target "$SCRATCH/out" >/dev/null
[ "$(resident "$vol")" = 0 ] || die "restore left $(resident "$vol") bytes of the volume cached"
cmp "$SRC/big.bin" "$SCRATCH/out/src/big.bin" || die "the restored file differs"

# 4. Copied to another store (tier 3): dropped on both sides.
warm "$vol"
yunbak copy --store "$SCRATCH/store" --to "$SCRATCH/far" --system hr >/dev/null
[ "$(resident "$vol")" = 0 ] || die "copy left $(resident "$vol") bytes of the source volume cached"
far="$SCRATCH/far/hr/snapshots/$id/vol-000001"
[ "$(resident "$far")" = 0 ] || die "copy left $(resident "$far") bytes of the copied volume cached"
cmp "$vol" "$far" || die "the copied volume differs"

# 5. A small file read whole (a header) is left alone: below one step nothing is dropped, so
# the cache still works for what is read often.
hdr="$SCRATCH/store/hr/snapshots/$id/header"
warm "$hdr"
yunbak snapshots --store "$SCRATCH/store" --system hr >/dev/null
[ "$(resident "$hdr")" -gt 0 ] || die "listing the snapshots dropped the header's pages"
echo "store-cache: ok"
