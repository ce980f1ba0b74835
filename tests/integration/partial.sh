#!/bin/sh
# An unreadable file or directory is reported by name and skipped; the backup goes on, is marked
# partial, and exits 3. As root, the agent runs without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH,
# so that file modes bind it as they bind the files' owner.
. "$TESTS/integration/lib.sh"
AS=
if is_root; then
        command -v setpriv >/dev/null || {
                echo "partial: skipped: as root every file is readable, and there is no setpriv" \
                        "(util-linux) to drop CAP_DAC_OVERRIDE; the unprivileged variant covers it"
                exit 77
        }
        AS="setpriv --bounding-set=-dac_override,-dac_read_search"
fi

SRC="$SCRATCH/src/data"
mkdir -p "$SRC/locked-dir" "$SCRATCH/store"
echo fine >"$SRC/readable"
echo secret >"$SRC/unreadable"
echo hidden >"$SRC/locked-dir/inside"
chmod 000 "$SRC/unreadable" "$SRC/locked-dir"
make_key hr
# shellcheck disable=SC2086
expect_exit 3 $AS yunbak-agent backup --store "$SCRATCH/store" --system hr \
        --public-key "$SCRATCH/keys/hr.pub" --level full --json "$SRC"
expect_stderr "Skipped '.*data/unreadable': cannot read it: Permission denied"
expect_stderr "Skipped '.*data/locked-dir': cannot read it: Permission denied"
python3 - "$SCRATCH/stdout" "$SCRATCH/store/hr/snapshots" <<'PY' || die "the JSON summary does not list what was skipped, or miscounts the volumes"
import json, os, sys
d = json.load(open(sys.argv[1]))
assert d["partial"] is True and d["errors"] == 2, d
assert sorted(e["path"].rsplit("/", 1)[1] for e in d["skipped"]) == ["locked-dir", "unreadable"], d
# "volumes" counts the vol-* files, not the snapshot's other files (the list of what was skipped).
snap = os.path.join(sys.argv[2], d["snapshot"])
assert d["volumes"] == len([f for f in os.listdir(snap) if f.startswith("vol-")]), (d["volumes"], os.listdir(snap))
PY
# Restore says the snapshot is partial and what it lacks, and exits 3; verify says so too.
expect_exit 3 yunbak restore --store "$SCRATCH/store" --system hr --key "$SCRATCH/keys/hr.key" \
        --passphrase-file "$SCRATCH/pass" --target "$SCRATCH/out"
expect_stderr "Snapshot .* is partial: 2 entries could not be read at backup and are not in it"
expect_stderr "lacks .*data/unreadable: cannot read it: Permission denied"
expect_stderr "lacks .*data/locked-dir: cannot read it: Permission denied"
grep -q "PARTIAL snapshot" "$SCRATCH/stdout" || die "the restore's summary does not say partial"
grep -q "^  1 file (" "$SCRATCH/stdout" || die "the restore's summary does not count one file in the singular: $(cat "$SCRATCH/stdout")"
[ "$(cat "$SCRATCH/out/data/readable")" = fine ] || die "the readable file was not backed up"
expect_exit 0 yunbak verify --store "$SCRATCH/store" --system hr
grep -q "^ok .*PARTIAL" "$SCRATCH/stdout" || die "verify does not say partial: $(cat "$SCRATCH/stdout")"
expect_stderr "is partial: 2 entries .*their names are sealed"
expect_exit 0 yunbak verify --store "$SCRATCH/store" --system hr --deep --key "$SCRATCH/keys/hr.key" \
        --passphrase-file "$SCRATCH/pass"
expect_stderr "lacks .*data/unreadable: cannot read it"
echo "partial: ok"
