#!/bin/sh
# yunbakd's side of restore drills, through the API with callers of other uids (hand-written
# results: the runs through `yunbak drill` are drill-tiers.sh's): the department begins a drill
# and reports it; another department does not see the system, an auditor reads and may not
# begin, an operator reads all; the answer carries the store, the objectives and the check; the
# record is signed (checked with Python's cryptography, and the file is byte for byte the
# canonical writing) and fails after a byte changes; a second result, a result from another
# person, a point not in the catalog, phases out of order and more time than yunbakd saw are
# refused, each audited; met is yunbakd's judgement (a result claiming otherwise is ignored),
# RTO and RPO exact against the held test clock. Overdue flips in status, `yunbak status` and
# /metrics as the test clock passes drill.every, and back after a passing drill; a drill left
# running is abandoned; a decommissioned system is never overdue and cannot be drilled.
. "$TESTS/integration/lib.sh"
# The callers (daemon and sync of 人社局, bin of 政数局, sys an auditor, games an operator) and
# their helpers (api_as, audit_has, said) are those of the decommission tests.
. "$TESTS/integration/decommission-flow-lib.sh"
daemon_system hr-portal 人社局
daemon_system hotline 政数局
daemon_system archive 人社局
# pgsys: a PostgreSQL dump hook with a drill check (no server is needed: its results are
# written by hand, and its snapshot is put in the catalog).
daemon_system pgsys 人社局
python3 - "$D/policies/pgsys.yaml" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
s = s.replace("  paths:\n", "  hooks:\n    - name: hr-db\n      type: postgresql\n      database: hr\n  paths:\n", 1)
s = s.replace("drill:\n  every: 1y\n", "drill:\n  every: 1y\n  timeout: 10min\n  postgresql:\n"
              "    - hook: hr-db\n      query: SELECT count(*) FROM employees\n      min: 1000\n", 1)
open(p, "w").write(s)
PY
sed -i 's/^socket: yunbakd.sock/socket: yunbakd.sock\nmetrics_listen: 127.0.0.1:0/' "$D/yunbakd.yaml"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -i "s/^metrics_listen: 127.0.0.1:0/metrics_listen: 127.0.0.1:$PORT/" "$D/yunbakd.yaml"
chmod -R a+rX "$D"

# yunbakd on the test clock, held at $1 (YUNBAKD_TEST_HOLD): its now is exactly that.
start_at() {
        YUNBAKD_TEST_CLOCK=$1 YUNBAKD_TEST_HOLD=1 start_yunbakd
}
usec() { echo $(($(date -u -d "$1" +%s) * 1000000)); }
# expect CODE [WHAT]: the last call's status.
expect() {
        [ "$(cat "$D/status")" = "$1" ] || die "${2:-the call}: expected $1, got $(cat "$D/status"): $(cat "$D/body" "$SCRATCH/answer" 2>/dev/null | tail -c 600)"
}
metric() { curl -sf "http://127.0.0.1:$PORT/metrics" | sed -n "s/^$1{system=\"$2\"} //p"; }
status_drill() { api GET /v1/status | json "[s['drill'] for s in j['systems'] if s['id'] == '$1'][0]$2"; }

# The clock: tomorrow at midnight, after the snapshot made now on the real clock.
T0="$(date -u -d tomorrow +%Y-%m-%d)T00:00:00Z"
T0U=$(usec "$T0")
start_at "$T0"
job=$(api POST /v1/systems/hr-portal/backup '{"level":"full"}' | json 'j["job"]')
[ "$(wait_job "$job")" = succeeded ] || die "the backup of hr-portal failed: $(cat "$D/body")"
SNAP=$(sql "SELECT id FROM snapshots WHERE system = 'hr-portal'")
SNAPU=$(sql "SELECT finished_usec FROM snapshots WHERE system = 'hr-portal'")
[ -n "$SNAP" ] && [ "$SNAPU" -lt "$T0U" ] || die "no snapshot before the test clock: $SNAP $SNAPU"

