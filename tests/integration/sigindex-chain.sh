#!/bin/sh
# The signature index of a snapshot with a parent holds what changed since the parent's
# (docs/format.md, "Signature index"): it is small; an agent that lost its state rebuilds the
# index from the repository's chain, and one whose cached copy is damaged reads the store's;
# pruning down to one chain and going on works; a repository whose indexes are all whole (made
# before delta indexes) is continued.
. "$TESTS/integration/lib.sh"
export YUNBAK_TEST_SIG_CHECK=1 # the deltas' signatures checked against ones made on their own

SRC="$SCRATCH/src/srv"
STORE="$SCRATCH/store"
CACHE="$SCRATCH/agent-state/cache/hr"
mkdir -p "$SRC" "$STORE"
head -c $((8 * 1048576)) /dev/urandom >"$SRC/db"
for i in 1 2 3 4 5 6 7 8; do echo "file $i" >"$SRC/f$i"; done
age_recent "$SRC"
make_key hr
export YUNBAK_PASSPHRASE_FILE="$SCRATCH/pass"
backup() { # level name
        expect_exit 0 yunbak-agent backup --store "$STORE" --system hr \
                --public-key "$SCRATCH/keys/hr.pub" --level "$1" --json "$SRC"
        cp "$SCRATCH/stdout" "$SCRATCH/$2.json"
        if grep -q "signature index" "$SCRATCH/stderr"; then
                cat "$SCRATCH/stderr" >&2
                die "$2: the parent's signature index was not read"
        fi
}
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$SCRATCH/$1.json" "$2"; }
id() { field "$1" snapshot; }
sig() { stat -c %s "$STORE/hr/snapshots/$(id "$1")/sigindex"; }
expect() { # name field value
        [ "$(field "$1" "$2")" = "$3" ] || die "$1: $2 is $(field "$1" "$2"), not $3"
}
poke() { # rewrites 4 KiB block $1 of db
        printf 'X%s' "$1" | dd of="$SRC/db" bs=4096 seek="$1" conv=notrunc 2>/dev/null
        age_recent "$SRC"
}
cached() { ls "$CACHE" | sort | tr '\n' ' '; }
ids() { for n in "$@"; do echo "$(id "$n").sigindex"; done | sort | tr '\n' ' '; }

backup full full
poke 7
echo new >"$SRC/f9" # before f8 goes, so that it cannot take f8's inode
rm "$SRC/f8"
touch -d '2 minutes ago' "$SRC/f1"
age_recent "$SRC"
backup incremental i1
expect i1 delta 1
expect i1 deleted 1
# The 8 MiB file's signature is 2048 block sums; the delta holds one of them.
[ $(($(sig i1) * 10)) -lt "$(sig full)" ] ||
        die "the incremental's index is $(sig i1) bytes, the full's $(sig full): not a delta"
echo "sigindex: full $(sig full) bytes, incremental $(sig i1) bytes"

backup incremental i2
expect i2 bytes_read 0
expect i2 unchanged 9
# Nothing changed: no signature in it (a file whose ctime was under a second old when its
# extended attributes were read may get its "none" flag now, a record without blocks).
[ $(($(sig i2) * 20)) -lt "$(sig full)" ] || die "nothing changed, yet the index is $(sig i2) bytes"
[ "$(cached)" = "$(ids full i1 i2)" ] || die "the cache holds $(cached), not the chain"

