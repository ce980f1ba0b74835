#!/bin/sh
# A file that changes while it is read is read again; one that keeps changing is reported and
# skipped (exit 3), and never stored torn. A file swapped for a FIFO after the walk saw it is
# reported and skipped, never waited on.
. "$TESTS/integration/lib.sh"

SRC="$SCRATCH/src/data"
mkdir -p "$SRC" "$SCRATCH/store"
head -c 3000000 /dev/urandom >"$SRC/busy.log"
head -c 100000 /dev/urandom >"$SRC/quiet"
make_key hr
backup() {
        yunbak-agent backup --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
                --level "$1" "$SRC"
}
restore() {
        rm -rf "$SCRATCH/out"
        yunbak restore --store "$SCRATCH/store" --system hr --key "$SCRATCH/keys/hr.key" \
                --passphrase-file "$SCRATCH/pass" --target "$SCRATCH/out" >/dev/null
}

YB_TEST_MUTATE=grow-once:busy.log expect_exit 0 backup full
restore
cmp -s "$SRC/busy.log" "$SCRATCH/out/data/busy.log" || die "a file that changed once was not re-read"

YB_TEST_MUTATE=grow:busy.log expect_exit 3 backup full
expect_stderr "Skipped .*busy.log.*kept changing"
expect_exit 3 restore
expect_stderr "lacks .*data/busy.log: it kept changing"
[ ! -e "$SCRATCH/out/data/busy.log" ] || die "a file that kept changing was stored"
cmp -s "$SRC/quiet" "$SCRATCH/out/data/quiet" || die "the other file was not stored"
yunbak snapshots --store "$SCRATCH/store" --system hr | grep -q partial || die "snapshot not marked partial"
yunbak verify --store "$SCRATCH/store" --system hr --deep --key "$SCRATCH/keys/hr.key" \
        --passphrase-file "$SCRATCH/pass" >/dev/null || die "verify failed"
# Swapped for a FIFO nobody writes to, between the walk's stat and the open: opening it must not
# wait for a writer (timeout only ends a hang; a working agent is done long before).
head -c 1000 /dev/urandom >"$SRC/swapped"
YB_TEST_MUTATE=fifo:swapped expect_exit 3 timeout 300 yunbak-agent backup --store "$SCRATCH/store" \
        --system hr --public-key "$SCRATCH/keys/hr.pub" --level full "$SRC"
expect_stderr "Skipped .*swapped.*replaced"
[ -p "$SRC/swapped" ] || die "the test hook did not swap the file for a FIFO"
expect_exit 3 restore
expect_stderr "lacks .*data/swapped: it was replaced while being read"
[ ! -e "$SCRATCH/out/data/swapped" ] || die "a file swapped for a FIFO was stored"
cmp -s "$SRC/quiet" "$SCRATCH/out/data/quiet" || die "the other file was not stored"
echo "changing-file: ok"
