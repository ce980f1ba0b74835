# Sourced by the yunbakd tests whose callers are other uids (the kernel reports them over the
# socket), after daemon-lib.sh: $YUNBAK, a yunbak they can run, and `as`/`expect_as` to run it
# as one of them against yunbakd's socket $SOCK. The caller checked that it runs as root and that
# setpriv is there.

# The other users run yunbak; a build under a private directory (a clone under /root) is out of
# their reach, so they run a copy of it from a directory they can enter.
YUNBAK=$BIN/yunbak
if ! setpriv --reuid=daemon --regid=daemon --clear-groups test -x "$YUNBAK"; then
        cp -p "$BIN/yunbak" "$SCRATCH/yunbak"
        chmod a+rx "$SCRATCH/yunbak"
        YUNBAK=$SCRATCH/yunbak
        echo "other users cannot run $BIN/yunbak (a build under a private directory): they run" \
                "a copy, $YUNBAK" >&2
        setpriv --reuid=daemon --regid=daemon --clear-groups test -x "$YUNBAK" ||
                { echo "other users cannot run the copy $YUNBAK either" >&2; exit 77; }
fi

# as USER yunbak ARGS...: yunbak run as that unix user; stdout and stderr in $SCRATCH.
as() {
        u=$1
        shift
        set +e
        setpriv --reuid="$(id -u "$u")" --regid="$(id -g "$u")" --clear-groups \
                "$YUNBAK" "$@" --socket "$SOCK" >"$SCRATCH/stdout" 2>"$SCRATCH/stderr"
        rc=$?
        set -e
        return $rc
}
# expect_as CODE USER ARGS...: as, and the exit code must be CODE.
expect_as() {
        want=$1
        shift
        rc=0
        as "$@" || rc=$?
        [ "$rc" -eq "$want" ] || {
                cat "$SCRATCH/stdout" "$SCRATCH/stderr" >&2
                die "$*: expected exit $want, got $rc"
        }
}
