#!/bin/sh
# Restore never writes outside its target: a symlink planted in the target where a directory of
# the snapshot goes is refused, and nothing appears where it points.
. "$TESTS/integration/lib.sh"

SRC="$SCRATCH/src/app"
mkdir -p "$SRC/etc" "$SCRATCH/store" "$SCRATCH/elsewhere"
echo secret >"$SRC/etc/passwd"
echo ok >"$SRC/readme"
ln -s /etc "$SRC/link-to-etc"
make_key hr
yunbak-agent backup --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
        --level full "$SRC" >/dev/null
mkdir -p "$SCRATCH/out/app"
ln -s "$SCRATCH/elsewhere" "$SCRATCH/out/app/etc"
expect_exit 3 yunbak restore --store "$SCRATCH/store" --system hr --key "$SCRATCH/keys/hr.key" \
        --passphrase-file "$SCRATCH/pass" --target "$SCRATCH/out"
expect_stderr "app/etc.*symlink or non-directory in the target"
[ -z "$(ls "$SCRATCH/elsewhere")" ] || die "restore wrote through a symlink"
[ "$(cat "$SCRATCH/out/app/readme")" = ok ] || die "the rest was not restored"
# Symlinks in the snapshot are restored as links, never followed.
[ "$(readlink "$SCRATCH/out/app/link-to-etc")" = /etc ] || die "symlink not restored as a link"
echo "path-safety: ok"