# Not drilled yet: due drill.every after the policy was first loaded (at T0).
status_drill hr-portal '' >"$D/sd"
python3 - "$D/sd" "$T0U" <<'PY' || die "status before any drill: $(cat "$D/sd")"
import ast, sys
d = ast.literal_eval(open(sys.argv[1]).read())
t0 = int(sys.argv[2])
assert d["last_passed"] is None and d["last_passed_usec"] is None and d["last_result"] is None, d
assert d["overdue"] is False and d["decommissioned"] is False, d
assert d["due_usec"] == t0 + d["every_seconds"] * 10**6, d
PY

# Who may begin: the department, not another department (404: unknown to them), not an auditor.
api_as bin POST /v1/drills '{"system":"hr-portal"}' >/dev/null
expect 404 "another department's begin"
audit_has drill.begin denied bin "no system 'hr-portal'"
api_as sys POST /v1/drills '{"system":"hr-portal"}' >/dev/null
expect 403 "an auditor's begin"
audit_has drill.begin denied sys "may not begin a drill of system 'hr-portal'"
# A tier the policy does not have: 409 naming the tiers it has.
api_as daemon POST /v1/drills '{"system":"hr-portal","tier":2}' >/dev/null
expect 409 "a drill of tier 2"
grep -q "has no tier 2; it has tier 1" "$SCRATCH/answer" || die "the tier refusal: $(cat "$SCRATCH/answer")"
audit_has drill.begin refused daemon "has no tier 2"
long=$(python3 -c 'print("演" * 101)')
api_as daemon POST /v1/drills '{"system":"hr-portal","scenario":"'"$long"'"}' >/dev/null
expect 400 "a scenario of 101 characters"
api_as daemon POST /v1/drills '{"system":"hr-portal","scenario":"a\u0007b"}' >/dev/null
expect 400 "a scenario with a control character"
[ "$(sql "SELECT count(*) FROM drills")" = 0 ] || die "a refused begin was recorded"

api_as daemon POST /v1/drills '{"system":"hr-portal","scenario":"局部故障","host":"dept-laptop-3"}' >"$D/begin.json"
expect 201 "the department's begin"
python3 - "$D/begin.json" "$T0U" "$D/store" <<'PY' || die "the begin's answer: $(cat "$D/begin.json")"
import json, sys
b = json.load(open(sys.argv[1]))
assert b["id"] == 1 and b["started_usec"] == int(sys.argv[2]), b
assert b["started"].endswith("T00:00:00Z"), b
assert b["system"] == {"id": "hr-portal", "name": "测试系统 hr-portal", "department": "人社局",
                       "grade": "general"}, b
assert b["tier"] == 1 and b["store"] == {"name": "local", "location": sys.argv[3]}, b
assert b["objectives"] == {"rto_seconds": 8 * 3600, "rpo_seconds": 86400}, b
assert b["check"] == "test -s data/name.txt" and b["check_timeout_seconds"] == 3600, b
assert b["postgresql"] == [], b
PY
audit_has drill.begin ok daemon "drill 1: tier 1, store local, 局部故障"
[ "$(api GET /v1/drills/1 | json 'j["state"], j["run_by"], j["started_usec"]')" = "running daemon $T0U" ] ||
        die "a running drill: $(cat "$D/body")"

# result BODY-PHASES [POINT] [EXTRA]: a hand-written result of a drill.
result() {
        printf '{"host":"dept-laptop-3","location":"%s","point":%s,"phases":%s,"result":"passed","check":{"command":"test -s data/name.txt","exit_code":0,"output":"","output_truncated":false}%s}' \
                "$D/store" "${2:-{\"id\":\"$SNAP\",\"level\":\"full\",\"time_usec\":1,\"requested_at_usec\":null,\"partial\":false\}}" "$1" "${3:-}"
}
PH='[{"name":"point","ms":100,"ok":true},{"name":"restore","ms":200,"ok":true,"files":2,"bytes":9000},{"name":"verify","ms":300,"ok":true,"files":2},{"name":"check","ms":50,"ok":true}]'

