#!/bin/sh
# Drill results crafted to make the signed record say more than happened, and yunbakd's judgement at
# its edges (docs/drills.md, "yunbakd's part"; hand-written results through the API; the attacks of
# drill-attacks.sh are not repeated here). A passed result must carry the report of the policy's
# drill.check, that very command, exited 0; a record never names a check the policy does not have.
# RPO is judged on the point's exact age: a point half a second older than the RPO misses it, one
# exactly at it meets it. A snapshot's time is at most the end, on yunbakd's clock, of the job that
# made it (the header's is the agent's clock). A point (a tier-2 one is the run's word) dated after
# yunbakd received the result is refused, and so is a quarantined snapshot (another agent's). A
# drill is judged against what its begin gave (its objectives, its check), not against a policy
# reloaded while it ran (one that drops the drill's tier included), and its requested point is the
# one its begin asked for, not the run's word. Of four results sent at once, one is kept. A failed
# drill after a pass leaves the count from the pass. Every refusal names the drill and the system.
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/decommission-flow-lib.sh"
trap 'kill -TERM "${YUNBAKD_PID:-}" 2>/dev/null || true; cleanup' EXIT
daemon_system hr-portal 人社局
daemon_system nocheck 人社局
sed -i '/^  check: /d' "$D/policies/nocheck.yaml"
daemon_system replica 人社局 "Sun *-*-* 02:00 UTC" "Mon..Sat *-*-* 02:00 UTC" "tier2:
  store: local
  max_lag: 1min
  checkpoint: \"Sun *-*-* 03:00 UTC\""
chmod -R a+rX "$D"

usec() { echo $(($(date -u -d "$1" +%s) * 1000000)); }
expect() {
        [ "$(cat "$D/status")" = "$1" ] || die "${2:-the call}: expected $1, got $(cat "$D/status"): $(tail -c 600 "$SCRATCH/answer")"
}
# refused STATUS REGEX WHAT: the last call was refused with STATUS, and its sentence names the
# drill ($ID) and the system ($SYS) and matches REGEX.
refused() {
        expect "$1" "$3"
        grep -q "drill $ID of system '$SYS'" "$SCRATCH/answer" || die "$3: the refusal does not name drill $ID of $SYS: $(cat "$SCRATCH/answer")"
        grep -Eq -- "$2" "$SCRATCH/answer" || die "$3: the refusal does not match /$2/: $(cat "$SCRATCH/answer")"
}
# begin SYSTEM [TIER]: a drill begun by daemon; its id in $ID, its system in $SYS.
begin() {
        SYS=$1
        api_as daemon POST /v1/drills '{"system":"'"$1"'","tier":'"${2:-1}"'}' >"$SCRATCH/answer.json"
        ID=$(json 'j["id"]' <"$SCRATCH/answer.json")
        expect 201 "the begin of a drill of $1"
}
# result POINT CHECK: daemon's passed result of drill $ID, phases of 100 ms.
result() {
        api_as daemon POST "/v1/drills/$ID/result" '{"host":"h","point":'"$1"',"phases":[{"name":"point","ms":25,"ok":true},{"name":"restore","ms":25,"ok":true},{"name":"verify","ms":25,"ok":true},{"name":"check","ms":25,"ok":true}],"result":"passed","check":'"$2"'}' >/dev/null
        head -c -4 "$SCRATCH/answer" >"$D/record.json"
}
CHECK='{"command":"test -s data/name.txt","exit_code":0,"output":"","output_truncated":false}'

# The clock, held at T0 (tomorrow at midnight); hr-portal's two snapshots, written in the catalog
# at known times: OLD half a second older than hr-portal's RPO (1d) at T0, EDGE exactly 1d old.
T0="$(date -u -d tomorrow +%Y-%m-%d)T00:00:00Z"
T0U=$(usec "$T0")
YUNBAKD_TEST_CLOCK=$T0 YUNBAKD_TEST_HOLD=1 start_yunbakd
stop_yunbakd
for s in "hr-portal OLD $((T0U - 86400500000))" "hr-portal EDGE $((T0U - 86400000000))" "nocheck N $((T0U - 60000000))"; do
        set -- $s
        sql "INSERT INTO snapshots (system, store, id, level, started_usec, finished_usec, files,
             bytes_source, bytes_stored, partial) VALUES ('$1', 'local', '$2', 'full', $3 - 1000, $3,
             1, 1, 1, 0)"
