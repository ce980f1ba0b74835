#!/bin/sh
# Runs an integration test as an unprivileged user: as root, drops to nobody with setpriv;
# otherwise the test already runs unprivileged under its own name, so this one is skipped.
set -eu
[ "$(id -u)" -eq 0 ] || exit 77
command -v setpriv >/dev/null || exit 77
# nobody must be able to reach the tests and the binaries.
su nobody -s /bin/sh -c "test -r '$TESTS/integration/lib.sh' && test -x '$BIN/yunbak'" 2>/dev/null || exit 77
exec setpriv --reuid=nobody --regid=nogroup --clear-groups --reset-env env \
        TESTS="$TESTS" BIN="$BIN" TEST_NAME="$TEST_NAME" PATH="$PATH" TMPDIR=/tmp \
        ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" HOME=/tmp \
        sh "$TESTS/integration/$1.sh"