# Another person of the department may not report it; a point not in the catalog, phases out of
# order, and more time than yunbakd saw (the clock stands still: 0 ms) are refused.
api_as sync POST /v1/drills/1/result "$(result "$PH")" >/dev/null
expect 403 "a result from another person"
audit_has drill.result denied sync "begun by daemon: only they report its result, not sync"
api_as bin POST /v1/drills/1/result "$(result "$PH")" >/dev/null
expect 404 "a result from another department"
api_as daemon POST /v1/drills/1/result "$(result "$PH" '{"id":"20200101T000000Z-000000","level":"full","time_usec":1,"partial":false}')" >/dev/null
expect 409 "a point not in the catalog"
grep -q "not a snapshot of system 'hr-portal' in store 'local'" "$SCRATCH/answer" || die "$(cat "$SCRATCH/answer")"
audit_has drill.result refused daemon "20200101T000000Z-000000 is not a snapshot"
api_as daemon POST /v1/drills/1/result "$(result '[{"name":"restore","ms":1,"ok":true},{"name":"point","ms":1,"ok":true}]')" >/dev/null
expect 400 "phases out of order"
# (An hour: the clock stands still, and what yunbakd saw is the real time since the begin.)
api_as daemon POST /v1/drills/1/result "$(result '[{"name":"point","ms":100,"ok":true},{"name":"restore","ms":3600000,"ok":true},{"name":"verify","ms":1,"ok":true},{"name":"check","ms":1,"ok":true}]')" >/dev/null
expect 409 "a result claiming more time than yunbakd saw"
grep -Eq "add up to 3600102 ms, but yunbakd saw only [0-9]+ ms pass" "$SCRATCH/answer" || die "$(cat "$SCRATCH/answer")"
api_as daemon POST /v1/drills/1/result "$(result '[{"name":"point","ms":-1,"ok":true}]')" >/dev/null
expect 400 "a negative phase"
api_as daemon POST /v1/drills/1/result "$(result "$PH" "" ',"result":"passed","failed_phase":"verify","error":"x"')" >/dev/null
expect 400 "passed with a failed phase"
[ "$(sql "SELECT state FROM drills WHERE id = 1")" = running ] || die "a refused result was kept"
api_as daemon POST /v1/drills/99/result "$(result "$PH")" >/dev/null
expect 404 "a result for no drill"
OBJECT=99 audit_has drill.result denied daemon "there is no drill 99"