done
# Q: a fresh snapshot set aside as another agent's (quarantined).
sql "INSERT INTO snapshots (system, store, id, level, started_usec, finished_usec, files,
     bytes_source, bytes_stored, partial, quarantine) VALUES ('hr-portal', 'local', 'Q', 'full',
     $((T0U - 2000000)), $((T0U - 1000000)), 1, 1, 1, 0, 'signed by agent key AAAA, not the pinned BBBB')"
# AHEAD: a snapshot whose header (the agent's clock, set ahead) says 1 s before T0, made by a job
# that ended 2 h before T0 on yunbakd's clock. FUTURE: one dated an hour after T0, no job's.
sql "INSERT INTO snapshots (system, store, id, level, started_usec, finished_usec, files,
     bytes_source, bytes_stored, partial) VALUES ('hr-portal', 'local', 'AHEAD', 'full',
     $((T0U - 2000000)), $((T0U - 1000000)), 1, 1, 1, 0), ('hr-portal', 'local', 'FUTURE', 'full',
     $((T0U + 3599000000)), $((T0U + 3600000000)), 1, 1, 1, 0)"
sql "INSERT INTO jobs (system, tier, level, trigger, state, scheduled_usec, started_usec,
     finished_usec, snapshot) VALUES ('hr-portal', 1, 'full', 'schedule', 'succeeded',
     $((T0U - 7300000000)), $((T0U - 7300000000)), $((T0U - 7200000000)), 'AHEAD')"
YUNBAKD_TEST_CLOCK=$T0 YUNBAKD_TEST_HOLD=1 start_yunbakd
EDGE='{"id":"EDGE","level":"full","time_usec":1,"partial":false}'

# A passed result without the check's report, with another command, or with a check that did
# not exit 0: the record would say the policy's check passed.
begin hr-portal
result "$EDGE" null
refused 400 "without the report of the check" "a passed result without its check"
result "$EDGE" '{"command":"true","exit_code":0,"output":"","output_truncated":false}'
refused 400 "'true' is not the drill.check the drill was begun with" "a passed result of another check command"
result "$EDGE" '{"command":"test -s data/name.txt","exit_code":1,"output":"","output_truncated":false}'
refused 400 "exited non-zero" "a passed result whose check exited 1"
result "$EDGE" '{"command":"test -s data/name.txt","exit_code":null,"output":"","output_truncated":false}'
refused 400 "without an exit code" "a passed result whose check has no exit code"
audit_has drill.result refused daemon "is not the drill.check the drill was begun with"
# A failed result whose failed phase its own phases say passed: the record would contradict itself.
api_as daemon POST "/v1/drills/$ID/result" '{"host":"h","point":null,"phases":[{"name":"point","ms":25,"ok":true},{"name":"restore","ms":25,"ok":true},{"name":"verify","ms":25,"ok":true}],"result":"failed","failed_phase":"verify","error":"e"}' >/dev/null
refused 400 "failed_phase is verify, but its phases say verify passed" "a failed result naming a phase it lists as passed"
# A quarantined snapshot (1 s old): its age would be the record's RPO.
result '{"id":"Q","level":"full","time_usec":1,"partial":false}' "$CHECK"
refused 409 "quarantined snapshot \(signed by agent key AAAA" "a result restoring a quarantined snapshot"
[ "$(sql "SELECT state FROM drills WHERE id = $ID")" = running ] || die "a refused result ended drill $ID"

# RPO exactly at its target: met. The run says it asked for a point (requested_at_usec); the
# begin did not: the record says none was asked for.
result '{"id":"EDGE","level":"full","time_usec":1,"requested_at_usec":1000000,"partial":false}' "$CHECK"
expect 200 "the result restoring EDGE"
json 'j["achieved"]["rpo_seconds"], j["met"]["rpo"], j["point"]["requested_at"]' <"$D/record.json" |
        grep -qx "86400 True None" || die "a point exactly 1d old: $(cat "$D/record.json")"

# Half a second over: rpo_seconds is 86400 (rounded down), but the RPO of 1d is not met.
begin hr-portal
result '{"id":"OLD","level":"full","time_usec":1,"partial":false}' "$CHECK"
expect 200 "the result restoring OLD"
json 'j["achieved"]["rpo_seconds"], j["met"]["rpo"], j["point"]["requested_at"]' <"$D/record.json" |
        grep -qx "86400 False None" ||
        die "a point 1d and 0.5 s old meets an RPO of 1d: $(cat "$D/record.json")"
[ "$(api GET "/v1/drills?system=hr-portal" | json 'j["drills"][0]["rpo_met"]')" = False ] ||
        die "the list says the RPO was met: $(cat "$D/body")"

