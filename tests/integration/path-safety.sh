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
# A FIFO, a symlink, a hard-link group restored where the target already holds a symlink to a
# file outside: the symlink is replaced, the file outside keeps its mode and content.
SRC2="$SCRATCH/src2/app2"
mkdir -p "$SRC2/a" "$SRC2/b"
mkfifo -m 0777 "$SRC2/fifo"
ln -s somewhere "$SRC2/link"
head -c 5000 /dev/urandom >"$SRC2/a/data"
ln "$SRC2/a/data" "$SRC2/b/l1"
ln "$SRC2/a/data" "$SRC2/b/l2"
ln "$SRC2/a/data" "$SRC2/b/l3"
yunbak-agent backup --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
        --level full "$SRC2" >/dev/null
echo precious >"$SCRATCH/victim"
chmod 0600 "$SCRATCH/victim"
mkdir -p "$SCRATCH/out2/app2"
ln -s "$SCRATCH/victim" "$SCRATCH/out2/app2/fifo"
ln -s "$SCRATCH/victim" "$SCRATCH/out2/app2/link"
yunbak restore --store "$SCRATCH/store" --system hr --key "$SCRATCH/keys/hr.key" \
        --passphrase-file "$SCRATCH/pass" --target "$SCRATCH/out2" --sync >/dev/null
[ -p "$SCRATCH/out2/app2/fifo" ] || die "the FIFO did not replace the planted symlink"
[ "$(stat -c %a "$SCRATCH/victim")" = 600 ] || die "restore changed the mode of a file outside the target"
[ "$(cat "$SCRATCH/victim")" = precious ] || die "restore changed a file outside the target"
[ "$(readlink "$SCRATCH/out2/app2/link")" = somewhere ] || die "the symlink was not restored"
# Restoring only b/: its three names come back as one file with three links, read once.
yunbak restore --store "$SCRATCH/store" --system hr --key "$SCRATCH/keys/hr.key" \
        --passphrase-file "$SCRATCH/pass" --target "$SCRATCH/out3" --json app2/b >"$SCRATCH/b.json"
[ "$(stat -c %h "$SCRATCH/out3/app2/b/l2")" = 3 ] || die "the hard links of b/ were not restored as links"
[ "$(stat -c %i "$SCRATCH/out3/app2/b/l1")" = "$(stat -c %i "$SCRATCH/out3/app2/b/l3")" ] || die "b/l1 and b/l3 differ"
cmp -s "$SCRATCH/out3/app2/b/l3" "$SRC2/a/data" || die "hard-linked content differs"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["volumes_read"] == 1, d' "$SCRATCH/b.json" ||
        die "the hard links' volume was read more than once"
echo "path-safety: ok"