# The result, claiming met false and another RPO: yunbakd judges.
api_as daemon POST /v1/drills/1/result "$(result "$PH" "" ',"met":{"rto":false,"rpo":false},"achieved":{"rto_ms":1,"rpo_seconds":99999999}')" >/dev/null
expect 200 "the department's result"
# The answer's bytes, without the status line api_as added ("\n200").
head -c -4 "$SCRATCH/answer" >"$D/record.json"
audit_has drill.result ok daemon "drill 1: passed"
python3 - "$D/record.json" "$D/state/yunbakd.pub" "$T0U" "$SNAPU" "$SNAP" <<'PY' || die "the record: $(cat "$D/record.json")"
import base64, json, sys
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
raw = open(sys.argv[1], "rb").read()
doc = json.loads(raw)
t0, snapu, snap = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
# The file is the canonical writing of the document, byte for byte.
assert raw == (json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode(), "not the canonical file"
assert doc["type"] == "yunbak-drill" and doc["version"] == 1 and doc["id"] == 1, doc
assert doc["run_by"] == "daemon" and doc["host"] == "dept-laptop-3" and doc["scenario"] == "局部故障", doc
assert doc["started_usec"] == t0 and doc["reported_usec"] == t0 and doc["observed_ms"] >= 0, doc
# The point's time from the catalog, not the run's 1.
p = doc["point"]
assert p["id"] == snap and p["time_usec"] == snapu and p["time_from"] == "catalog", p
assert [x["name"] for x in doc["phases"]] == ["point", "restore", "verify", "check"], doc["phases"]
assert doc["phases"][1] == {"name": "restore", "ms": 200, "ok": True, "files": 2, "bytes": 9000}, doc["phases"]
assert doc["result"] == "passed" and doc["failed_phase"] is None and doc["error"] is None, doc
assert doc["achieved"] == {"rto_ms": 650, "rpo_seconds": (t0 - snapu) // 10**6}, doc["achieved"]
assert doc["met"] == {"rto": True, "rpo": True}, doc["met"]
assert doc["objectives"] == {"rto_seconds": 28800, "rpo_seconds": 86400}, doc
assert doc["history"] == [] and doc["postgresql"] == [], doc
assert doc["check"]["exit_code"] == 0, doc
sig = doc.pop("signature")
assert sig["alg"] == "ed25519" and sig["key"] == open(sys.argv[2]).read().strip(), sig
pk = Ed25519PublicKey.from_public_bytes(base64.b64decode(sig["key"]))
canon = lambda d: json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
pk.verify(base64.b64decode(sig["value"]), canon(doc))
# One byte changed (RTO 650 -> 651): the signature no longer checks out.
changed = json.loads(raw.replace(b'"rto_ms": 650', b'"rto_ms": 651'))
changed.pop("signature")
assert changed != doc
try:
    pk.verify(base64.b64decode(sig["value"]), canon(changed))
except InvalidSignature:
    pass
else:
    sys.exit("a changed record verifies")
PY
if yunbak drill verify --help >/dev/null 2>&1; then
        yunbak drill verify "$D/record.json" --public-key "$D/state/yunbakd.pub" >/dev/null 2>&1 ||
                die "yunbak drill verify does not verify the record"
        sed 's/"rto_ms": 650/"rto_ms": 651/' "$D/record.json" >"$D/changed.json"
        ! yunbak drill verify "$D/changed.json" --public-key "$D/state/yunbakd.pub" >/dev/null 2>&1 ||
                die "yunbak drill verify accepts a changed record"
fi
# Once only.
api_as daemon POST /v1/drills/1/result "$(result "$PH")" >/dev/null
expect 409 "a second result"
grep -q "was already reported (passed" "$SCRATCH/answer" || die "$(cat "$SCRATCH/answer")"
audit_has drill.result refused daemon "was already reported"

# Reading: the record exactly as issued, to the department and the auditor; another department
# does not see it; the list is per caller.
[ "$(api_as daemon GET /v1/drills/1)" = "$(cat "$D/record.json")" ] || die "the department's read differs"
[ "$(api_as sys GET /v1/drills/1)" = "$(cat "$D/record.json")" ] || die "the auditor's read differs"
api_as bin GET /v1/drills/1 >/dev/null
expect 404 "another department reading the drill"
api_as bin POST /v1/drills '{"system":"hotline","host":"zs-1"}' >/dev/null
expect 201 "bin's begin of hotline"
[ "$(api_as bin GET /v1/drills | json '[(d["id"], d["system"]) for d in j["drills"]]')" = "[(2, 'hotline')]" ] ||
        die "bin's list: $(cat "$SCRATCH/answer")"
[ "$(api_as games GET /v1/drills | json '[(d["id"], d["state"]) for d in j["drills"]]')" = "[(2, 'running'), (1, 'passed')]" ] ||
        die "the operator's list: $(cat "$SCRATCH/answer")"
api_as sys GET '/v1/drills?system=hr-portal' | json 'j["drills"][0]' >"$D/item"
python3 - "$D/item" "$T0U" "$SNAP" <<'PY' || die "the list's item: $(cat "$D/item")"
import ast, sys
d = ast.literal_eval(open(sys.argv[1]).read())
assert d["id"] == 1 and d["system"] == "hr-portal" and d["tier"] == 1 and d["store"] == "local", d
assert d["run_by"] == "daemon" and d["started_usec"] == int(sys.argv[2]) and d["state"] == "passed", d
assert d["point"] == sys.argv[3] and d["rto_ms"] == 650 and d["rto_met"] is True and d["rpo_met"] is True, d
assert d["failed_phase"] is None, d
PY

# Status and metrics: passed at T0 (tier 1), due T0 + drill.every, not overdue.
status_drill hr-portal '' >"$D/sd"
python3 - "$D/sd" "$T0U" <<'PY' || die "status after the drill: $(cat "$D/sd")"
import ast, sys
d = ast.literal_eval(open(sys.argv[1]).read())
t0 = int(sys.argv[2])
assert d["last_passed_usec"] == t0 and d["last_passed_tier"] == 1 and d["last_result"] == "passed", d
assert d["due_usec"] == t0 + d["every_seconds"] * 10**6 and d["overdue"] is False, d
PY
EVERY=$(status_drill hr-portal '["every_seconds"]')
[ "$(metric yunbak_drill_last_success_timestamp_seconds hr-portal)" = $((T0U / 1000000)) ] ||
        die "the metric of the last pass: $(curl -s "http://127.0.0.1:$PORT/metrics" | grep drill)"
[ "$(metric yunbak_drill_overdue hr-portal)" = 0 ] || die "hr-portal overdue at T0"
[ "$(metric yunbak_drill_last_success_timestamp_seconds hotline)" = 0 ] || die "hotline never passed"
stop_yunbakd

# archive is decommissioned (its tiers stopped): never overdue, and nothing to drill.
sql "INSERT INTO decommissions (system, department, state, reason, requested_by, requested_usec,
     updated_usec) VALUES ('archive', '人社局', 'executing', 'test', 'daemon', 1, 1)"
sql "INSERT INTO snapshots (system, store, id, level, started_usec, finished_usec, files,
     bytes_source, bytes_stored, partial) VALUES ('pgsys', 'local', '20260101T000000Z-aaaaaa',
     'full', 1767225600000000, 1767225601000000, 3, 10, 10, 0)"