# An index entry says a file had no extended attributes, and while its ctime stays they are not
# asked for; giving it one moves its ctime: the next snapshot has it, and the one after that it
# was taken away.
xattr() { # file [value]: sets user.note, or removes it without a value
        python3 -c 'import os,sys
if len(sys.argv) > 2: os.setxattr(sys.argv[1], "user.note", sys.argv[2].encode())
else: os.removexattr(sys.argv[1], "user.note")' "$@"
}
note() { python3 -c 'import os,sys
try: print(os.getxattr(sys.argv[1], "user.note").decode())
except OSError: print("-")' "$1"; }
restore_to() {
        yunbak restore --store "$STORE" --system hr --key "$SCRATCH/keys/hr.key" \
                --target "$SCRATCH/$1" >/dev/null
}
if xattr "$SRC/f2" first 2>/dev/null; then
        backup incremental x1
        backup incremental x2 # nothing changed: f2's entry says it has some, they are read
        restore_to x2-out
        [ "$(note "$SCRATCH/x2-out/srv/f2")" = first ] || die "an extended attribute was lost"
        xattr "$SRC/f2"
        backup incremental x3
        restore_to x3-out
        [ "$(note "$SCRATCH/x3-out/srv/f2")" = - ] || die "a removed extended attribute is back"
else
        echo "no user extended attributes here: that part is left out"
fi

# The state is lost: the chain is read from the store (and cached again); still a delta.
rm -rf "$SCRATCH/agent-state/cache"
poke 100
backup incremental i3
expect i3 delta 1
expect i3 unchanged 8
[ $(($(sig i3) * 10)) -lt "$(sig full)" ] || die "after the state was lost the index is whole"
[ -n "$(ls "$CACHE" | grep -F "$(id i3)")" ] && [ -n "$(ls "$CACHE" | grep -F "$(id full)")" ] ||
        die "the cache holds $(cached), not the chain"

# A damaged cached copy: the store's is read instead.
printf 'garbage' | dd of="$CACHE/$(id i3).sigindex" bs=1 seek=200 conv=notrunc 2>/dev/null
poke 200
backup incremental i4
expect i4 delta 1
expect i4 unchanged 8

# A new full and an incremental on it; pruning to the last snapshot keeps its chain (the full
# its index builds on), and the next incremental builds on that.
backup full full2
poke 300
backup incremental j1
expect_exit 0 yunbak prune --store "$STORE" --system hr --keep-last 1
[ "$(ls "$STORE/hr/snapshots" | sort | tr '\n' ' ')" = "$(ids full2 j1 | sed 's/.sigindex//g')" ] ||
        die "the prune left $(ls "$STORE/hr/snapshots" | tr '\n' ' ')"
poke 400
backup incremental j2
expect j2 delta 1
expect j2 unchanged 8
[ "$(cached)" = "$(ids full2 j1 j2)" ] || die "the cache holds $(cached), not the chain"
expect_exit 0 yunbak verify --store "$STORE" --system hr --deep --key "$SCRATCH/keys/hr.key"
yunbak restore --store "$STORE" --system hr --key "$SCRATCH/keys/hr.key" \
        --target "$SCRATCH/out" >/dev/null
[ "$(tree_digest "$SCRATCH/out/srv")" = "$(tree_digest "$SRC")" ] ||
        die "the snapshot on the pruned chain restores differently"

# After 32 deltas in a row a whole index again, and the cache holds that one alone.
i=0
while [ $i -lt 30 ]; do # j1 and j2 are the first two
        backup incremental chain
        [ $(($(sig chain) * 10)) -lt "$(sig full2)" ] || die "delta $((i + 3)) is not a delta"
        i=$((i + 1))
done
backup incremental whole
[ $(($(sig whole) * 2)) -gt "$(sig full2)" ] || die "after 32 deltas the index is still one"
[ "$(cached)" = "$(ids whole)" ] || die "the cache holds $(cached), not the whole index alone"
backup incremental after
expect after unchanged 9
[ $(($(sig after) * 10)) -lt "$(sig full2)" ] || die "after a whole index no delta again"

# An extended attribute set between the walk's read of them (none) and the open of the changed
# file: the entry takes the file's stat at the open, so it must not say "none" for that ctime,
# else the next backups, seeing that stat again, never ask and lose it. (The file's ctime must be
# over a second old for the walk's "none" to count: waited for, not slept.)
if xattr "$SRC/f3" probe 2>/dev/null; then
        xattr "$SRC/f3"
        echo changed >"$SRC/f3"
        age_recent "$SRC"
        wait_for "f3's ctime did not get a second old" \
                "[ \$((\$(date +%s) - \$(stat -c %Z '$SRC/f3'))) -ge 2 ]"
        YB_TEST_MUTATE=xattr:f3 backup incremental r1
        backup incremental r2
        restore_to r2-out
        python3 -c 'import os,sys; os.getxattr(sys.argv[1], "user.raced")' \
                "$SCRATCH/r2-out/srv/f3" 2>/dev/null ||
                die "an extended attribute set while the file was backed up is lost for good"
fi

# A repository made before delta indexes (every index whole) is continued.
G="$TESTS/data/sigindex-v1"
OLD="$SCRATCH/old/srv"
cp -a "$G/store" "$SCRATCH/old-store"
mkdir -p "$SCRATCH/old-agent"
cp "$G/agent/agent.key" "$SCRATCH/old-agent/"
python3 "$G/gen.py" "$OLD" 0
python3 "$G/gen.py" "$OLD" 1
age_recent "$OLD"
old_backup() { # name
        YUNBAK_AGENT_STATE_DIR="$SCRATCH/old-agent" expect_exit 0 yunbak-agent backup \
                --store "$SCRATCH/old-store" --system sigv1 --public-key "$G/keys/sigv1.pub" \
                --level incremental --json "$OLD"
        cp "$SCRATCH/stdout" "$SCRATCH/$1.json"
        ! grep -q "signature index" "$SCRATCH/stderr" || die "$1: the whole index was not read"
}
old_backup k1
# Every file was made anew (new inodes and ctimes): the small ones are stored whole again, big as
# a delta against the whole index's signature (without the index: stored whole too).
expect k1 delta 1
expect k1 whole 2
python3 "$G/gen.py" "$OLD" 2
age_recent "$OLD"
old_backup k2
expect k2 delta 1
k2=$(stat -c %s "$SCRATCH/old-store/sigv1/snapshots/$(id k2)/sigindex")
v1=$(stat -c %s "$SCRATCH/old-store/sigv1/snapshots/20261206T231716Z-6e09c1/sigindex")
[ "$k2" -lt "$v1" ] || die "the index on the old chain is $k2 bytes, a whole one $v1"
YUNBAK_PASSPHRASE_FILE="$G/keys/passphrase" yunbak restore --store "$SCRATCH/old-store" \
        --system sigv1 --key "$G/keys/sigv1.key" --target "$SCRATCH/old-out" >/dev/null
cmp "$OLD/big" "$SCRATCH/old-out/srv/big" || die "the old chain's new snapshot restores differently"
echo "sigindex-chain: ok"
