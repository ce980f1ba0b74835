# Sourced by decommission-flow.sh and decommission-roles.sh after lib.sh: yunbakd (daemon-lib.sh)
# with people of other uids who call it with `yunbak decommission` through setpriv: daemon and
# sync of 人社局 (department), bin of 政数局, sys (auditor), games (a second operator), root (an
# operator); stores local (every tier-1) and handover (a store for exports); helpers to check
# what they are told and the audit log. Needs root; skips (77) otherwise.
is_root || { echo "needs root: callers are other uids" >&2; exit 77; }
command -v setpriv >/dev/null || { echo "needs setpriv" >&2; exit 77; }
for u in daemon bin sys games sync; do
        id "$u" >/dev/null 2>&1 || { echo "needs a user $u to call yunbakd as" >&2; exit 77; }
done
chmod 755 "$SCRATCH"
. "$TESTS/integration/daemon-lib.sh"
. "$TESTS/integration/callers-lib.sh"

daemon_config "  - user: daemon
    role: department
    department: 人社局
  - user: sync
    role: department
    department: 人社局
  - user: bin
    role: department
    department: 政数局
  - user: sys
    role: auditor
  - user: games
    role: operator"
sed -i 's/^socket: yunbakd.sock/socket: yunbakd.sock\nsocket_mode: "0666"/' "$D/yunbakd.yaml"
mkdir -p "$D/handover"
sed -i "s|^    url: $D/store\$|    url: $D/store\n  handover:\n    url: $D/handover|" "$D/yunbakd.yaml"
grep -q '^  handover:' "$D/yunbakd.yaml" || die "the handover store was not added to yunbakd.yaml"

# said FILE REGEX: the last call's stdout or stderr matches.
said() {
        grep -Eq -- "$2" "$SCRATCH/$1" || die "'$2' is not in $1: $(cat "$SCRATCH/$1")"
}
# api_as USER METHOD PATH [BODY]: the API called as USER; the body on stdout, the status in
# $D/status.
api_as() {
        u=$1
        shift
        setpriv --reuid="$(id -u "$u")" --regid="$(id -g "$u")" --clear-groups \
                curl -s --unix-socket "$SOCK" -X "$1" -w '\n%{http_code}' \
                ${3:+-H 'Content-Type: application/json' --data "$3"} "http://yunbakd$2" \
                >"$SCRATCH/answer"
        tail -n 1 "$SCRATCH/answer" >"$D/status"
        sed '$d' "$SCRATCH/answer"
}
# audit_has ACTION RESULT ACTOR REGEX: an audit record of hr-portal (or of $OBJECT) matches.
audit_has() {
        api GET '/v1/audit?limit=1000' | python3 -c '
import json, re, sys
j = json.load(sys.stdin)
a, r, who, rx, obj = sys.argv[1:]
sys.exit(0 if any(x["action"] == a and x["object"] == obj and x["result"] == r and
                  x["actor"] == who and re.search(rx, x["detail"]) for x in j["records"]) else 1)
' "$@" "${OBJECT:-hr-portal}" || die "no audit record $* of ${OBJECT:-hr-portal}"
}
# decom N EXPR: EXPR over decommission N's JSON (as root).
decom() { api GET "/v1/decommissions/$1" | json "$2"; }

# handover_key DIR: a new key pair of hr-portal in DIR, for an export (its .pub readable by all).
handover_key() {
        # The department's own key, not a copy of the system's: yunbakd does not register it.
        yunbak key init --system hr-portal --out "$1" --passphrase-file "$SCRATCH/pass" \
                --no-register >/dev/null
        chmod 755 "$1"
        chmod 644 "$1/hr-portal.pub"
}
