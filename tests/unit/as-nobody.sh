#!/bin/sh
# Runs a unit test program as an unprivileged user: as root, drops to nobody with setpriv, from a
# copy of the program in a world-readable temporary directory (the build tree may be under
# /root, mode 0700); otherwise the program already ran unprivileged under its own name, so this
# run is skipped. For the cases that only an unprivileged user can reach (a mode that root reads
# through). Every skip says why.
set -eu
prog=$1
name=$(basename "$prog")
skip() {
        echo "$name-unprivileged: skipped: $1"
        exit 77
}
[ "$(id -u)" -eq 0 ] || skip "not root: '$name' itself already ran unprivileged, as $(id -un)"
command -v setpriv >/dev/null || skip "no setpriv (util-linux) to drop to nobody"
id nobody >/dev/null 2>&1 || skip "no user nobody"
COPY=$(mktemp -d "${TMPDIR:-/tmp}/yb-nobody-XXXXXX")
trap 'rm -rf "$COPY"' EXIT
cp -p "$prog" "$COPY/"
chmod -R a+rX "$COPY"
set +e
setpriv --reuid=nobody --regid=nogroup --clear-groups --reset-env env TMPDIR=/tmp HOME=/tmp \
        ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" \
        ASAN_SYMBOLIZER_PATH="${ASAN_SYMBOLIZER_PATH:-}" "$COPY/$name"
rc=$?
exit $rc
