#!/bin/sh
# yunbakd's control API against a running daemon: every role against every endpoint (callers
# are real uids, which the kernel reports over the socket), the audit trail of refusals and
# changes, audit tampering in the SQLite file found through the API, a reload with a broken
# policy that keeps the old set, and /metrics checked by promtool.
. "$TESTS/integration/lib.sh"
is_root || { echo "needs root: callers are other uids" >&2; exit 77; }
command -v setpriv >/dev/null || exit 77
chmod 755 "$SCRATCH"
. "$TESTS/integration/daemon-lib.sh"
chmod -R a+rX "$D"

daemon_config "  - user: daemon
    role: department
    department: 人社局
  - user: bin
    role: department
    department: 政数局
  - user: sys
    role: auditor"
sed -i 's/^socket: yunbakd.sock/socket: yunbakd.sock\nmetrics_listen: 127.0.0.1:0\nsocket_mode: "0666"/' "$D/yunbakd.yaml"
# metrics on a free port: pick one now.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -i "s/^metrics_listen: 127.0.0.1:0/metrics_listen: 127.0.0.1:$PORT/" "$D/yunbakd.yaml"
daemon_system hr-portal 人社局
daemon_system hotline 政数局
# Retention after each good backup: keep the last two (each a full, so no chain holds more).
daemon_system archive 档案局 "" "" "  retention:
    keep_last: 2"
start_yunbakd

# as USER METHOD PATH [BODY]: the status code of the call made as that unix user.
as() {
        u=$1
        shift
        uid=$(id -u "$u")
        gid=$(id -g "$u")
        setpriv --reuid="$uid" --regid="$gid" --clear-groups \
                curl -s --unix-socket "$SOCK" -X "$1" -o /dev/null -w '%{http_code}' \
                ${3:+-H 'Content-Type: application/json' --data "$3"} "http://yunbakd$2"
}

# A job to read and cancel: queued by the operator.
job=$(api POST /v1/systems/hr-portal/backup '{"level":"full"}' | json 'j["job"]')
[ "$(wait_job "$job")" = succeeded ] || die "the first backup failed: $(cat "$D/body")"
snap=$(api GET "/v1/jobs/$job" | json 'j["snapshot"]')

# The role matrix: user method path expected-status. daemon: 人社局 (hr-portal), bin: 政数局
# (hotline), sys: auditor, nobody: unknown.
while read -r u m p want; do
        [ -n "$u" ] || continue
        got=$(as "$u" "$m" "$p" '{}')
        [ "$got" = "$want" ] || die "$u $m $p: expected $want, got $got"
done <<MATRIX
root GET /v1/whoami 200
daemon GET /v1/whoami 200
sys GET /v1/whoami 200
nobody GET /v1/whoami 403
root GET /v1/status 200
daemon GET /v1/status 200
sys GET /v1/status 200
nobody GET /v1/status 403
daemon GET /v1/systems/hr-portal 200
daemon GET /v1/systems/hotline 404
bin GET /v1/systems/hr-portal 404
sys GET /v1/systems/hotline 200
nobody GET /v1/systems/hotline 403
daemon GET /v1/systems/hr-portal/snapshots 200
bin GET /v1/systems/hr-portal/snapshots 404
sys GET /v1/systems/hr-portal/snapshots 200
nobody GET /v1/systems/hr-portal/snapshots 403
daemon GET /v1/jobs 200
sys GET /v1/jobs 200
nobody GET /v1/jobs 403
daemon GET /v1/jobs/$job 200
bin GET /v1/jobs/$job 404
sys GET /v1/jobs/$job 200
nobody GET /v1/jobs/$job 403
bin POST /v1/jobs/$job/cancel 404
sys POST /v1/jobs/$job/cancel 403
daemon POST /v1/jobs/$job/cancel 409
nobody POST /v1/jobs/$job/cancel 403
sys POST /v1/systems/hr-portal/backup 403
bin POST /v1/systems/hr-portal/backup 404
nobody POST /v1/systems/hr-portal/backup 403
root GET /v1/audit 200
sys GET /v1/audit 200
daemon GET /v1/audit 403
nobody GET /v1/audit 403
root GET /v1/audit/verify 200
sys GET /v1/audit/verify 200
bin GET /v1/audit/verify 403
nobody GET /v1/audit/verify 403
sys POST /v1/catalog/rebuild 403
daemon POST /v1/catalog/rebuild 403
nobody POST /v1/catalog/rebuild 403
root POST /v1/catalog/rebuild 200
sys POST /v1/reload 403
daemon POST /v1/reload 403
nobody POST /v1/reload 403
root POST /v1/reload 200
daemon POST /v1/systems/hr-portal/snapshots/$snap/release 403
bin POST /v1/systems/hr-portal/snapshots/$snap/release 404
sys POST /v1/systems/hr-portal/snapshots/$snap/release 403
nobody POST /v1/systems/hr-portal/snapshots/$snap/release 403
root POST /v1/systems/hr-portal/snapshots/$snap/release 200
root POST /v1/systems/hr-portal/snapshots/20200101T000000Z-000000/release 404
root GET /v1/systems/hr-portal/snapshots/$snap/release 405
root DELETE /v1/audit 405
root PUT /v1/audit/verify 405
root GET /v1/nothing 404
MATRIX

