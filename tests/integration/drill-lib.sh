# Sourced by the drill tests after lib.sh (docs/drills.md): yunbakd (daemon-lib.sh) with the
# stores of the three tiers, a system whose policy names them, its keys, and helpers to back it
# up, copy it off-site, begin and report drills through the API and run `yunbak drill`.
#
#   Stores in yunbakd.yaml: local ($D/store, tier 1), intracity ($D/intracity, tier 2) and
#   offsite (tier 3: $D/offsite, or $OFFSITE_URL with $OFFSITE_SSH_KEY and $OFFSITE_KNOWN_HOSTS
#   when the test set them before drill_config: an SFTP store at another site).
#   drill_config [PEOPLE_YAML]    yunbakd.yaml (the current user an operator; more people)
#   drill_system ID DEPT [TIERS_YAML] [DRILL_YAML]   (classification $GRADE, default general)
#                                 a system named 人事门户网站 (or $NAME) with a small tree, its key
#                                 and a policy: tier 1 in local, then TIERS_YAML (tier2/tier3
#                                 sections, each key at column 0), objectives rpo 1h rto 2h, and
#                                 drill: every 1y, check $CHECK, then DRILL_YAML (keys under drill:);
#                                 $HOOKS_YAML, if set, goes under sources: (its hooks: key)
#   TIER2_YAML, TIER3_YAML        the usual tier-2 (interval 1s) and tier-3 (on request,
#                                 approved automatically) sections
#   backup ID [LEVEL]             a tier-1 job, waited for; prints the snapshot
#   offsite ID                    a tier-3 copy of the newest snapshot, waited for
#   catalog SQL                   runs SQL on yunbakd's catalog (pg-lib.sh's sql is PostgreSQL's)
#   begin_as USER BODY            POST /v1/drills as USER (root: as is); the answer in $D/body,
#                                 the status in $D/status
#   result_as USER ID BODY        POST /v1/drills/ID/result as USER
#   good_result BEGIN_JSON SNAP [PY_EDIT]
#                                 prints a result body that a correct run of the drill begun
#                                 (BEGIN_JSON, the answer of begin) would send for snapshot SNAP
#                                 of the tier's store; PY_EDIT, Python over the dict r, alters it
#   run_drill WANT ARGS...        `yunbak drill --system $SYSTEM --key ... --json ARGS` as root,
#                                 exit WANT; stdout and stderr in $SCRATCH
#   drill_failed ARGS...          the same, and the drill must fail (exit 10), saying at which phase
#   drill_refused ARGS...         the same, and it must be refused before running (exit 1-125 but
#                                 not 10: not a pass, not a crash), saying why on stderr
#   record ID EXPR                EXPR over drill ID's record (GET /v1/drills/ID) bound to j
#   audit_has ACTION RESULT ACTOR REGEX [OBJECT]
#                                 an audit record matches (RESULT a regex of the whole result;
#                                 object: the system, default $SYSTEM)
command -v yunbakd >/dev/null || {
        echo "${TEST_NAME:-drill}: yunbakd is not built (configure with -DYB_DAEMON=ON): skipped" >&2
        exit 77
}
for tool in curl sqlite3 python3; do
        command -v "$tool" >/dev/null || {
                echo "${TEST_NAME:-drill}: no $tool: skipped" >&2
                exit 77
        }
done
. "$TESTS/integration/daemon-lib.sh"
SYSTEM=${SYSTEM:-hr-portal}
NAME=${NAME:-人事门户网站}
DEPT=${DEPT:-市人力资源和社会保障局}
CHECK=${CHECK:-'test -s "$YUNBAK_DRILL_SANDBOX"/data/name.txt'}
catalog() { sqlite3 "$D/catalog.db" "$1"; }