# A drill of an outage at a time in the past (--at): its RPO is what an outage then would have
# lost, the time asked for less the point's, not the point's age today. The begin asked for the
# point 10 s after OLD's time; the run's word for it (1 s) is not taken.
api_as daemon POST /v1/drills '{"system":"hr-portal","at_usec":'"$((T0U - 86390500000))"'}' >"$SCRATCH/answer.json"
expect 201 "a begin asking for the point 10 s after OLD's time"
ID=$(json 'j["id"]' <"$SCRATCH/answer.json")
result '{"id":"OLD","level":"full","time_usec":1,"requested_at_usec":1000000,"partial":false}' "$CHECK"
expect 200 "the result restoring OLD for a time 10 s after it"
json 'j["achieved"]["rpo_seconds"], j["met"]["rpo"], j["point"]["requested_at"]' <"$D/record.json" |
        grep -qx "10 True $(date -u -d "@$((T0U / 1000000 - 86391))" +%Y-%m-%dT%H:%M:%SZ)" ||
        die "the RPO of a drill at a past time is not measured from that time, or the point asked for is not the begin's: $(cat "$D/record.json")"
# A point after the time asked for is not the point the drill was to restore.
api_as daemon POST /v1/drills '{"system":"hr-portal","at_usec":'"$((T0U - 86460500000))"'}' >"$SCRATCH/answer.json"
expect 201 "a begin asking for the point a minute before OLD's time"
ID=$(json 'j["id"]' <"$SCRATCH/answer.json")
result '{"id":"OLD","level":"full","time_usec":1,"partial":false}' "$CHECK"
refused 409 "is after the time the drill asked for" "a result restoring a point after the time asked for"

# A snapshot's time is at most the end of the job that made it, on yunbakd's clock: AHEAD is 2 h
# old, not 1 s. One dated after the result is refused.
begin hr-portal
result '{"id":"FUTURE","level":"full","time_usec":1,"partial":false}' "$CHECK"
refused 409 "from the future" "a result restoring a snapshot dated an hour ahead"
result '{"id":"AHEAD","level":"full","time_usec":1,"partial":false}' "$CHECK"
expect 200 "the result restoring AHEAD"
json 'j["point"]["time_usec"], j["achieved"]["rpo_seconds"]' <"$D/record.json" |
        grep -qx "$((T0U - 7200000000)) 7200" || die "AHEAD's time is the agent's clock: $(cat "$D/record.json")"

# A policy without drill.check: a record naming a check is refused; none is taken.
begin nocheck
result '{"id":"N","level":"full","time_usec":1,"partial":false}' "$CHECK"
refused 400 "has no drill.check" "a check report for a policy without drill.check"
result '{"id":"N","level":"full","time_usec":1,"partial":false}' null
expect 200 "nocheck's result without a check"
json 'j["check"], j["result"]' <"$D/record.json" | grep -qx "None passed" || die "nocheck's record: $(cat "$D/record.json")"

# Tier 2: a point dated after yunbakd received the result is refused; one 10 s before the begin
# is taken as the run says it (time_from "drill") and gives an RPO of 10 s.
begin replica 2
result '{"id":"seg-future","level":"segment","time_usec":'"$((T0U + 3600000000))"',"partial":false}' "$CHECK"
refused 409 "from the future" "a tier-2 point an hour after the result"
OBJECT=replica audit_has drill.result refused daemon "from the future"
result '{"id":"seg-past","level":"segment","time_usec":'"$((T0U - 10000000))"',"partial":false}' "$CHECK"
expect 200 "a tier-2 point 10 s old"
json 'j["point"]["time_from"], j["achieved"]["rpo_seconds"], j["met"]["rpo"]' <"$D/record.json" |
        grep -qx "drill 10 True" || die "the tier-2 record: $(cat "$D/record.json")"
# Tier 2 taken out of the policy while a drill of it runs: its result is still taken, as tier 2
# of the store it was begun with.
begin replica 2
python3 - "$D/policies/replica.yaml" <<'PY'
import re, sys
p = sys.argv[1]
s = open(p).read()
open(p, "w").write(re.sub(r"(?m)^tier2:\n(  .*\n)+", "", s))
PY
! grep -q '^tier2:' "$D/policies/replica.yaml" || die "tier 2 is still in replica's policy"
[ "$(api POST /v1/reload | json 'j["ok"]')" = True ] || die "the reload without tier 2: $(cat "$D/body")"
result '{"id":"seg-past","level":"segment","time_usec":'"$((T0U - 10000000))"',"partial":false}' "$CHECK"
expect 200 "the result of a tier-2 drill begun before tier 2 left the policy"
json 'j["tier"], j["store"]["name"], j["result"]' <"$D/record.json" | grep -qx "2 local passed" ||
        die "the tier-2 drill after tier 2 left the policy: $(cat "$D/record.json")"
