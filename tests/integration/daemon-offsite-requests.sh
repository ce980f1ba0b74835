#!/bin/sh
# Requests for off-site copies through yunbakd, by real uids (the kernel reports them over the
# socket) with `yunbak offsite`: the requester cannot approve its own request, whatever its role;
# another operator can, and the approval queues a tier-3 copy job; a department cannot ask for
# another department's system; an auditor lists and reads and every write of theirs is refused;
# approval: automatic queues at once; a policy without tier3.on_request is refused, naming the
# file. Each step is checked in the audit log, and the pending count in status and metrics. The
# off-site copy an approval made then repairs a flipped byte of the tier-1 volume.
. "$TESTS/integration/lib.sh"
is_root || { echo "needs root: callers are other uids" >&2; exit 77; }
command -v setpriv >/dev/null || exit 77
chmod 755 "$SCRATCH"
. "$TESTS/integration/daemon-lib.sh"
. "$TESTS/integration/callers-lib.sh"
chmod -R a+rX "$D"
# daemon and bin: departments; sys: auditor; games: a second operator; root: the first.
id games >/dev/null 2>&1 || { echo "no user games to be the second operator" >&2; exit 77; }
daemon_config "  - user: daemon
    role: department
    department: 人社局
  - user: bin
    role: department
    department: 政数局
  - user: sys
    role: auditor
  - user: games
    role: operator"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -i "s|^socket: yunbakd.sock|socket: yunbakd.sock\nsocket_mode: \"0666\"\nmetrics_listen: 127.0.0.1:$PORT|" \
        "$D/yunbakd.yaml"
mkdir -p "$D/offsite"
sed -i "s|^    url: $D/store\$|    url: $D/store\n  offsite:\n    url: $D/offsite|" "$D/yunbakd.yaml"
grep -q '^  offsite:' "$D/yunbakd.yaml" || die "the offsite store was not added to yunbakd.yaml"
daemon_system hr-portal 人社局 "" "" "tier3:
  store: offsite
  on_request: true"
daemon_system hotline 政数局 "" "" "tier3:
  store: offsite
  on_request: true
  approval: automatic
  retention:
    keep_last: 1"
daemon_system archive 人社局 "" "" "tier3:
  store: offsite
  schedule: Sun *-*-* 04:00 UTC"
daemon_system plain 人社局
chmod -R a+rX "$D"
start_yunbakd

# audit_has ACTION OBJECT RESULT ACTOR REGEX: some audit record matches all of them.
audit_has() {
        api GET '/v1/audit?limit=1000' | python3 -c '
import json, re, sys
j = json.load(sys.stdin)
a, o, r, who, rx = sys.argv[1:]
sys.exit(0 if any(x["action"] == a and x["object"] == o and x["result"] == r and
                  x["actor"] == who and re.search(rx, x["detail"]) for x in j["records"]) else 1)
' "$@" || die "no audit record $*"
}
pending() { api GET /v1/status | json "[s['offsite_requests_pending'] for s in j['systems'] if s['id'] == '$1'][0]"; }

for s in hr-portal hotline; do
        job=$(api POST "/v1/systems/$s/backup" '{"level":"full"}' | json 'j["job"]')
        [ "$(wait_job "$job")" = succeeded ] || die "the backup of $s failed: $(cat "$D/body")"
done
snap=$(api GET "/v1/systems/hr-portal/snapshots" | json 'j["snapshots"][0]["id"]')

# A department asks for its own system; the request waits for an operator.
expect_as 0 daemon offsite request --system hr-portal --snapshot "$snap" --reason "年度审计 备份异地"
grep -q 'Request 1: copy of hr-portal' "$SCRATCH/stdout" || die "request 1 not said: $(cat "$SCRATCH/stdout")"
req=$(api GET /v1/offsite/requests | json '[r["id"] for r in j["requests"] if r["system"] == "hr-portal"][0]')
[ "$(api GET "/v1/offsite/requests/$req" | json 'j["state"]')" = pending ] || die "request $req is not pending"
audit_has offsite.request hr-portal ok daemon "request $req, snapshot $snap; reason: 年度审计"
[ "$(pending hr-portal)" = 1 ] || die "status does not count the pending request: $(pending hr-portal)"
curl -s "http://127.0.0.1:$PORT/metrics" | grep -qx 'yunbak_offsite_requests_pending{system="hr-portal"} 1' ||
        die "metrics do not count the pending request"