drill_config() {
        daemon_config "${1:-}"
        mkdir -p "$D/intracity" "$D/offsite"
        python3 - "$D/yunbakd.yaml" "$D" "${OFFSITE_URL:-}" "${OFFSITE_SSH_KEY:-}" \
                "${OFFSITE_KNOWN_HOSTS:-}" <<'PY'
import sys
p, d, url, key, kh = sys.argv[1:]
s = open(p, encoding="utf-8").read()
off = f"  offsite:\n    url: {url or d + '/offsite'}\n"
if url.startswith("sftp://"):
    off += f"    ssh_key: {key}\n    known_hosts: {kh}\n"
old = f"    url: {d}/store\n"
assert old in s, "no local store in yunbakd.yaml"
s = s.replace(old, old + f"  intracity:\n    url: {d}/intracity\n" + off, 1)
s = s.replace("socket: yunbakd.sock\n", 'socket: yunbakd.sock\nsocket_mode: "0666"\n', 1)
open(p, "w", encoding="utf-8").write(s)
PY
        grep -q '^  offsite:' "$D/yunbakd.yaml" || die "the offsite store was not added to yunbakd.yaml"
}

TIER2_YAML="tier2:
  store: intracity
  max_lag: 30s
  interval: 1s
  checkpoint: \"*-*-* 00:00:00 UTC\""
TIER3_YAML="tier3:
  store: offsite
  on_request: true
  approval: automatic"

drill_system() {
        _id=$1
        mkdir -p "$D/trees/$_id/data"
        seq 1 2000 >"$D/trees/$_id/data/numbers.txt"
        printf '%s\n' "$_id" >"$D/trees/$_id/data/name.txt"
        head -c 200000 /dev/urandom >"$D/trees/$_id/data/random.bin"
        [ -f "$D/keys/$_id.pub" ] || {
                yunbak key init --system "$_id" --out "$D/keys" --passphrase-file "$SCRATCH/pass" \
                        >/dev/null
        }
        cat >"$D/policies/$_id.yaml" <<YAML
version: 1
system:
  id: $_id
  name: $NAME
  department: $2
  contact: 测试 <test@example.gov.cn>
  classification: ${GRADE:-general}
sources:
  host: here
${HOOKS_YAML:-}
  paths:
    - $D/trees/$_id/data
tier1:
  store: local
  full: "Sun *-*-* 02:00 UTC"
  incremental: "Mon..Sat *-*-* 02:00 UTC"
${3:-}
objectives:
  rpo: 1h
  rto: 2h
drill:
  every: 1y
  check: '$(printf '%s' "$CHECK" | sed "s/'/''/g")'
${4:-}
YAML
        yunbak policy check "$D/policies/$_id.yaml" >"$SCRATCH/policy-check.out" 2>&1 || {
                cat "$SCRATCH/policy-check.out" >&2
                die "the policy of $_id does not check"
        }
        chmod -R a+rX "$D"
}

backup() {
        _job=$(api POST "/v1/systems/$1/backup" "{\"level\":\"${2:-full}\"}" | json 'j["job"]')
        [ "$(wait_job "$_job")" = succeeded ] || {
                tail -20 "$D/yunbakd.log" >&2
                die "the backup of $1 failed: $(cat "$D/body")"
        }
        api GET "/v1/jobs/$_job" | json 'j["snapshot"]'
}

offsite() {
        _job=$(api POST /v1/offsite/requests "{\"system\":\"$1\",\"reason\":\"drill from tier 3\"}" |
                json 'j["job"]')
        [ "$(api_status)" = 201 ] || die "the off-site request of $1: $(api_status) $(cat "$D/body")"
        [ "$(wait_job "$_job")" = succeeded ] || {
                tail -20 "$D/yunbakd.log" >&2
                die "the off-site copy of $1 failed: $(cat "$D/body")"
        }
}

# call_as USER METHOD PATH [BODY]: the API as USER (root: as is); body in $D/body, status in
# $D/status, the body on stdout.
call_as() {
        _u=$1
        shift
        if [ "$_u" = root ]; then
                api "$@"
                return
        fi
        # The shell (root) writes what curl prints, the body exactly as it came (the other uid
        # could not write into $D): the status on standard error.
        setpriv --reuid="$(id -u "$_u")" --regid="$(id -g "$_u")" --clear-groups \
                curl -s --unix-socket "$SOCK" -X "$1" -w '%{stderr}%{http_code}' \
                ${3:+-H 'Content-Type: application/json' --data-binary "$3"} "http://yunbakd$2" \
                >"$D/body" 2>"$D/status" || die "curl as $_u could not call $1 $2"
        cat "$D/body"
}
begin_as() { call_as "$1" POST /v1/drills "$2"; }
result_as() { call_as "$1" POST "/v1/drills/$2/result" "$3"; }

