#!/bin/sh
# The drill's sandbox against what a host may have backed up (docs/drills.md, "The sandbox",
# "Verify"): symlinks out of the tree (to /, to /etc, to a directory outside with a canary),
# a FIFO, a hard link, a name with a newline, a name like the drill's own directory, a tree
# 300 levels deep. `yunbak drill --no-record` restores, verifies and removes it, as root and
# (when root) as the unprivileged user nobody: the drill passes, the sandbox is gone, and
# outside nothing changed. (A symlink swapped in later, by the check command, is removed as a
# symlink too: yb_rm_rf_at, test-fileio.) A few seconds.
set -eu
. "$TESTS/integration/lib.sh"
command -v python3 >/dev/null || { echo "no python3: the deep tree needs it"; exit 77; }
cd "$SCRATCH"
chmod 755 "$SCRATCH"

OUT="$SCRATCH/outside"
mkdir -p "$OUT/dir"
echo precious >"$OUT/canary"
echo precious >"$OUT/dir/canary"
outside_same() {
        [ "$(find "$OUT" | sort | tr '\n' ' ')" = "$OUT $OUT/canary $OUT/dir $OUT/dir/canary " ] &&
                [ "$(cat "$OUT/canary" "$OUT/dir/canary")" = "precious
precious" ] || die "$1: out of the sandbox, $OUT changed: $(find "$OUT" -ls)"
}

SRC="$SCRATCH/src/data"
mkdir -p "$SRC/sub" "$SRC/.yunbak-drill-pg"
echo hello >"$SRC/sub/hello"
ln "$SRC/sub/hello" "$SRC/hard"
ln -s / "$SRC/root"
ln -s /etc "$SRC/etc"
ln -s "$OUT" "$SRC/out"
ln -s "$OUT/canary" "$SRC/canary-link"
ln -s "$OUT" "$SRC/.yunbak-drill-pg/dumps"
mkfifo "$SRC/fifo"
printf 'x' >"$SRC/name with
newline"
python3 - "$SRC" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
for i in range(300):
    os.mkdir("d", 0o755, dir_fd=fd)
    nfd = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
    os.close(fd)
    fd = nfd
with open(os.open("leaf", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as f:
    f.write("deep\n")
PY
mkdir -p store
make_key hr
yunbak-agent backup --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
        --level full "$SRC" >/dev/null

# drill AS SANDBOX ARGS...: yunbak drill --no-record as AS (root: ourselves) into SANDBOX.
drill() {
        _as=$1 _sb=$2
        shift 2
        if [ "$_as" = root ]; then
                set -- yunbak drill --system hr --no-record --store "$SCRATCH/store" \
                        --key "$SCRATCH/keys/hr.key" --passphrase-file "$SCRATCH/pass" --sandbox "$_sb" "$@"
        else
                set -- setpriv --reuid="$_as" --regid="$(id -g "$_as")" --clear-groups -- \
                        env HOME=/nonexistent "$NOBODY_YUNBAK" drill --system hr --no-record --store "$SCRATCH/store" \
                        --key "$SCRATCH/keys/hr.key" --passphrase-file "$SCRATCH/pass" --sandbox "$_sb" "$@"
        fi
        "$@"
}

users=root
if is_root && command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
        users="root nobody"
        chmod -R a+rX "$SCRATCH/store" "$SCRATCH/keys" && chmod a+r "$SCRATCH/pass"
        mkdir -p "$SCRATCH/sb-nobody-parent" && chown nobody "$SCRATCH/sb-nobody-parent"
        # A build under a private directory (a clone under /root) is out of nobody's reach: it
        # runs a copy from the scratch directory.
        NOBODY_YUNBAK=$BIN/yunbak
        if ! setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups test -x "$NOBODY_YUNBAK"; then
                cp -p "$BIN/yunbak" "$SCRATCH/yunbak" && chmod a+rx "$SCRATCH/yunbak"
                NOBODY_YUNBAK=$SCRATCH/yunbak
                setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups test -x "$NOBODY_YUNBAK" ||
                        { echo "nobody cannot run $BIN/yunbak nor a copy of it in $SCRATCH: skipped" >&2; exit 77; }
        fi
elif ! is_root; then
        users=$(id -un)
fi
for u in $users; do
        # root's run as itself; as root, nobody's through setpriv, in a directory of its own
        [ "$u" = "$(id -un)" ] && as=root || as=$u
        if [ "$as" = root ]; then
                SB="$SCRATCH/sb-$u"
        else
                SB="$SCRATCH/sb-nobody-parent/sb"
        fi
        expect_exit 0 drill "$as" "$SB"
        grep -q "not recorded: PASSED" "$SCRATCH/stdout" || die "as $u: the drill did not pass: $(cat "$SCRATCH/stdout" "$SCRATCH/stderr")"
        [ ! -e "$SB" ] || die "as $u: the sandbox $SB is left"
        outside_same "as $u"
        [ -d /etc ] && [ -f /etc/passwd ] || die "as $u: /etc is gone"
done

exit 0