# Another department's job is answered as a job that does not exist: no system name leaks.
for m in GET POST; do
        p=/v1/jobs/$job q=/v1/jobs/99999
        [ $m = GET ] || { p=$p/cancel q=$q/cancel; }
        setpriv --reuid=2 --regid=2 --clear-groups curl -s --unix-socket "$SOCK" -X $m \
                "http://yunbakd$p" >"$D/other.json"
        setpriv --reuid=2 --regid=2 --clear-groups curl -s --unix-socket "$SOCK" -X $m \
                "http://yunbakd$q" |
                sed 's/99999/'"$job"'/' >"$D/none.json"
        cmp -s "$D/other.json" "$D/none.json" ||
                die "$m $p for another department: $(cat "$D/other.json"), not $(cat "$D/none.json")"
        grep -q hr-portal "$D/other.json" && die "$m $p names the system: $(cat "$D/other.json")"
done
# A department person lists only its own department's systems and jobs.
[ "$(setpriv --reuid=1 --regid=1 --clear-groups curl -s --unix-socket "$SOCK" http://yunbakd/v1/status |
        json '",".join(s["id"] for s in j["systems"])')" = hr-portal ] || die "status not filtered"
[ "$(setpriv --reuid=2 --regid=2 --clear-groups curl -s --unix-socket "$SOCK" http://yunbakd/v1/jobs |
        json 'len(j["jobs"])')" = 0 ] || die "jobs not filtered"
# The department acts on its own system.
[ "$(as daemon POST /v1/systems/hr-portal/backup '{"level":"incremental"}')" = 202 ] ||
        die "a department could not back up its own system"
job2=$(api GET "/v1/jobs?system=hr-portal&limit=1" | json 'j["jobs"][0]["id"]')
[ "$(wait_job "$job2")" = succeeded ] || die "the department's backup failed"
api GET "/v1/jobs/$job2" | json 'j["trigger"]' | grep -qx 'api:daemon' || die "trigger"
# A bad body is refused with the field named.
api POST /v1/systems/hr-portal/backup '{"level":"weekly"}' | grep -q 'level must be' || die "400"
[ "$(api_status)" = 400 ] || die "a bad level is not a 400"

# Every refusal and every change is in the audit log, with who.
api GET "/v1/audit?limit=1000" >"$D/audit.json"
json 'sum(1 for r in j["records"] if r["action"] == "api.backup-now" and r["actor"] == "daemon")' \
        <"$D/audit.json" | grep -qx 1 || die "the department's backup not audited"
json 'sum(1 for r in j["records"] if r["action"] in ("job.start", "job.end"))' <"$D/audit.json" |
        grep -qx 4 || die "job start and end not audited"
[ "$(api GET /v1/audit/verify | json 'j["ok"]')" = True ] || die "audit chain not intact"

# A reload with a broken policy keeps the old set, and says why.
cp "$D/policies/hotline.yaml" "$SCRATCH/hotline.good"
sed -i 's/^  rpo: 1d/  rpo: soon/' "$D/policies/hotline.yaml"
kill -HUP "$YUNBAKD_PID"
i=0
until [ "$(api GET /v1/status | json 'len(j["daemon"]["policy_errors"])')" -gt 0 ]; do
        i=$((i + 1))
        [ "$i" -lt 300 ] || die "SIGHUP did not reload"
        sleep 0.1
done
api GET /v1/status | json 'j["daemon"]["policy_errors"][0]' | grep -q 'hotline.yaml:[0-9]*:[0-9]*: .*rpo' ||
        die "the policy error does not say where"