# expect_status CODE WHAT: the last call answered CODE.
expect_status() {
        [ "$(api_status)" = "$1" ] || die "$2: expected $1, got $(api_status): $(cat "$D/body")"
}

good_result() {
        python3 - "$1" "$2" "$D/catalog.db" "${3:-}" <<'PY'
import json, sqlite3, sys
b = json.loads(sys.argv[1])
snap, edit = sys.argv[2], sys.argv[4]
db = sqlite3.connect(sys.argv[3])
row = db.execute("SELECT level, finished_usec FROM snapshots WHERE id = ? AND store = ?",
                 (snap, b["store"]["name"])).fetchone()
level, t = row if row else ("full", 0)
r = {
    "host": "dept-laptop-3",
    "location": b["store"]["location"],
    "point": {"id": snap, "level": level, "time_usec": t, "requested_at_usec": None,
              "partial": False},
    "phases": [{"name": "point", "ms": 5, "ok": True},
               {"name": "restore", "ms": 40, "ok": True, "files": 3, "bytes": 210000},
               {"name": "verify", "ms": 20, "ok": True, "files": 3, "bytes": 210000},
               {"name": "check", "ms": 3, "ok": True}],
    "result": "passed",
    "failed_phase": None,
    "error": None,
    "check": {"command": b["check"], "exit_code": 0, "output": "", "output_truncated": False},
    "postgresql": [],
}
if edit:
    exec(edit)
try:
    print(json.dumps(r, ensure_ascii=False))
except UnicodeEncodeError:  # a lone surrogate, which only an escape can carry
    print(json.dumps(r))
PY
}

run_drill() {
        _want=$1
        shift
        expect_exit "$_want" yunbak drill --system "$SYSTEM" --key "$D/keys/$SYSTEM.key" \
                --passphrase-file "$SCRATCH/pass" --socket "$SOCK" "$@"
}

drill_failed() {
        run_drill 10 "$@"
        grep -q 'Failed at the phase' "$SCRATCH/stdout" "$SCRATCH/stderr" || {
                cat "$SCRATCH/stdout" "$SCRATCH/stderr" >&2
                die "yunbak drill $* does not say at which phase it failed"
        }
}

drill_refused() {
        set +e
        yunbak drill --system "$SYSTEM" --key "$D/keys/$SYSTEM.key" --passphrase-file "$SCRATCH/pass" \
                --socket "$SOCK" "$@" >"$SCRATCH/stdout" 2>"$SCRATCH/stderr"
        _rc=$?
        set -e
        [ "$_rc" -ge 1 ] && [ "$_rc" -lt 126 ] && [ "$_rc" -ne 10 ] || {
                cat "$SCRATCH/stdout" "$SCRATCH/stderr" >&2
                die "yunbak drill $*: exit $_rc, want a refusal (not 0, not 10: a drill run, not a crash)"
        }
        [ -s "$SCRATCH/stderr" ] || die "yunbak drill $* was refused without a word on stderr"
}

record() { api GET "/v1/drills/$1" | json "$2"; }

audit_has() {
        api GET '/v1/audit?limit=1000' | python3 -c '
import json, re, sys
j = json.load(sys.stdin)
a, r, who, rx, obj = sys.argv[1:]
sys.exit(0 if any(x["action"] == a and x["object"] == obj and re.fullmatch(r, x["result"]) and
                  x["actor"] == who and re.search(rx, x["detail"] or "") for x in j["records"]) else 1)
' "$1" "$2" "$3" "$4" "${5:-$SYSTEM}" || {
                api GET '/v1/audit?limit=1000' | python3 -c '
import json, sys
for x in json.load(sys.stdin)["records"][-8:]:
    print(x["action"], x["object"], x["result"], x["actor"], x["detail"], file=sys.stderr)'
                die "no audit record $1 $2 by $3 of ${5:-$SYSTEM} matching /$4/"
        }
}
