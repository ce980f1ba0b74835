#!/bin/sh
# A full store (ENOSPC on a write) or a failed fsync while a backup writes: the snapshot is not
# committed, the exit status says so (7), the message says what, earlier snapshots are untouched.
. "$TESTS/integration/lib.sh"

SRC="$SCRATCH/src/data"
mkdir -p "$SRC" "$SCRATCH/store"
for i in $(seq 1 10); do head -c $((i * 30000)) /dev/urandom >"$SRC/f$i"; done
make_key hr
backup() {
        yunbak-agent backup --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
                --level "$1" --threads 0 "$SRC"
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
# Two backups of one system at once: one holds the lock, the other says so (exit 8); neither
# fails some other way, and every snapshot verifies.
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
        for rc in $ra $rb; do
                [ "$rc" = 0 ] || [ "$rc" = 8 ] || { cat "$SCRATCH/a.err" "$SCRATCH/b.err"; die "concurrent backup exit $rc"; }
        done
        [ "$ra" = 0 ] || [ "$rb" = 0 ] || die "neither concurrent backup ran"
done
grep -h "another backup" "$SCRATCH/a.err" "$SCRATCH/b.err" >/dev/null 2>&1 || true
yunbak verify --store "$SCRATCH/store" --system hr >/dev/null || die "verify failed after concurrent backups"
echo "faults: ok"
