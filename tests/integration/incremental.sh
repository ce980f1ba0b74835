#!/bin/sh
# What an incremental stores: a database file with 1% of its 4 KiB pages rewritten costs at most
# twice the changed bytes (signatures included); a file rewritten throughout is stored whole
# without paying for a delta; an agent that lost its cache still makes deltas; excludes work.
. "$TESTS/integration/lib.sh"
export YUNBAK_TEST_SIG_CHECK=1 # the deltas' signatures checked against ones made on their own

SRC="$SCRATCH/src/srv"
mkdir -p "$SRC/db" "$SRC/cache" "$SCRATCH/store"
MiB=1048576
head -c $((64 * MiB)) /dev/urandom >"$SRC/db/main.db"
head -c $((16 * MiB)) /dev/urandom >"$SRC/db/rewritten.db"
echo tmp >"$SRC/db/scratch.tmp"
echo cached >"$SRC/cache/blob"
echo conf >"$SRC/app.conf"
age_recent "$SRC"
make_key hr
backup() { # level json-name [extra args]
        lvl=$1 name=$2
        shift 2
        yunbak-agent backup --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
                --level "$lvl" --json --exclude '*.tmp' --exclude 'srv/cache' "$@" "$SRC" >"$SCRATCH/$name.json"
}
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$SCRATCH/$1.json" "$2"; }
backup full full
[ "$(field full files)" = 3 ] || die "excludes: expected 3 files, got $(field full files)"

# 1% of the pages of main.db, at distinct pseudo-random offsets; rewritten.db all new.
python3 - "$SRC/db/main.db" <<'PY'
import os, random, sys
random.seed(42)
pages = os.path.getsize(sys.argv[1]) // 4096
fd = os.open(sys.argv[1], os.O_WRONLY)
for p in random.sample(range(pages), pages // 100):
    os.pwrite(fd, os.urandom(4096), p * 4096)
os.close(fd)
PY
changed=$(( (64 * MiB / 4096 / 100) * 4096 ))
head -c $((16 * MiB)) /dev/urandom >"$SRC/db/rewritten.db"
age_recent "$SRC/db"
backup incremental incr1
[ "$(field incr1 delta)" = 1 ] || die "main.db was not stored as a delta"
[ "$(field incr1 whole)" = 1 ] || die "rewritten.db was not stored whole"
# Everything the incremental stored, minus the rewritten file's 16 MiB (incompressible), is the
# cost of the 1% change: volumes, manifest and the new signature index.
stored=$(field incr1 bytes_stored)
cost=$((stored - 16 * MiB))
echo "1% of pages changed: $changed bytes; stored for them: $cost bytes"
[ "$cost" -le $((2 * changed)) ] || die "the delta cost $cost bytes for $changed changed bytes (over 2x)"

# Lose the agent's signature cache: the next incremental reads the index from the store.
rm -rf "$SCRATCH/agent-state/cache"
printf 'X' | dd of="$SRC/db/main.db" bs=4096 seek=7 conv=notrunc 2>/dev/null
age_recent "$SRC/db"
backup incremental incr2
[ "$(field incr2 delta)" = 1 ] || die "without its cache the agent made no delta"
[ "$(field incr2 unchanged)" = 2 ] || die "without its cache the agent re-read unchanged files"

# Another agent (new state key): it cannot read the index, warns, and stores changed files whole.
printf 'Y' | dd of="$SRC/db/main.db" bs=4096 seek=9 conv=notrunc 2>/dev/null
YUNBAK_AGENT_STATE_DIR="$SCRATCH/other-agent" expect_exit 0 backup incremental incr3
expect_stderr "made by another agent"
[ "$(field incr3 whole)" = 3 ] || die "a new agent should store every file whole"

# A deleted file whose inode is reused by a new file of the same size and mtime (what tar -x and
# cp -p produce) is not mistaken for a rename: the new content is what gets stored.
printf 'version=1.0.0\n' >"$SRC/a.conf"
touch -d '2020-01-01 00:00:00' "$SRC/a.conf"
backup incremental before-reuse
ino=$(stat -c %i "$SRC/a.conf")
rm "$SRC/a.conf"
printf 'version=2.0.0\n' >"$SRC/b.conf"
touch -d '2020-01-01 00:00:00' "$SRC/b.conf"
[ "$(stat -c %i "$SRC/b.conf")" = "$ino" ] || echo "note: the inode was not reused here; the check below is weaker"
backup incremental after-reuse
[ "$(field after-reuse renamed)" = 0 ] || die "a new file on a reused inode was taken for a rename"
rm -rf "$SCRATCH/out"
yunbak restore --store "$SCRATCH/store" --system hr --key "$SCRATCH/keys/hr.key" \
        --passphrase-file "$SCRATCH/pass" --target "$SCRATCH/out" srv/b.conf >/dev/null
[ "$(cat "$SCRATCH/out/srv/b.conf")" = version=2.0.0 ] || die "b.conf restored with the old file's content"

# A single file as the source, and a symlink to a file as the source.
ln -s "$SRC/app.conf" "$SCRATCH/src/link.conf"
yunbak-agent backup --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
        --level full "$SRC/app.conf" "$SCRATCH/src/link.conf" >/dev/null
rm -rf "$SCRATCH/out"
yunbak restore --store "$SCRATCH/store" --system hr --key "$SCRATCH/keys/hr.key" \
        --passphrase-file "$SCRATCH/pass" --target "$SCRATCH/out" >/dev/null
[ "$(cat "$SCRATCH/out/app.conf")" = conf ] || die "a file source was not restored"
# A source given as a symlink means what it points to, kept under the name given.
[ ! -L "$SCRATCH/out/link.conf" ] && [ "$(cat "$SCRATCH/out/link.conf")" = conf ] ||
        die "a symlink source was not followed"
echo "incremental: ok"
