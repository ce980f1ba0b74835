# Sourced by the key copies' tests (key-copies-api.sh, -cli.sh, -destroy.sh): a yunbakd set-up
# (daemon-lib.sh) whose people are daemon (the department 人社局, of system hr-portal), bin
# (another department, of hotline), sys (an auditor) and root (an operator); hr-portal's private
# key in $DEPT, the department's directory; $KID its key id; yunbak run as any of them (as,
# expect_as: callers-lib.sh); checks of its output, the copies' states and the audit log.
# Root only.
. "$TESTS/integration/lib.sh"
is_root || { echo "needs root: callers are other uids" >&2; exit 77; }
command -v setpriv >/dev/null || { echo "needs setpriv" >&2; exit 77; }
chmod 755 "$SCRATCH"
. "$TESTS/integration/daemon-lib.sh"
chmod -R a+rX "$D"
. "$TESTS/integration/callers-lib.sh"
# No terminal: what would ask (attest-destroyed without --yes) must refuse instead.
exec </dev/null

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

out_has() { grep -q -- "$1" "$SCRATCH/stdout" || die "stdout lacks '$1': $(cat "$SCRATCH/stdout" "$SCRATCH/stderr")"; }
err_has() { grep -q -- "$1" "$SCRATCH/stderr" || die "stderr lacks '$1': $(cat "$SCRATCH/stdout" "$SCRATCH/stderr")"; }
state_of() { sql "SELECT state FROM key_copies WHERE id = $1"; }
audit_has() { # ACTION RESULT ACTOR TEXT
        [ "$(sql "SELECT count(*) FROM audit WHERE action = '$1' AND result = '$2' AND actor = '$3' AND instr(detail, '$4') > 0")" != 0 ] ||
                die "no audit record $1 $2 by $3 with '$4': $(sql "SELECT actor, action, result, detail FROM audit WHERE action LIKE 'key.%'")"
}

# call USER METHOD PATH [BODY]: the API called with curl as USER; the body in $D/body, the
# status in $D/status (the caller cannot write into $D itself: the answer's last line is it).
call() {
        u=$1
        shift
        setpriv --reuid="$(id -u "$u")" --regid="$(id -g "$u")" --clear-groups \
                curl -s --unix-socket "$SOCK" -X "$1" -w '\n%{http_code}' \
                ${3:+-H 'Content-Type: application/json' --data "$3"} "http://yunbakd$2" \
                >"$D/answer"
        tail -n 1 "$D/answer" >"$D/status"
        sed '$d' "$D/answer" >"$D/body"
}
