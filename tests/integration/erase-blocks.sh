#!/bin/sh
# The overwrite reaches the blocks (core/erase/erase.c), seen in the image of a real ext4
# filesystem on a loop device (root only: mount): a file of a known pattern, synced, then erased
# forced (yb-erase ... always), is no longer anywhere in the image after unmounting; the same
# erase without the overwrite leaves its pattern there (so the search can tell). In the tree
# erased, a symlink to a file outside and one to a directory outside are removed and their
# targets untouched, and a bind mount inside the tree (the same filesystem: only its mount id
# differs) is left, counted and named, with what it shows intact.
. "$TESTS/integration/lib.sh"

is_root || {
        echo "erase-blocks: skipped: needs root (mount of a loop image)"
        exit 77
}
for p in mkfs.ext4 losetup python3; do
        command -v $p >/dev/null || {
                echo "erase-blocks: skipped: no $p"
                exit 77
        }
done
MNT=$SCRATCH/mnt
DEV=
BIND=
finish() {
        set +e
        [ -z "$BIND" ] || umount "$BIND"
        mountpoint -q "$MNT" && umount "$MNT"
        [ -z "$DEV" ] || losetup -d "$DEV"
        cleanup
}
trap finish EXIT

field() {
        python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# pattern FILE TAG: 2 MiB of a line that names TAG, found nowhere else.
pattern() {
        python3 -c 'import sys; sys.stdout.write(("yunbak-erase-test %s\n" % sys.argv[1]) * 80000)' "$2" >"$1"
}
in_image() { grep -qaF "yunbak-erase-test $1" "$SCRATCH/fs.img"; }

truncate -s 64M "$SCRATCH/fs.img"
# No lazy init and no discard: the blocks of the image are what the filesystem wrote.
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0,nodiscard "$SCRATCH/fs.img"
DEV=$(losetup --find --show "$SCRATCH/fs.img")
mkdir "$MNT"
mount -o nodiscard "$DEV" "$MNT"

mkdir -p "$MNT/tree/a/b" "$MNT/outside" "$MNT/other/shown" "$MNT/tree/mnt"
pattern "$MNT/tree/a/b/secret" SECRET
pattern "$MNT/tree/plain" PLAIN
pattern "$MNT/outside/target" TARGET
pattern "$MNT/other/shown/file" SHOWN
ln -s ../outside/target "$MNT/tree/link-out"
ln -s ../outside "$MNT/tree/dirlink-out"
mount --bind "$MNT/other" "$MNT/tree/mnt"
BIND=$MNT/tree/mnt
sync
for tag in SECRET PLAIN TARGET SHOWN; do in_image $tag || die "the $tag pattern is not in the image"; done

# The control: erased without the overwrite, a file's pattern stays in the freed blocks.
yb-erase file never "$MNT/tree/plain" >"$SCRATCH/plain.json"
[ "$(field "$SCRATCH/plain.json" 'j["overwritten"]')" = False ] || die "said overwritten with never"
[ ! -e "$MNT/tree/plain" ] || die "tree/plain still there"

# The tree, overwritten whatever the medium (a loop device: ineffective, and said so).
set +e
yb-erase tree always "$MNT/tree" >"$SCRATCH/tree.json"
rc=$?
set -e
cat "$SCRATCH/tree.json"
[ $rc -eq 0 ] || die "yb-erase tree failed ($rc)"
J=$SCRATCH/tree.json
[ "$(field "$J" 'j["files"]')" = 1 ] || die "files: $(field "$J" 'j["files"]')"
[ "$(field "$J" 'j["others"]')" = 2 ] || die "others (the two symlinks): $(field "$J" 'j["others"]')"
[ "$(field "$J" 'j["overwritten"]')" = True ] || die "not overwritten"
[ "$(field "$J" 'j["left"]')" = 1 ] || die "left: $(field "$J" 'j["left"]')"
case $(field "$J" 'j["left_first"]') in
"$MNT/tree/mnt (another filesystem is mounted there"*) ;;
*) die "left_first does not name the bind mount: $(field "$J" 'j["left_first"]')" ;;
esac
[ "$(field "$J" 'j["medium"]["kind"]')" = "loop device" ] || die "medium kind"
[ "$(field "$J" 'j["medium"]["overwrite_effective"]')" = False ] || die "a loop called effective"
# Everything else is gone; the tree itself stays, holding the mount point.
[ "$(ls -A "$MNT/tree")" = mnt ] || die "left in the tree: $(ls -A "$MNT/tree")"
pattern "$SCRATCH/target" TARGET
pattern "$SCRATCH/shown" SHOWN
cmp -s "$MNT/outside/target" "$SCRATCH/target" || die "the symlinks' target changed"
cmp -s "$MNT/other/shown/file" "$SCRATCH/shown" || die "the bind-mounted file changed"
cmp -s "$MNT/tree/mnt/shown/file" "$SCRATCH/shown" || die "the bind mount shows another file"

umount "$BIND"
BIND=
# Again, with the mount gone: the rest goes, and a run after that finds nothing.
yb-erase tree always "$MNT/tree" >"$SCRATCH/again.json"
[ "$(field "$SCRATCH/again.json" 'j["left"]')" = 0 ] || die "left after the unmount"
[ ! -e "$MNT/tree" ] || die "tree still there"
yb-erase tree always "$MNT/tree" >"$SCRATCH/third.json"
[ "$(field "$SCRATCH/third.json" 'j["files"] + j["dirs"]')" = 0 ] || die "a third run found something"

umount "$MNT"
losetup -d "$DEV"
DEV=
in_image SECRET && die "the overwritten file's pattern is still in the image"
in_image PLAIN || die "the control: the pattern of the file removed without overwrite is gone" \
        "too, so the image search proves nothing"
in_image TARGET || die "the symlink's target is gone from the image"
in_image SHOWN || die "the bind-mounted file is gone from the image"
echo "erase-blocks: ok"
