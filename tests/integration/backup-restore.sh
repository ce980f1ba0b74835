#!/bin/sh
# Full, incremental and differential backups of a tree with every kind of entry; each snapshot
# restores to exactly the tree it was taken of (contents and metadata, compared entry by entry).
. "$TESTS/integration/lib.sh"

SRC="$SCRATCH/src/app"
mkdir -p "$SCRATCH/src" "$SCRATCH/store"
make_rich_tree "$SRC"
age_recent "$SRC"
make_key hr
backup() {
        yunbak-agent backup --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
                --level "$1" --json "$SRC" >"$SCRATCH/$2.json"
}
restore_and_compare() { # snapshot-id expected-digest-file
        rm -rf "$SCRATCH/out"
        yunbak restore --store "$SCRATCH/store" --system hr --key "$SCRATCH/keys/hr.key" \
                --passphrase-file "$SCRATCH/pass" --snapshot "$1" --target "$SCRATCH/out" >/dev/null
        tree_digest "$SCRATCH/out/app" >"$SCRATCH/got.digest"
        diff -u "$2" "$SCRATCH/got.digest" >&2 || die "snapshot $1 does not restore to its tree"
}
snap_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot"])' "$SCRATCH/$1.json"; }
field_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$SCRATCH/$1.json" "$2"; }

backup full full
tree_digest "$SRC" >"$SCRATCH/full.digest"
[ "$(field_of full errors)" = 0 ] || die "full backup reported errors"

# Day 1: change a page in the middle of a big file, grow a file, add, delete, rename, chmod.
printf 'CHANGED PAGE' | dd of="$SRC/data/random.bin" bs=4096 seek=20 conv=notrunc 2>/dev/null
seq 20001 20100 >>"$SRC/data/numbers.txt"
printf 'fresh' >"$SRC/data/new-file"
rm "$SRC/fifo" "$SRC/name with
newline"
mv "$SRC/etc/app.yaml" "$SRC/etc/app-renamed.yaml"
chmod 0600 "$SRC/data/sticky"
rmdir "$SRC/empty-dir" && mkdir "$SRC/empty-dir2"
age_recent "$SRC"
backup incremental incr1
tree_digest "$SRC" >"$SCRATCH/incr1.digest"
[ "$(field_of incr1 level)" = incremental ] || die "not an incremental"
[ "$(field_of incr1 renamed)" -ge 1 ] || die "the rename was not recognised"
[ "$(field_of incr1 delta)" -ge 1 ] || die "no file was stored as a delta"
[ "$(field_of incr1 deleted)" -ge 1 ] || die "no deletion recorded"
# Unchanged files are not read: far fewer bytes read than the tree holds.
[ "$(field_of incr1 bytes_read)" -lt 2000000 ] || die "the incremental read unchanged files"

# Day 2: another change; then a differential against the full.
printf 'SECOND CHANGE' | dd of="$SRC/data/random.bin" bs=4096 seek=50 conv=notrunc 2>/dev/null
age_recent "$SRC"
backup incremental incr2
tree_digest "$SRC" >"$SCRATCH/incr2.digest"
backup differential diff1
[ "$(field_of diff1 parent)" = "$(snap_of full)" ] || die "a differential's parent is the full"

# Nothing changed: nothing read.
backup incremental idle
[ "$(field_of idle bytes_read)" = 0 ] || die "an incremental of an unchanged tree read data"
[ "$(field_of idle whole)" = 0 ] && [ "$(field_of idle delta)" = 0 ] || die "idle stored data"

restore_and_compare "$(snap_of full)" "$SCRATCH/full.digest"
restore_and_compare "$(snap_of incr1)" "$SCRATCH/incr1.digest"
restore_and_compare "$(snap_of incr2)" "$SCRATCH/incr2.digest"
restore_and_compare "$(snap_of diff1)" "$SCRATCH/incr2.digest"
restore_and_compare "$(snap_of idle)" "$SCRATCH/incr2.digest"

# Sparse files come back sparse.
blocks=$(stat -c %b "$SCRATCH/out/app/data/sparse.img")
[ "$blocks" -lt 1024 ] || die "sparse file restored with $blocks blocks"

# --at picks the newest snapshot at or before a time: the full's own start time gives the full.
started=$(yunbak snapshots --store "$SCRATCH/store" --system hr --json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["started"])')
rm -rf "$SCRATCH/out"
yunbak restore --store "$SCRATCH/store" --system hr --key "$SCRATCH/keys/hr.key" \
        --passphrase-file "$SCRATCH/pass" --at "$started" --target "$SCRATCH/out" >/dev/null
tree_digest "$SCRATCH/out/app" | diff -q "$SCRATCH/full.digest" - >/dev/null ||
        die "--at did not restore the full snapshot"

# Restoring one path reads only what it needs and restores only it.
rm -rf "$SCRATCH/out"
yunbak restore --store "$SCRATCH/store" --system hr --key "$SCRATCH/keys/hr.key" \
        --passphrase-file "$SCRATCH/pass" --target "$SCRATCH/out" --json app/etc >"$SCRATCH/one.json"
[ -f "$SCRATCH/out/app/etc/app-renamed.yaml" ] || die "the chosen path was not restored"
[ ! -e "$SCRATCH/out/app/data" ] || die "a path that was not asked for was restored"
python3 - "$SCRATCH/one.json" <<'PY' || die "restoring one small path read every volume"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["files"] == 1 and d["volumes_read"] == 1, d
PY

# The independent tools read what we wrote.
yunbak verify --store "$SCRATCH/store" --system hr >/dev/null || die "verify failed"
yunbak verify --store "$SCRATCH/store" --system hr --deep --key "$SCRATCH/keys/hr.key" \
        --passphrase-file "$SCRATCH/pass" >/dev/null || die "deep verify failed"
echo "backup-restore: ok"
