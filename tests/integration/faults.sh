#!/bin/sh
# A full store (ENOSPC on a write) or a failed fsync while a backup writes: the snapshot is not
# committed, the exit status says so (7), the message says what, earlier snapshots are untouched.
. "$TESTS/integration/lib.sh"

SRC="$SCRATCH/src/data"
mkdir -p "$SRC" "$SCRATCH/store"
for i in $(seq 1 10); do head -c $((i * 30000)) /dev/urandom >"$SRC/f$i"; done
make_key hr
backup() { # LEVEL [OPTION...]
        level=$1
        shift
        yunbak-agent backup --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
                --level "$level" --threads 0 "$@" "$SRC"
}
backup full >/dev/null
count() { yunbak snapshots --store "$SCRATCH/store" --system hr --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
[ "$(count)" = 1 ] || die "expected one snapshot"
echo changed >>"$SRC/f3"

for fault in write:1 write:2 write:4 fsync:1 fsync:2 fsync:3; do
        YB_FAULT=$fault expect_exit 7 backup incremental
        expect_stderr "nothing was committed|Cannot lock"
        [ "$(count)" = 1 ] || die "a snapshot was committed despite $fault"
        yunbak verify --store "$SCRATCH/store" --system hr >/dev/null || die "repository damaged by $fault"
done
# A real full file system, when we may mount one.
if is_root && mount -t tmpfs -o size=600k tmpfs "$SCRATCH/store" 2>/dev/null; then
        trap 'umount "$SCRATCH/store" 2>/dev/null || true; cleanup' EXIT
        expect_exit 7 backup full
        expect_stderr "store is full|No space left"
        [ ! -d "$SCRATCH/store/hr/snapshots" ] || [ -z "$(ls "$SCRATCH/store/hr/snapshots")" ] ||
                die "a snapshot was committed on a full file system"
        umount "$SCRATCH/store"
        trap cleanup EXIT
fi
# Every fsync of a backup failing in turn: before the snapshot's rename nothing is committed; the
# last one comes after it, and then the message says the snapshot exists.
n=1
while :; do
        before=$(count)
        set +e
        YB_FAULT=fsync:$n backup incremental >/dev/null 2>"$SCRATCH/stderr"
        rc=$?
        set -e
        [ "$rc" = 0 ] && break
        [ "$rc" = 7 ] || { cat "$SCRATCH/stderr"; die "fsync:$n: exit $rc"; }
        if [ "$(count)" -gt "$before" ]; then
                expect_stderr "was committed, but the store did not confirm"
        else
                expect_stderr "nothing was committed|Cannot lock"
        fi
        n=$((n + 1))
        [ "$n" -lt 200 ] || die "the backup never got through"
done
yunbak verify --store "$SCRATCH/store" --system hr >/dev/null || die "repository damaged by fsync failures"
backup incremental >/dev/null || die "the backup after the faults failed"
[ "$(count)" -ge 2 ] || die "expected at least two snapshots"
# Two backups of one system at once: one holds the lock, the other says so (exit 8). First for
# certain: the first backup holds the lock while its stream command waits for a file we create
# once the second backup has been refused.
before=$(count)
hold="i=0; touch '$SCRATCH/held'; while [ ! -e '$SCRATCH/release' ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i + 1)); done; echo held"
backup incremental --stream "_streams/hold=$hold" >/dev/null 2>"$SCRATCH/a.err" &
pa=$!
trap 'touch "$SCRATCH/release"; wait $pa || :; cleanup' EXIT # a failure here still lets it finish
i=0
while [ ! -e "$SCRATCH/held" ]; do
        kill -0 $pa 2>/dev/null || { cat "$SCRATCH/a.err"; die "the lock-holding backup ended early"; }
        i=$((i + 1))
        [ "$i" -lt 600 ] || die "the lock-holding backup never ran its stream"
        sleep 0.1
done
expect_exit 8 backup incremental --lock-wait 0s
expect_stderr "^yunbak-agent: error: Another backup of system 'hr' is running \(lock held by "
# With the default --lock-wait a backup waits for the lock (a WAL archiver holds it a moment),
# says so once, and runs when it is free.
backup incremental >/dev/null 2>"$SCRATCH/w.err" &
pw=$!
i=0
until grep -q "The backup waits for the repository lock of system 'hr' in store '.*', held by " "$SCRATCH/w.err"; do
        i=$((i + 1))
        [ "$i" -lt 600 ] || { cat "$SCRATCH/w.err"; die "the second backup did not say it waits"; }
        sleep 0.1
done
touch "$SCRATCH/release"
set +e
wait $pa
ra=$?
wait $pw
rw=$?
set -e
[ "$rw" = 0 ] || { cat "$SCRATCH/w.err"; die "the backup that waited for the lock exited $rw"; }
trap cleanup EXIT
[ "$ra" = 0 ] || { cat "$SCRATCH/a.err"; die "the lock-holding backup exited $ra"; }
[ "$(count)" = $((before + 2)) ] || die "expected two more snapshots, the lock holder's and the waiter's"
# Then racing: either may win, or they may not overlap at all; neither fails some other way, a
# refused one says why, and every snapshot verifies.
for i in $(seq 1 15); do
        echo "round $i" >>"$SRC/f1"
        set +e
        backup incremental >/dev/null 2>"$SCRATCH/a.err" &
        pa=$!
        backup incremental >/dev/null 2>"$SCRATCH/b.err"
        rb=$?
        wait $pa
        ra=$?
        set -e
        for x in "a $ra" "b $rb"; do
                set -- $x
                case $2 in
                0) ;;
                8) grep -q "Another backup of system 'hr' is running" "$SCRATCH/$1.err" ||
                        { cat "$SCRATCH/$1.err"; die "a backup exited 8 without saying why"; } ;;
                *) cat "$SCRATCH/a.err" "$SCRATCH/b.err"; die "concurrent backup exit $2" ;;
                esac
        done
        [ "$ra" = 0 ] || [ "$rb" = 0 ] || die "neither concurrent backup ran"
done
yunbak verify --store "$SCRATCH/store" --system hr >/dev/null || die "verify failed after concurrent backups"
echo "faults: ok"
