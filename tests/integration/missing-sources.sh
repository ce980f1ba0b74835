#!/bin/sh
# A backup none of whose sources can be read fails and commits nothing (an empty snapshot would
# pass for a backup); one with a source left is partial, as before.
. "$TESTS/integration/lib.sh"

mkdir -p "$SCRATCH/src/data" "$SCRATCH/store"
echo hello >"$SCRATCH/src/data/f"
make_key hr
backup() {
        yunbak-agent backup --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
                --level full "$@"
}
expect_exit 1 backup "$SCRATCH/gone" "$SCRATCH/also-gone"
expect_stderr "Skipped '.*/gone': cannot read the source: No such file"
expect_stderr "Backup of system 'hr' failed, nothing was committed: none of its sources can be read \('.*/gone', '.*/also-gone'\)"
[ -z "$(ls "$SCRATCH/store/hr/snapshots" 2>/dev/null)" ] || die "a snapshot was committed: $(ls "$SCRATCH/store/hr/snapshots")"
[ -z "$(ls "$SCRATCH/store/hr/tmp" 2>/dev/null)" ] || die "the failed backup left files in tmp/"
expect_exit 3 backup "$SCRATCH/gone" "$SCRATCH/src/data"
[ "$(ls "$SCRATCH/store/hr/snapshots" | wc -l)" -eq 1 ] || die "the partial backup was not committed"
echo "missing-sources: ok"
