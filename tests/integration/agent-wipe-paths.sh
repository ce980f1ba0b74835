#!/bin/sh
# yunbak-agent wipe and the PATHs a careless operator (or a hostile user) gives it. The kernel's
# trees (/proc, /sys, /dev and below) and its pseudo filesystems mounted elsewhere (proc, as
# root) are refused before anything is touched. The same directory given twice (again with "//"
# and a trailing slash) is wiped once, the second saying so; a PATH inside another PATH (here
# reached through a symlink above it) is cleared with the outer one, never opened by its own name
# again (a user who may write in the outer one could put a symlink where it was), and the result
# names where it resolved to. A PATH that is itself a symlink is refused, its target untouched.
# A file with another hard link is removed, not overwritten, and named: its data lives on there.
# The agent's state is removed by exact name: hr-portal's (hr a prefix of it) stays, also with the
# state directory given through a symlink, which then still refuses its real path as a PATH.
# As root, a PATH that is a mount below another PATH is wiped as its own (the outer one's erase
# does not enter it), and the outer one, holding nothing but the way to it, is wiped too; a PATH
# on an overlay (a container's root) is wiped in its view, and the result says honestly that the
# lower layer still holds what was deleted. A bind mount of the same filesystem inside a PATH is
# left and named also where statx gives no mount id (kernels before 5.8: simulated in a build
# with fault injection).
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/wipe-lib.sh"

MNT=
finish() {
        set +e
        [ -z "$MNT" ] || umount "$MNT"
        cleanup
}
trap finish EXIT

ST=$SCRATCH/state
SRC=$SCRATCH/src
mkdir -p "$ST" "$SRC/a/sub" "$SRC/c/d" "$SRC/e"
printf 'a\n' >"$SRC/a/f"
printf 'a sub\n' >"$SRC/a/sub/g"
printf 'c\n' >"$SRC/c/x"
printf 'c d\n' >"$SRC/c/d/y"
printf 'keep\n' >"$SRC/e/keep"


# The kernel's trees: refused, even in a dry run, and nothing else is touched.
wipe 1 kernel --dry-run "$SRC/a" /proc/1 /sys/kernel /dev/shm
for i in 1 2 3; do
        expect kernel "j[\"paths\"][$i][\"result\"]" refused
        expect kernel "\"the kernel's own tree\" in j[\"paths\"][$i][\"why\"]" True
done
expect kernel 'j["paths"][0]["result"]' refused
[ -f "$SRC/a/f" ] || die "a path was touched"
if is_root; then
        mkdir "$SCRATCH/proc"
        mount -t proc proc "$SCRATCH/proc"
        MNT=$SCRATCH/proc
        wipe 1 pseudo "$SCRATCH/proc"
        expect pseudo '"on a proc filesystem" in j["paths"][0]["why"]' True
        umount "$MNT"
        MNT=
else
        echo "agent-wipe-paths: the proc mount case needs root (mount): skipped as $(id -un)"
fi

# A PATH that is a symlink: refused, its target untouched.
ln -s "$SRC/e" "$SCRATCH/elink"
wipe 1 symlink "$SCRATCH/elink"
expect symlink '"a symbolic link" in j["paths"][0]["why"]' True
[ -f "$SRC/e/keep" ] || die "the symlink's target was touched"

# State by exact name, the state directory through a symlink.
for s in hr hr-portal; do
        mkdir -p "$ST/cache/$s" "$ST/wal/$s/db" "$ST/wal-archive/$s/db"
        printf 'sig' >"$ST/cache/$s/x.sigindex"
        printf 'wal' >"$ST/wal/$s/db/000000010000000000000001"
        printf 'seen' >"$ST/wal-archive/$s/db/000000010000000000000001"
        printf '1\n' >"$ST/replicate-$s.lock"
done
printf 'key' >"$ST/agent.key"
ln -s "$ST" "$SCRATCH/state-link"
portal() { (cd "$ST" && find cache/hr-portal wal/hr-portal wal-archive/hr-portal replicate-hr-portal.lock agent.key -type f -exec sha256sum {} + | sort); }
PORTAL=$(portal)
set +e
yunbak-agent wipe --system hr --state-dir "$SCRATCH/state-link" --json "$ST" >"$SCRATCH/state-real.json" 2>/dev/null
got=$?
set -e
[ "$got" -eq 1 ] || die "the state directory's real path as a PATH: exit $got"
expect state-real '"agent\x27s state directory" in j["paths"][0]["why"]' True
yunbak-agent wipe --system hr --state-dir "$SCRATCH/state-link" --json "$SRC/e/" >"$SCRATCH/state.json" ||
        die "wipe with the state directory through a symlink failed"
expect state 'len(j["state"]["removed"])' 4
[ ! -e "$ST/cache/hr" ] && [ ! -e "$ST/wal/hr" ] && [ ! -e "$ST/wal-archive/hr" ] &&
        [ ! -e "$ST/replicate-hr.lock" ] || die "hr's state is still there"
[ "$(portal)" = "$PORTAL" ] || die "hr-portal's state or the agent's key changed"
[ -z "$(ls -A "$SRC/e")" ] || die "$SRC/e is not empty"

