#!/bin/sh
# Runs an integration test as an unprivileged user: as root, drops to nobody with setpriv;
# otherwise the test already runs unprivileged under its own name, so this one is skipped. When
# nobody cannot reach the sources or the binaries (a clone under /root, mode 0700), the test runs
# from a copy of both in a world-readable temporary directory. Every skip says why.
set -eu
skip() {
        echo "$1-unprivileged: skipped: $2"
        exit 77
}
[ "$(id -u)" -eq 0 ] || skip "$1" "not root: '$1' itself already ran unprivileged, as $(id -un)"
command -v setpriv >/dev/null || skip "$1" "no setpriv (util-linux) to drop to nobody"
id nobody >/dev/null 2>&1 || skip "$1" "no user nobody"

reachable() {
        su nobody -s /bin/sh -c "test -r '$TESTS/integration/lib.sh' && test -x '$BIN/yunbak'" \
                2>/dev/null
}
COPY=
if ! reachable; then
        SRC=$(cd "$TESTS/.." && pwd)
        COPY=$(mktemp -d "${TMPDIR:-/tmp}/yb-nobody-XXXXXX")
        trap 'rm -rf "$COPY"' EXIT
        mkdir "$COPY/src" "$COPY/bin"
        # The sources the tests read ($TESTS/..: policies, docs, dist, tests/data), without the
        # build trees and history; the programs at the top of the build tree.
        tar -C "$SRC" --exclude=./.git --exclude='./build*' --exclude=./demo-out -cf - . |
                tar -C "$COPY/src" -xf -
        find "$BIN" -maxdepth 1 -type f -perm -u+x -exec cp -p {} "$COPY/bin/" \;
        # and the build's settings, which a test reads to know what the build holds
        cp -p "$BIN/CMakeCache.txt" "$COPY/bin/" 2>/dev/null || true
        chmod -R a+rX "$COPY"
        echo "$1-unprivileged: nobody cannot reach $SRC or $BIN (a directory above is not" \
                "searchable by others): running from a copy in $COPY"
        TESTS="$COPY/src/tests"
        BIN="$COPY/bin"
        reachable || skip "$1" "nobody cannot reach the copy in $COPY either"
fi
set +e
setpriv --reuid=nobody --regid=nogroup --clear-groups --reset-env env \
        TESTS="$TESTS" BIN="$BIN" TEST_NAME="$TEST_NAME" PATH="$BIN:$PATH" TMPDIR=/tmp \
        ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" \
        ASAN_SYMBOLIZER_PATH="${ASAN_SYMBOLIZER_PATH:-}" HOME=/tmp \
        sh "$TESTS/integration/$1.sh"
rc=$?
exit $rc
