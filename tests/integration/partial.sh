#!/bin/sh
# An unreadable file or directory is reported by name and skipped; the backup goes on, is marked
# partial, and exits 3. (As root nothing is unreadable: this runs in the unprivileged variant.)
. "$TESTS/integration/lib.sh"
is_root && exit 77

SRC="$SCRATCH/src/data"
mkdir -p "$SRC/locked-dir" "$SCRATCH/store"
echo fine >"$SRC/readable"
echo secret >"$SRC/unreadable"
echo hidden >"$SRC/locked-dir/inside"
chmod 000 "$SRC/unreadable" "$SRC/locked-dir"
make_key hr
expect_exit 3 yunbak-agent backup --store "$SCRATCH/store" --system hr \
        --public-key "$SCRATCH/keys/hr.pub" --level full --json "$SRC"
expect_stderr "Skipped '.*data/unreadable': cannot read it: Permission denied"
expect_stderr "Skipped '.*data/locked-dir': cannot read it: Permission denied"
python3 - "$SCRATCH/stdout" <<'PY' || die "the JSON summary does not list what was skipped"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["partial"] is True and d["errors"] == 2, d
assert sorted(e["path"].rsplit("/", 1)[1] for e in d["skipped"]) == ["locked-dir", "unreadable"], d
PY
yunbak restore --store "$SCRATCH/store" --system hr --key "$SCRATCH/keys/hr.key" \
        --passphrase-file "$SCRATCH/pass" --target "$SCRATCH/out" >/dev/null
[ "$(cat "$SCRATCH/out/data/readable")" = fine ] || die "the readable file was not backed up"
echo "partial: ok"
