#!/bin/sh
# What an overwrite achieves, probed on real filesystems (core/erase/medium-probe.c) and checked
# against independent tools (findmnt, lsblk, losetup, /sys): the machine's own scratch directory
# (whatever it is, the verdict must agree with its facts); and, as root, loop images: ext4 (the
# loop device and its backing file named, never effective), ext4 with data=journal (the journal
# named first; also when it is the superblock's default, which mountinfo does not show), btrfs (copy-on-write), XFS with and without reflink (the geometry ioctl's flag).
# A filesystem whose mkfs is missing is skipped with the reason; without root only the first part
# runs (said).
. "$TESTS/integration/lib.sh"

MOUNTS=
LOOPS=
finish() {
        set +e
        for m in $MOUNTS; do umount "$m"; done
        for l in $LOOPS; do losetup -d "$l"; done
        cleanup
}
trap finish EXIT

# field FILE EXPR: a Python expression over the JSON in FILE (bound to j).
field() {
        python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

probe() { # PATH NAME: $SCRATCH/NAME.json
        yb-erase probe "$1" >"$SCRATCH/$2.json" || die "yb-erase probe $1 failed"
}

# 1. The scratch directory, as this machine has it.
probe "$SCRATCH" tmp
J=$SCRATCH/tmp.json
want_fs=$(findmnt -n -o FSTYPE -T "$SCRATCH" | head -n 1)
[ "$(field "$J" 'j["facts"]["fstype"]')" = "$want_fs" ] ||
        die "fstype $(field "$J" 'j["facts"]["fstype"]') but findmnt says $want_fs"
[ "$(field "$J" 'j["medium"]["filesystem"]')" = "$want_fs" ] || die "medium.filesystem differs"
effective=$(field "$J" 'j["medium"]["overwrite_effective"]')
device=$(field "$J" 'j["facts"]["device"]')
why=$(field "$J" 'j["medium"]["why"]')
[ -n "$why" ] || die "no why for $SCRATCH"
if [ -n "$device" ] && command -v lsblk >/dev/null; then
        # The disks at the bottom of the device, as lsblk sees them, and whether they spin.
        rota=$(lsblk -s -n -r -o NAME,ROTA,TYPE "/dev/$device" 2>/dev/null | awk '$3 == "disk" || $3 == "loop" { print $2 }' | sort -u)
        if [ "$(field "$J" 'j["facts"]["rotational"]')" = True ]; then
                [ "$rota" = 1 ] || die "probe says $device spins; lsblk says ROTA $rota"
        fi
        case $device in
        vd* | xvd*) [ "$(field "$J" 'j["medium"]["kind"]')" = "virtual disk" ] ||
                die "$device is a virtual disk, kind says $(field "$J" 'j["medium"]["kind"]')" ;;
        loop*) [ "$(field "$J" 'j["medium"]["kind"]')" = "loop device" ] || die "loop kind" ;;
        esac
fi
if [ "$effective" = True ]; then
        case $want_fs in ext2 | ext3 | ext4 | xfs) ;; *) die "effective on $want_fs" ;; esac
        [ -n "$device" ] || die "effective without a device"
        findmnt -n -o OPTIONS -T "$SCRATCH" | grep -q 'data=journal' && die "effective with data=journal"
        case $device in loop* | vd* | xvd* | zram* | nbd* | nvme*) die "effective on $device" ;; esac
        [ "$rota" = 1 ] || die "effective on a disk that does not spin"
else
        [ -n "$(field "$J" 'j["medium"]["operator_must"]')" ] || die "ineffective without operator_must"
fi
echo "scratch directory: $want_fs on ${device:-no device}: $why"

is_root || {
        echo "erase-media: the loop images need root (mount); only the scratch directory was probed"
        exit 0
}
command -v losetup >/dev/null || {
        echo "erase-media: the loop images skipped: no losetup (util-linux)"
        exit 0
}