# A day past drill.every: hr-portal and hotline (never passed, its policy loaded at T0) are
# overdue; hotline's drill left running is abandoned.
T1U=$((T0U + EVERY * 1000000 + 86400000000))
T1=$(date -u -d "@$((T1U / 1000000))" +%Y-%m-%dT%H:%M:%SZ)
start_at "$T1"
[ "$(status_drill hr-portal '["overdue"]')" = True ] || die "hr-portal is not overdue at $T1"
[ "$(status_drill hotline '["overdue"]')" = True ] || die "hotline is not overdue at $T1"
[ "$(status_drill hotline '["last_result"]')" = abandoned ] || die "hotline's drill is not abandoned"
[ "$(api GET /v1/drills/2 | json 'j["state"]')" = abandoned ] || die "drill 2: $(cat "$D/body")"
[ "$(api GET '/v1/drills?system=hotline' | json '[d["state"] for d in j["drills"]]')" = "['abandoned']" ] ||
        die "the list of hotline's drills: $(cat "$D/body")"
[ "$(status_drill archive '["overdue"]')" = False ] || die "the decommissioned system is overdue"
[ "$(status_drill archive '["decommissioned"]')" = True ] || die "archive does not say decommissioned"
[ "$(metric yunbak_drill_overdue hr-portal)" = 1 ] || die "the metric of hr-portal is not overdue"
[ "$(metric yunbak_drill_overdue archive)" = 0 ] || die "the metric of archive is overdue"
rc=0
yunbak status --socket "$SOCK" >"$D/st.out" 2>&1 || rc=$?
[ "$rc" = 3 ] || die "yunbak status exited $rc with a drill overdue: $(cat "$D/st.out")"
d0=$(date -u -d "@$((T0U / 1000000))" +%Y-%m-%d)
d1=$(date -u -d "@$((T0U / 1000000 + EVERY))" +%Y-%m-%d)
grep -q "^hr-portal: drill: last passed $d0 (tier 1), due $d1: OVERDUE$" "$D/st.out" ||
        die "yunbak status on hr-portal: $(cat "$D/st.out")"
grep -q "^hotline: drill: never passed one, due $d1; the last drill abandoned: OVERDUE$" "$D/st.out" ||
        die "yunbak status on hotline: $(cat "$D/st.out")"
grep -q "^archive: drill: decommissioned, none due$" "$D/st.out" || die "yunbak status on archive: $(cat "$D/st.out")"
api_as daemon POST /v1/drills '{"system":"archive"}' >/dev/null
expect 409 "a drill of a decommissioned system"
grep -q "being decommissioned" "$SCRATCH/answer" || die "$(cat "$SCRATCH/answer")"
api_as bin POST /v1/drills/2/result "$(result "$PH")" >/dev/null
expect 409 "the result of an abandoned drill"