# A file with another hard link outside: the PATH is cleared, and the result says the data lives
# on under the other name.
mkdir -p "$SRC/h"
printf 'linked\n' >"$SRC/h/f"
ln "$SRC/h/f" "$SCRATCH/other-name"
wipe 0 linked "$SRC/h"
expect linked 'j["paths"][0]["result"]' wiped
expect linked 'j["paths"][0]["linked"]' 1
expect linked 'j["paths"][0]["overwritten"]' False
expect linked "j[\"paths\"][0][\"linked_first\"].startswith(\"$SRC/h/f (inode \")" True
expect linked '"their data lives on under those names" in j["paths"][0]["why"]' True
[ "$(cat "$SCRATCH/other-name")" = linked ] || die "the other name's data changed"

# The same directory twice: wiped once, the second says so.
wipe 0 twice "$SRC/a" "$SRC//a/"
expect twice 'j["paths"][0]["result"]' wiped
expect twice 'j["paths"][0]["files"]' 2
expect twice 'j["paths"][1]["result"]' wiped
expect twice 'j["paths"][1]["files"]' 0
expect twice 'j["paths"][1]["verified"]' True
expect twice "j[\"paths\"][1][\"why\"]" "the same directory as $SRC/a, a PATH given too: cleared with it"
[ -d "$SRC/a" ] && [ -z "$(ls -A "$SRC/a")" ] || die "$SRC/a is not empty"

# A PATH inside another one, through a symlink above it: cleared with the outer one.
ln -s "$SRC" "$SCRATCH/via"
wipe 0 nested "$SCRATCH/via/c/d" "$SRC/c"
expect nested 'j["paths"][0]["result"]' wiped
expect nested 'j["paths"][0]["resolved"]' "$SRC/c/d"
expect nested 'j["paths"][0]["why"]' "inside $SRC/c, a PATH given too: cleared with it"
expect nested 'j["paths"][0]["files"]' 0
expect nested 'j["paths"][1]["files"]' 2
expect nested 'j["paths"][1]["dirs"]' 1
expect nested '"resolved" in j["paths"][1]' False
[ -d "$SRC/c" ] && [ -z "$(ls -A "$SRC/c")" ] || die "$SRC/c is not empty"

# As root: a bind mount inside a PATH, given as a PATH of its own.
if is_root; then
        mkdir -p "$SCRATCH/elsewhere" "$SRC/m/deep/mnt"
        printf 'on the mount\n' >"$SCRATCH/elsewhere/file"
        printf 'm\n' >"$SRC/m/deep/file"
        mount --bind "$SCRATCH/elsewhere" "$SRC/m/deep/mnt"
        MNT=$SRC/m/deep/mnt
        wipe 0 mounted "$SRC/m" "$SRC/m/deep/mnt"
        expect mounted 'j["paths"][0]["result"]' wiped
        expect mounted 'j["paths"][0]["verified"]' True
        expect mounted 'j["paths"][0]["left"]' 1
        expect mounted 'j["paths"][0]["files"]' 1
        expect mounted 'j["paths"][1]["result"]' wiped
        expect mounted 'j["paths"][1]["files"]' 1
        [ -z "$(ls -A "$SCRATCH/elsewhere")" ] || die "the mount given as a PATH was not cleared"
        [ "$(cd "$SRC/m" && find . | sort | tr '\n' ' ')" = ". ./deep ./deep/mnt " ] ||
                die "left in $SRC/m: $(cd "$SRC/m" && find .)"
        umount "$MNT"
        MNT=
        # The same filesystem bound inside a PATH, statx without mount ids.
        mkdir -p "$SRC/b/mnt" "$SCRATCH/bound"
        printf 'not hr\n' >"$SCRATCH/bound/file"
        mount --bind "$SCRATCH/bound" "$SRC/b/mnt"
        MNT=$SRC/b/mnt
        YB_ERASE_NO_STATX_MNT_ID=1 wipe 1 old-kernel "$SRC/b"
        expect old-kernel 'j["paths"][0]["result"]' incomplete
        expect old-kernel "j[\"paths\"][0][\"left_first\"].startswith(\"$SRC/b/mnt (another filesystem\")" True
        [ "$(cat "$SCRATCH/bound/file")" = "not hr" ] || die "the bind mount was wiped through"
        umount "$MNT"
        MNT=
        mkdir -p "$SCRATCH/ovl/lower/data" "$SCRATCH/ovl/upper" "$SCRATCH/ovl/work" "$SCRATCH/ovl/merged"
        printf 'in the image\n' >"$SCRATCH/ovl/lower/data/f"
        if mount -t overlay overlay -o "lowerdir=$SCRATCH/ovl/lower,upperdir=$SCRATCH/ovl/upper,workdir=$SCRATCH/ovl/work" "$SCRATCH/ovl/merged"; then
                MNT=$SCRATCH/ovl/merged
                wipe 0 overlay "$SCRATCH/ovl/merged/data"
                expect overlay 'j["paths"][0]["result"]' wiped
                expect overlay 'j["paths"][0]["medium"]["filesystem"]' overlay
                expect overlay '"hidden by a whiteout" in j["paths"][0]["medium"]["why"]' True
                expect overlay '"lower layers" in j["paths"][0]["medium"]["operator_must"]' True
                [ -f "$SCRATCH/ovl/lower/data/f" ] || die "the lower layer changed"
                umount "$MNT"
                MNT=
        else
                echo "agent-wipe-paths: the overlay case skipped: this kernel mounts no overlay here"
        fi
else
        echo "agent-wipe-paths: the mount cases need root (mount): skipped as $(id -un)"
fi
echo "agent-wipe-paths: ok"