# loop_mount NAME MKFS [OPTIONS]: $SCRATCH/NAME.img made by the command MKFS, on a loop device
# ($LOOP), mounted on $SCRATCH/NAME (with OPTIONS), with a directory data/ in it.
loop_mount() {
        img=$SCRATCH/$1.img
        truncate -s 320M "$img"
        # shellcheck disable=SC2086
        $2 "$img" >"$SCRATCH/mkfs.log" 2>&1 || {
                cat "$SCRATCH/mkfs.log" >&2
                die "$2 $img failed"
        }
        dev=$(losetup --find --show "$img") || die "losetup $img failed"
        LOOPS="$dev $LOOPS"
        mkdir -p "$SCRATCH/$1"
        mount ${3:+-o "$3"} "$dev" "$SCRATCH/$1" || die "mount $dev failed"
        MOUNTS="$SCRATCH/$1 $MOUNTS"
        mkdir "$SCRATCH/$1/data"
        LOOP=${dev#/dev/}
}

expect_why() { # NAME TEXT
        grep -qF -- "$2" <<EOF || die "$1: why '$(field "$SCRATCH/$1.json" 'j["medium"]["why"]')' lacks '$2'"
$(field "$SCRATCH/$1.json" 'j["medium"]["why"]')
EOF
}

expect() { # NAME EXPR WANT
        got=$(field "$SCRATCH/$1.json" "$2")
        [ "$got" = "$3" ] || die "$1: $2 is '$got', not '$3'"
}

# 2. ext4 on a loop device: the loop and its backing file are named.
if command -v mkfs.ext4 >/dev/null; then
        loop_mount ext4 "mkfs.ext4 -q -F"
        probe "$SCRATCH/ext4/data" ext4
        expect ext4 'j["facts"]["fstype"]' ext4
        expect ext4 'j["facts"]["loop"]' True
        expect ext4 'j["facts"]["backing_file"]' "$(losetup -n -O BACK-FILE "/dev/$LOOP")"
        expect ext4 'j["medium"]["device"]' "$LOOP"
        expect ext4 'j["medium"]["kind"]' "loop device"
        expect ext4 'j["medium"]["overwrite_effective"]' False
        expect_why ext4 "the filesystem sits on the loop device $LOOP, backed by the file $SCRATCH/ext4.img"
        mount -o remount,data=journal "$SCRATCH/ext4" 2>/dev/null || {
                umount "$SCRATCH/ext4"
                mount -o data=journal "/dev/$LOOP" "$SCRATCH/ext4"
        }
        probe "$SCRATCH/ext4/data" ext4j
        expect_why ext4j "ext4 is mounted with data=journal"
        expect ext4j 'j["medium"]["kind"]' "loop device"
        # data=journal as the superblock's default (tune2fs -o journal_data): not in mountinfo.
        umount "$SCRATCH/ext4"
        tune2fs -o journal_data "/dev/$LOOP" >/dev/null
        mount "/dev/$LOOP" "$SCRATCH/ext4"
        ! grep -q "data=journal" /proc/self/mountinfo || echo "erase-media: this kernel shows data=journal in mountinfo"
        probe "$SCRATCH/ext4/data" ext4jd
        expect_why ext4jd "ext4 is mounted with data=journal"
else
        echo "erase-media: ext4 skipped: no mkfs.ext4 (e2fsprogs)"
fi

# 3. btrfs: copy-on-write, whatever lies beneath.
if command -v mkfs.btrfs >/dev/null && grep -qw btrfs /proc/filesystems; then
        loop_mount btrfs "mkfs.btrfs -q -f"
        probe "$SCRATCH/btrfs/data" btrfs
        expect btrfs 'j["facts"]["fstype"]' btrfs
        expect btrfs 'j["medium"]["device"]' "$LOOP"
        expect btrfs 'j["medium"]["overwrite_effective"]' False
        expect_why btrfs "btrfs is copy-on-write: an overwrite writes new blocks and leaves the old ones"
        grep -qF "$SCRATCH/btrfs.img" <<EOF || die "btrfs: operator_must does not name the backing file"
$(field "$SCRATCH/btrfs.json" 'j["medium"]["operator_must"]')
EOF
        # A subvolume inside a tree has a device of its own: not entered, and named as what it is.
        if command -v btrfs >/dev/null; then
                btrfs -q subvolume create "$SCRATCH/btrfs/data/sub" >/dev/null
                printf 'in a subvolume' >"$SCRATCH/btrfs/data/sub/file"
                printf 'plain' >"$SCRATCH/btrfs/data/plain"
                yb-erase tree never "$SCRATCH/btrfs/data" >"$SCRATCH/btrfs-tree.json" || true
                expect btrfs-tree 'j["left"]' 1
                expect btrfs-tree 'j["files"]' 1
                expect btrfs-tree '"a subvolume with a device of its own" in j["left_first"]' True
                [ "$(cat "$SCRATCH/btrfs/data/sub/file")" = "in a subvolume" ] || die "the subvolume was entered"
        fi
else
        echo "erase-media: btrfs skipped: no mkfs.btrfs (btrfs-progs) or no btrfs in this kernel"
fi

# 4. XFS: reflink=1 shares blocks; reflink=0 passes, and the loop beneath is what fails.
if command -v mkfs.xfs >/dev/null && grep -qw xfs /proc/filesystems; then
        loop_mount xfsr "mkfs.xfs -q -f -m reflink=1"
        probe "$SCRATCH/xfsr/data" xfsr
        expect xfsr 'j["facts"]["xfs_reflink"]' True
        expect_why xfsr "this XFS has reflink"
        loop_mount xfs0 "mkfs.xfs -q -f -m reflink=0"
        probe "$SCRATCH/xfs0/data" xfs0
        expect xfs0 'j["facts"]["xfs_reflink"]' False
        expect_why xfs0 "the filesystem sits on the loop device $LOOP"
else
        echo "erase-media: XFS skipped: no mkfs.xfs (xfsprogs) or no xfs in this kernel"
fi
echo "erase-media: ok"