as daemon status || true # exit 3: other systems have no backup yet
grep -q "hr-portal: 1 request for off-site copies awaits an operator's decision" "$SCRATCH/stdout" ||
        die "yunbak status does not name the pending request: $(cat "$SCRATCH/stdout")"
# The same copy asked twice: refused, naming the pending one.
expect_as 8 daemon offsite request --system hr-portal --snapshot "$snap" --reason again
grep -q "request $req for the same copy" "$SCRATCH/stderr" || die "duplicate not named: $(cat "$SCRATCH/stderr")"

# The requester may not decide: as a department (not an operator), and an operator who asked
# may not approve their own either.
expect_as 4 daemon offsite approve "$req"
grep -q 'only operators' "$SCRATCH/stderr" || die "department approve: $(cat "$SCRATCH/stderr")"
expect_as 0 root offsite request --system hr-portal --reason "operator's own"
own=$(api GET '/v1/offsite/requests?state=pending' | json '[r["id"] for r in j["requests"] if r["requested_by"] == "root"][0]')
expect_as 4 root offsite approve "$own"
grep -q 'yourself' "$SCRATCH/stderr" || die "self-approval not refused as such: $(cat "$SCRATCH/stderr")"
audit_has offsite.approve hr-portal refused root "request $own.*yourself"
[ "$(api GET "/v1/offsite/requests/$own" | json 'j["state"]')" = pending ] || die "request $own changed"

# Another department: its system does not exist for it, and requests of others stay unseen.
expect_as 1 bin offsite request --system hr-portal --reason "not mine"
grep -q "no system 'hr-portal'" "$SCRATCH/stderr" || die "cross-department request: $(cat "$SCRATCH/stderr")"
expect_as 0 bin offsite list --json
[ "$(json 'len(j["requests"])' <"$SCRATCH/stdout")" = 0 ] || die "bin sees another department's requests"
expect_as 1 bin offsite show "$req"

# The auditor reads everything and changes nothing.
expect_as 0 sys offsite list
grep -q "hr-portal" "$SCRATCH/stdout" || die "the auditor's list lacks hr-portal"
expect_as 0 sys offsite show "$req"
expect_as 4 sys offsite request --system hr-portal --reason "auditor"
expect_as 4 sys offsite approve "$req"
expect_as 4 sys offsite refuse "$req"
audit_has api.denied "POST /v1/offsite/requests/$req/approve" denied sys "only operators"
[ "$(api GET "/v1/offsite/requests/$req" | json 'j["state"]')" = pending ] || die "the auditor changed request $req"

# A policy without on_request, and one without tier3: refused, naming the file and the key.
expect_as 8 daemon offsite request --system archive --reason "not allowed"
grep -q "$D/policies/archive.yaml does not say tier3.on_request: true" "$SCRATCH/stderr" ||
        die "on_request false not explained: $(cat "$SCRATCH/stderr")"
audit_has offsite.request archive refused daemon 'tier3.on_request'
expect_as 8 daemon offsite request --system plain --reason "no tier3"
grep -q "$D/policies/plain.yaml has no tier3" "$SCRATCH/stderr" || die "no tier3 not explained"

# Another operator approves: a tier-3 copy job is queued for the snapshot asked.
expect_as 0 games offsite approve "$req" --reason "同意"
job=$(api GET "/v1/offsite/requests/$req" | json 'j["job"]')
[ "$job" != None ] || die "the approval queued no copy job: $(cat "$D/body")"
[ "$(api GET "/v1/offsite/requests/$req" | json 'j["state"]')" = approved ] || die "request $req not approved"
[ "$(api GET "/v1/jobs/$job" | json 'j["tier"]')" = 3 ] || die "job $job is not a tier-3 job"
expect_as 0 root jobs --system hr-portal
grep -Eq "^$job +hr-portal +3 " "$SCRATCH/stdout" || die "yunbak jobs does not show copy job $job: $(cat "$SCRATCH/stdout")"
audit_has offsite.approve hr-portal ok games "request $req, snapshot $snap, copy job $job; reason: 年度审计.*; decision: 同意"
[ "$(wait_job "$job")" = succeeded ] || die "copy job $job: $(cat "$D/body")"
[ -d "$D/offsite/hr-portal/snapshots/$snap" ] || die "snapshot $snap was not copied off-site"
# The off-site copy is a twin to repair from: a flipped byte in the tier-1 volume.
vol="$D/store/hr-portal/snapshots/$snap/vol-000001"
python3 -c 'import sys; f = open(sys.argv[1], "r+b"); b = f.read(1); f.seek(0); f.write(bytes([b[0] ^ 1]))' "$vol"
expect_exit 5 yunbak verify --store "$D/store" --system hr-portal --snapshot "$snap"
expect_as 0 root repair --system hr-portal --snapshot "$snap" --from offsite --to local
grep -Eq '^vol-000001 +replaced by its twin' "$SCRATCH/stdout" || die "repair from off-site: $(cat "$SCRATCH/stdout")"
expect_exit 0 yunbak verify --store "$D/store" --system hr-portal --snapshot "$snap"
expect_as 0 daemon offsite show "$req"
grep -q "approved, copy job $job done" "$SCRATCH/stdout" || die "the request's copy state: $(cat "$SCRATCH/stdout")"
# Decided once only.
expect_as 8 games offsite refuse "$req"
grep -q "was approved already, by games" "$SCRATCH/stderr" || die "second decision: $(cat "$SCRATCH/stderr")"