# Four results of one drill at once: exactly one is taken, the others are told it was reported;
# the record kept is the one answered.
begin hr-portal
pids=
mkdir -m 777 "$SCRATCH/race" # the callers write their answers there
for n in 1 2 3 4; do
        setpriv --reuid="$(id -u daemon)" --regid="$(id -g daemon)" --clear-groups \
                curl -s --unix-socket "$SOCK" -X POST -H 'Content-Type: application/json' \
                -o "$SCRATCH/race/$n.body" -w '%{http_code}\n' \
                --data '{"host":"h'$n'","point":'"$EDGE"',"phases":[{"name":"point","ms":1,"ok":true},{"name":"restore","ms":1,"ok":true},{"name":"verify","ms":1,"ok":true},{"name":"check","ms":1,"ok":true}],"result":"passed","check":'"$CHECK"'}' \
                "http://yunbakd/v1/drills/$ID/result" >"$SCRATCH/race$n.status" &
        pids="$pids $!"
done
for p in $pids; do wait "$p" || die "result call $p failed"; done
[ "$(cat "$SCRATCH"/race?.status | sort | tr '\n' ' ')" = "200 409 409 409 " ] ||
        die "four results at once: $(cat "$SCRATCH"/race?.status)"
for n in 1 2 3 4; do
        if [ "$(cat "$SCRATCH/race$n.status")" = 200 ]; then
                api GET "/v1/drills/$ID" >/dev/null
                cmp -s "$D/body" "$SCRATCH/race/$n.body" || die "the record kept is not the one answered to result $n"
                json 'j["host"]' <"$D/body" | grep -qx "h$n" || die "the record kept is not result $n's"
        else
                grep -q "already reported" "$SCRATCH/race/$n.body" || die "result $n: $(cat "$SCRATCH/race/$n.body")"
        fi
done

# A failed drill after the passes: status says it, and still counts from the last pass.
begin hr-portal
api_as daemon POST "/v1/drills/$ID/result" '{"host":"h","point":'"$EDGE"',"phases":[{"name":"point","ms":1,"ok":true},{"name":"restore","ms":1,"ok":true},{"name":"verify","ms":1,"ok":false}],"result":"failed","failed_phase":"verify","error":"data/numbers.txt: another hash","check":null}' >/dev/null
expect 200 "a failed result"
api GET /v1/status | json "[s['drill'] for s in j['systems'] if s['id'] == 'hr-portal'][0]" >"$D/sd"
python3 - "$D/sd" "$T0U" <<'PY' || die "status after a failed drill: $(cat "$D/sd")"
import ast, sys
d = ast.literal_eval(open(sys.argv[1]).read())
t0 = int(sys.argv[2])
assert d["last_result"] == "failed" and d["last_passed_usec"] == t0, d
assert d["due_usec"] == t0 + d["every_seconds"] * 10**6 and d["overdue"] is False, d
PY

# The policy changes while a drill runs (another check, an RPO of 1h, reloaded): the drill is
# judged against what its begin gave: its check's report is taken, EDGE (1d old) meets its RPO
# of 1d. A drill begun after the reload has the new terms.
begin hr-portal
sed -i -e 's/^  check: .*/  check: test -s data\/numbers.txt/' -e 's/^  rpo: 1d$/  rpo: 1h/' "$D/policies/hr-portal.yaml"
[ "$(api POST /v1/reload | json 'j["ok"]')" = True ] || die "the reload: $(cat "$D/body")"
result "$EDGE" "$CHECK"
expect 200 "the result of a drill begun before the reload"
json 'j["objectives"]["rpo_seconds"], j["met"]["rpo"], j["check"]["command"]' <"$D/record.json" |
        grep -qx "86400 True test -s data/name.txt" || die "the drill begun before the reload: $(cat "$D/record.json")"
begin hr-portal
json 'j["check"], j["objectives"]["rpo_seconds"]' <"$SCRATCH/answer.json" | grep -qx "test -s data/numbers.txt 3600" ||
        die "the begin after the reload: $(cat "$SCRATCH/answer.json")"
result "$EDGE" "$CHECK"
refused 400 "is not the drill.check the drill was begun with" "the old check for a drill begun after the reload"
stop_yunbakd
echo ok
