#!/bin/sh
# A file that changes while it is read is read again; one that keeps changing is reported and
# skipped (exit 3), and never stored torn.
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
echo "changing-file: ok"