[ "$(api GET /v1/status | json 'len(j["systems"])')" = 3 ] || die "the old set is not in force"
# The error is hotline's (政数局): its department and the auditor see it, 人社局 does not.
errors_of() {
        setpriv --reuid="$(id -u "$1")" --regid="$(id -g "$1")" --clear-groups \
                curl -s --unix-socket "$SOCK" http://yunbakd/v1/status |
                json '" | ".join(j["daemon"]["policy_errors"])'
}
errors_of bin | grep -q 'hotline.yaml:' || die "政数局 does not see its own policy error"
errors_of sys | grep -q 'hotline.yaml:' || die "the auditor does not see every policy error"
[ -z "$(errors_of daemon)" ] || die "人社局 sees another department's policy error: $(errors_of daemon)"
api POST /v1/reload | json 'j["ok"]' | grep -qx False || die "reload over the API did not fail"
cp "$SCRATCH/hotline.good" "$D/policies/hotline.yaml"
api POST /v1/reload | json 'j["ok"]' | grep -qx True || die "a fixed policy did not load"
[ "$(api GET /v1/status | json 'len(j["daemon"]["policy_errors"])')" = 0 ] || die "errors stay"

# Metrics pass promtool and carry the last job.
curl -sf "http://127.0.0.1:$PORT/metrics" >"$D/metrics" || die "no /metrics"
promtool check metrics <"$D/metrics" || die "promtool check metrics"
grep -q '^yunbak_last_status{system="hr-portal",tier="1",status="succeeded"} 1$' "$D/metrics" ||
        die "metrics lack the last status"
grep -q '^yunbak_rpo_seconds{system="hotline"} 86400$' "$D/metrics" || die "metrics lack the RPO"

# The unknown uid's 13 refused connections: counted per minute, reported by the stop at the
# latest (so before the tampering below, which puts back only the records it saw).
stop_yunbakd
[ "$(sql "SELECT sum(CAST(detail AS INTEGER)) FROM audit WHERE actor = 'uid:65534' AND
        result = 'denied'")" = 13 ] || die "refusals of the unknown uid not all audited"
start_yunbakd

# Tampering with the audit log in the SQLite file, behind yunbakd's back, is found through the
# API: an edited, a deleted, an inserted and a swapped record.
n=$(sql "SELECT max(seq) FROM audit")
sql ".backup '$SCRATCH/pristine.db'"
tamper() {
        sql "$1"
        api GET /v1/audit/verify >"$D/verify.json"
        json 'j["ok"]' <"$D/verify.json" | grep -qx False || die "not detected: $1"
        json 'len(j["problems"])' <"$D/verify.json" | grep -qvx 0 || die "no problem listed: $1"
        # undo: copy the pristine records back
        sql "DELETE FROM audit; ATTACH '$SCRATCH/pristine.db' AS p;
             INSERT INTO audit SELECT * FROM p.audit WHERE seq <= $n; DETACH p;"
        [ "$(api GET /v1/audit/verify | json 'j["ok"]')" = True ] || die "undo failed: $1"
}
tamper "UPDATE audit SET result = 'tampered' WHERE seq = 5"
tamper "DELETE FROM audit WHERE seq = 6"
tamper "UPDATE audit SET seq = -(seq + 1) WHERE seq > 4; UPDATE audit SET seq = -seq WHERE seq < 0;
        INSERT INTO audit SELECT 5, time_usec, 'mallory', role, action, object, result, detail, prev_hash, hash FROM audit WHERE seq = 4"
tamper "UPDATE audit SET seq = -seq WHERE seq IN (3, 4); UPDATE audit SET seq = 4 WHERE seq = -3; UPDATE audit SET seq = 3 WHERE seq = -4"
# Retention runs after each good backup: four fulls leave the two newest, in the store and in
# the catalog, and each prune is in the audit log.
for _ in 1 2 3 4; do
        j=$(api POST /v1/systems/archive/backup '{"level":"full"}' | json 'j["job"]')
        [ "$(wait_job "$j")" = succeeded ] || die "archive backup failed: $(cat "$D/body")"
done
[ "$(yunbak snapshots --store "$D/store" --system archive --json | json 'len(j)')" = 2 ] ||
        die "retention did not prune the store to two snapshots"
[ "$(api GET /v1/systems/archive/snapshots | json 'len(j["snapshots"])')" = 2 ] ||
        die "the catalog does not agree with the pruned store"
[ "$(api GET "/v1/audit?limit=1000" | json 'sum(1 for r in j["records"] if r["action"] == "snapshot.prune" and r["object"] == "archive" and r["result"] == "ok")')" = 2 ] ||
        die "prunes not audited"
yunbak verify --store "$D/store" --system archive >/dev/null || die "verify after prune"

stop_yunbakd
echo ok
