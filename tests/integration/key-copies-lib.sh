# Sourced by the key copies' CLI tests (key-copies-cli.sh, key-copies-destroy.sh): a yunbakd
# set-up (daemon-lib.sh) whose people are daemon (the department 人社局, of system hr-portal),
# bin (another department, of hotline), sys (an auditor) and root (an operator); hr-portal's
# private key in $DEPT, the department's directory; $KID its key id; yunbak run as any of them
# (as, expect_as), and checks of its output, the copies' states and the audit log. Root only.
. "$TESTS/integration/lib.sh"
is_root || { echo "needs root: callers are other uids" >&2; exit 77; }
command -v setpriv >/dev/null || { echo "needs setpriv" >&2; exit 77; }
chmod 755 "$SCRATCH"
. "$TESTS/integration/daemon-lib.sh"
chmod -R a+rX "$D"
# The other users run yunbak; a build under a private directory is out of their reach, so they
# run a copy of it from a directory they can enter.
YUNBAK=$BIN/yunbak
if ! setpriv --reuid=daemon --regid=daemon --clear-groups test -x "$YUNBAK"; then
        cp -p "$BIN/yunbak" "$SCRATCH/yunbak"
        chmod a+rx "$SCRATCH/yunbak"
        YUNBAK=$SCRATCH/yunbak
        setpriv --reuid=daemon --regid=daemon --clear-groups test -x "$YUNBAK" ||
                { echo "other users cannot run the copy $YUNBAK either" >&2; exit 77; }
fi

daemon_config "  - user: daemon
    role: department
    department: 人社局
  - user: bin
    role: department
    department: 政数局
  - user: sys
    role: auditor"
sed -i 's/^socket: yunbakd.sock/socket: yunbakd.sock\nsocket_mode: "0666"/' "$D/yunbakd.yaml"
daemon_system hr-portal 人社局
daemon_system hotline 政数局
# The department keeps the private key in its own directory.
DEPT=$SCRATCH/dept
mkdir -p "$DEPT/backup"
mv "$D/keys/hr-portal.key" "$DEPT/hr-portal.key"
cp "$SCRATCH/pass" "$DEPT/pass"
chown -R daemon:daemon "$DEPT"
KID=$(json 'j["key_id"]' <"$D/keys/hr-portal.pub")

# as USER ARGS...: yunbak ARGS run as that unix user with yunbakd's socket; the output in
# $SCRATCH/stdout and stderr; returns its exit code.
as() {
        u=$1
        shift
        set +e
        setpriv --reuid="$(id -u "$u")" --regid="$(id -g "$u")" --clear-groups \
                env YUNBAK_SOCKET="$SOCK" YUNBAK_KDF=interactive "$YUNBAK" "$@" \
                >"$SCRATCH/stdout" 2>"$SCRATCH/stderr" </dev/null
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
out_has() { grep -q -- "$1" "$SCRATCH/stdout" || die "stdout lacks '$1': $(cat "$SCRATCH/stdout" "$SCRATCH/stderr")"; }
err_has() { grep -q -- "$1" "$SCRATCH/stderr" || die "stderr lacks '$1': $(cat "$SCRATCH/stdout" "$SCRATCH/stderr")"; }
state_of() { sql "SELECT state FROM key_copies WHERE id = $1"; }
audit_has() { # ACTION RESULT ACTOR TEXT
        [ "$(sql "SELECT count(*) FROM audit WHERE action = '$1' AND result = '$2' AND actor = '$3' AND instr(detail, '$4') > 0")" != 0 ] ||
                die "no audit record $1 $2 by $3 with '$4': $(sql "SELECT actor, action, result, detail FROM audit WHERE action LIKE 'key.%'")"
}