# A policy with drill.postgresql: the begin names its checks and timeout; a passed result must
# have run each of them, as the policy says them, and each must have answered at least its min.
api_as daemon POST /v1/drills '{"system":"pgsys"}' >"$D/begin-pg.json"
expect 201 "the begin of pgsys"
json 'j["postgresql"], j["check_timeout_seconds"]' <"$D/begin-pg.json" |
        grep -qxF "[{'name': 'hr-db', 'mode': 'dump', 'database': 'hr', 'query': 'SELECT count(*) FROM employees', 'min': 1000}] 600" ||
        die "the begin of pgsys: $(cat "$D/begin-pg.json")"
PG=$(json 'j["id"]' <"$D/begin-pg.json")
PGPT='{"id":"20260101T000000Z-aaaaaa","level":"full","time_usec":1,"partial":false}'
PGPH='[{"name":"point","ms":1,"ok":true},{"name":"restore","ms":1,"ok":true},{"name":"verify","ms":1,"ok":true},{"name":"postgresql","ms":5,"ok":true},{"name":"check","ms":1,"ok":true}]'
pgq() { printf ',"postgresql":[{"name":"hr-db","mode":"dump","database":"hr","query":"SELECT count(*) FROM employees","min":1000,"value":%s,"ok":%s,"error":null}]' "$1" "$2"; }
api_as daemon POST "/v1/drills/$PG/result" "$(result "$PH" "$PGPT" "$(pgq 1234 true)")" >/dev/null
expect 400 "a passed drill of pgsys without its postgresql phase"
grep -q "without the phase postgresql, which the policy" "$SCRATCH/answer" || die "$(cat "$SCRATCH/answer")"
api_as daemon POST "/v1/drills/$PG/result" "$(result "$PGPH" "$PGPT" "$(pgq 999 true)")" >/dev/null
expect 400 "a passed drill whose query answered under its min"
api_as daemon POST "/v1/drills/$PG/result" "$(result "$PGPH" "$PGPT" "$(pgq 1234 true)")" >/dev/null
expect 200 "the result of pgsys"
head -c -4 "$SCRATCH/answer" | json '[p["name"] for p in j["phases"]], j["postgresql"][0]["value"], j["achieved"]["rto_ms"]' |
        grep -qxF "['point', 'restore', 'verify', 'postgresql', 'check'] 1234 9" ||
        die "the record of pgsys: $(cat "$SCRATCH/answer")"

# A passing drill: no longer overdue, in status and the metrics.
api_as daemon POST /v1/drills '{"system":"hr-portal"}' >"$D/begin3.json"
expect 201 "the second drill's begin"
# Its check wrote control characters and more than 4,096 bytes: kept as words (U+FFFD), the last
# 4,096 bytes, marked truncated; not a reason to refuse the record.
OUT=$(python3 -c 'import json; print(json.dumps("x" * 5000 + "\r\u001b[31mred\u0085end"))')
api_as daemon POST "/v1/drills/$(json 'j["id"]' <"$D/begin3.json")/result" \
        "$(result "$PH" "" ',"check":{"command":"test -s data/name.txt","exit_code":0,"output":'"$OUT"',"output_truncated":false}')" >"$D/record3.json"
expect 200 "the second drill's result"
json 'len(j["check"]["output"].encode()), j["check"]["output"][-13:], j["check"]["output_truncated"]' <"$D/record3.json" |
        grep -qxF "4096 ��[31mred�end True" || die "the check's output: $(json 'j["check"]' <"$D/record3.json")"
json '[h["id"] for h in j["history"]], j["history"][0]["rto_ms"], j["history"][0]["result"]' <"$D/record3.json" | grep -qx "\[1\] 650 passed" ||
        die "the second record's history: $(cat "$D/record3.json")"
[ "$(status_drill hr-portal '["overdue"]')" = False ] || die "hr-portal is still overdue after a pass"
[ "$(metric yunbak_drill_overdue hr-portal)" = 0 ] || die "the metric of hr-portal is still overdue"
[ "$(metric yunbak_drill_last_success_timestamp_seconds hr-portal)" = $((T1U / 1000000)) ] ||
        die "the last pass's metric did not move"
stop_yunbakd
echo "ok"