# Refused, with its reason; the pending count follows.
expect_as 0 games offsite refuse "$own" --reason "not needed"
[ "$(api GET "/v1/offsite/requests/$own" | json 'j["state"], j["decision_reason"], j["job"]')" = "refused not needed None" ] ||
        die "refusal not recorded: $(cat "$D/body")"
audit_has offsite.refuse hr-portal ok games "request $own, snapshot newest; reason: operator's own; decision: not needed"
[ "$(pending hr-portal)" = 0 ] || die "status still counts decided requests"

# approval: automatic: queued at once, by yunbakd.
expect_as 0 bin offsite request --system hotline --reason "每周异地"
auto=$(api GET '/v1/offsite/requests?system=hotline' | json 'j["requests"][0]["id"]')
[ "$(api GET "/v1/offsite/requests/$auto" | json 'j["state"], j["decided_by"]')" = "approved yunbakd" ] ||
        die "automatic approval: $(cat "$D/body")"
ajob=$(api GET "/v1/offsite/requests/$auto" | json 'j["job"]')
[ "$(api GET "/v1/jobs/$ajob" | json 'j["tier"], j["system"]')" = "3 hotline" ] || die "no tier-3 job $ajob"
audit_has offsite.approve hotline ok yunbakd "request $auto, snapshot newest, copy job $ajob"
[ "$(wait_job "$ajob")" = succeeded ] || die "copy job $ajob: $(cat "$D/body")"
[ -d "$D/offsite/hotline/snapshots" ] || die "the automatic copy left nothing off-site"

# The snapshot a request asks for is not pruned by the copy that made it, although tier3 keeps
# only the newest (keep_last: 1) and a newer copy is there already.
old=$(ls "$D/offsite/hotline/snapshots")
job=$(api POST "/v1/systems/hotline/backup" '{"level":"full"}' | json 'j["job"]')
[ "$(wait_job "$job")" = succeeded ] || die "the second backup of hotline failed: $(cat "$D/body")"
expect_as 0 bin offsite request --system hotline --reason "the newest"
ajob=$(api GET '/v1/offsite/requests?system=hotline' | json 'max(j["requests"], key=lambda r: r["id"])["job"]')
[ "$(wait_job "$ajob")" = succeeded ] || die "copy job $ajob: $(cat "$D/body")"
new=$(api GET "/v1/jobs/$job" | json 'j["snapshot"]') # not the sorted ids: same-second ids sort at random
[ "$(ls "$D/offsite/hotline/snapshots")" = "$new" ] ||
        die "keep_last: 1 should leave $new alone off-site: $(ls "$D/offsite/hotline/snapshots")"
expect_as 0 bin offsite request --system hotline --snapshot "$old" --reason "the older one"
ajob=$(api GET '/v1/offsite/requests?system=hotline' | json 'max(j["requests"], key=lambda r: r["id"])["job"]')
[ "$(wait_job "$ajob")" = succeeded ] || die "copy job $ajob: $(cat "$D/body")"
[ -d "$D/offsite/hotline/snapshots/$old" ] ||
        die "the copy asked for ($old) was pruned off-site by the job that made it"
[ -d "$D/offsite/hotline/snapshots/$new" ] || die "the newest copy ($new) was pruned off-site"

# The pending count survives a restart (read from the catalog).
expect_as 0 daemon offsite request --system hr-portal --reason "after restart"
stop_yunbakd
start_yunbakd
[ "$(pending hr-portal)" = 1 ] || die "the pending count was lost over a restart"
api GET /v1/audit/verify | json 'j["ok"]' | grep -qx True || die "the audit chain does not verify"
stop_yunbakd
echo "ok"
