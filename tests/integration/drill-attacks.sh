#!/bin/sh
# Drills attacked (docs/drills.md, docs/api.md "Drills"), by callers of other uids: a department
# may not begin a drill of another department's system, nor report the result of a drill
# someone else began; a result is taken once; yunbakd refuses, with a sentence naming the field
# and an audit record "denied", a result whose point is not in the store's catalog, that claims
# a pass with a failed phase, whose phases are out of order, unknown, negative, huge or longer
# than what yunbakd itself saw, whose check output is 10 MiB, whose texts hold control
# characters or unpaired surrogates, or that is not a JSON object; a drill refused keeps
# running until a good result comes. A record (its JSON and its page) with one byte changed
# fails `yunbak drill verify`. A drill of a decommissioned system is refused. Then the run
# attacked (`yunbak drill`): a check that never ends is stopped at drill.timeout and leaves no
# process; a check that deletes the sandbox (or replaces it), even one that exits 0, does not
# make the drill pass; a sandbox that exists
# and is not empty, or is a symbolic link, is refused; SIGINT during the restore leaves no
# sandbox and a failed record.
. "$TESTS/integration/lib.sh"
is_root || { echo "drill-attacks: needs root (callers are other uids): skipped" >&2; exit 77; }
command -v setpriv >/dev/null || { echo "drill-attacks: needs setpriv: skipped" >&2; exit 77; }
for u in daemon sync bin sys games; do
        id "$u" >/dev/null 2>&1 || { echo "drill-attacks: needs a user $u: skipped" >&2; exit 77; }
done
chmod 755 "$SCRATCH"
. "$TESTS/integration/drill-lib.sh"
. "$TESTS/integration/callers-lib.sh"
trap 'kill -TERM "${YUNBAKD_PID:-}" 2>/dev/null || true; cleanup' EXIT

drill_config "  - user: daemon
    role: department
    department: $DEPT
  - user: sync
    role: department
    department: $DEPT
  - user: bin
    role: department
    department: 政数局
  - user: sys
    role: auditor
  - user: games
    role: operator"
drill_system "$SYSTEM" "$DEPT"
NAME=自助终端 drill_system kiosk 政数局
start_yunbakd
snap=$(backup "$SYSTEM")
ksnap=$(backup kiosk)
[ -n "$snap" ] && [ -n "$ksnap" ] || die "the backups made no snapshots"

# --- Who may begin and report ---------------------------------------------------------------

# Another department's system does not exist for them (404, docs/api.md "Who is calling"), and
# the refusal does not say whose it is; an auditor changes nothing (403); both audited.
begin_as bin '{"system":"'"$SYSTEM"'","tier":1,"host":"h"}' >/dev/null
expect_status 404 "bin of 政数局 beginning a drill of $SYSTEM"
! grep -q "$DEPT" "$D/body" || die "the refusal tells another department whose system it is: $(cat "$D/body")"
audit_has drill.begin denied bin .
begin_as sys '{"system":"'"$SYSTEM"'","tier":1,"host":"h"}' >/dev/null
expect_status 403 "an auditor beginning a drill"
audit_has drill.begin denied sys .
begin_as daemon '{"system":"'"$SYSTEM"'","tier":3,"host":"h"}' >/dev/null
expect_status 409 "a drill of tier 3 of a policy without one"
grep -q 'tier 3' "$D/body" || die "the refusal of tier 3 does not say why: $(cat "$D/body")"
for bad in '"tier":0' '"tier":"1"' '"tier":1.5' '"at_usec":-1' '"scenario":"a\u001bb"' '"host":"a\ud800b"'; do
        begin_as daemon '{"system":"'"$SYSTEM"'",'"$bad"'}' >/dev/null
        expect_status 400 "a begin with $bad"
        json 'j["error"]' <"$D/body" | grep -Eq 'tier|at_usec|scenario|host|JSON|Unicode|surrogate' ||
                die "the refusal of $bad does not name the field: $(cat "$D/body")"
done
[ "$(catalog "SELECT count(*) FROM drills")" = 0 ] || die "a refused begin was recorded"

BEGIN=$(begin_as daemon '{"system":"'"$SYSTEM"'","tier":1,"scenario":"全面停电","host":"dept-laptop-3"}')
expect_status 201 "daemon's drill of its own system"
id=$(printf '%s' "$BEGIN" | json 'j["id"]')
[ "$(record "$id" 'j["state"]')" = running ] || die "drill $id is not running: $(cat "$D/body")"

# Someone else reports it: sync of the same department (403, naming who began it), bin of
# another (404), an operator (403).
GOOD=$(good_result "$BEGIN" "$snap")
for who in sync:403 bin:404 games:403; do
        result_as "${who%:*}" "$id" "$GOOD" >/dev/null
        expect_status "${who#*:}" "${who%:*} reporting daemon's drill $id"
        [ "${who%:*}" = bin ] || json 'j["error"]' <"$D/body" | grep -q 'begun by daemon' ||
                die "the refusal does not say who began drill $id: $(cat "$D/body")"
        audit_has drill.result denied "${who%:*}" .
done

# --- Results that lie, or are not results ---------------------------------------------------

# bad_result STATUS REGEX PY_EDIT: daemon's result altered by PY_EDIT is refused with STATUS and
# a sentence matching REGEX, audited as refused; the drill is still running.
bad_result() {
        result_as daemon "$id" "$(good_result "$BEGIN" "$snap" "$3")" >/dev/null
        expect_status "$1" "a result altered by: $3"
        json 'j["error"]' <"$D/body" >"$SCRATCH/message" || die "no error sentence: $(cat "$D/body")"
        grep -Eq -- "$2" "$SCRATCH/message" || die "the refusal ($3) says '$(cat "$SCRATCH/message")', not /$2/"
        audit_has drill.result 'refused|denied' daemon "$2"
        [ "$(record "$id" 'j["state"]')" = running ] || die "a refused result ($3) ended drill $id"
}
bad_result 409 '20200101T000000Z-000000' 'r["point"]["id"] = "20200101T000000Z-000000"'
# Another system's snapshot in the same store is not a point of this one.
bad_result 409 "$ksnap" 'r["point"]["id"] = "'"$ksnap"'"'
bad_result 400 'verify' 'r["phases"][2]["ok"] = False'
bad_result 400 'order|restore' 'r["phases"][1], r["phases"][2] = r["phases"][2], r["phases"][1]'
bad_result 400 'phases\[3\]: name' 'r["phases"][3]["name"] = "warp"'
bad_result 400 'check' 'r["phases"].append(dict(r["phases"][3]))'
bad_result 400 'ms' 'r["phases"][1]["ms"] = -1'
bad_result 400 'ms' 'r["phases"][1]["ms"] = 2**62'
bad_result 400 'ms|too big integer' 'r["phases"][1]["ms"] = 2**64'
bad_result 400 'ms' 'r["phases"][1]["ms"] = 1e300'
bad_result 400 'ms' 'r["phases"][1]["ms"] = "40"'
bad_result 400 'files' 'r["phases"][1]["files"] = -3'
# More than yunbakd saw between the begin and this result (a day: the test runs for minutes).
bad_result 409 'yunbakd saw' 'r["phases"][1]["ms"] = 86400000'
bad_result 400 'result' 'r["result"] = "ok"'
bad_result 400 'failed_phase' 'r["result"] = "failed"; r["failed_phase"] = None; r["error"] = "x"'
bad_result 400 'failed_phase' 'r["result"] = "failed"; r["failed_phase"] = "warp"; r["error"] = "x"'
bad_result 400 'host' 'r["host"] = "dept\u0007laptop"'
bad_result 400 'location' 'r["location"] = "/srv/\u001b[2J"'
bad_result 400 'error' 'r["result"] = "failed"; r["failed_phase"] = "check"; r["phases"][3]["ok"] = False; r["error"] = "x" * 5000'
# An unpaired surrogate (json.dumps writes it as \ud800; bytes that are not UTF-8 too).
result_as daemon "$id" "$(good_result "$BEGIN" "$snap" 'r["host"] = "a\ud800b"')" >/dev/null
expect_status 400 "a host with an unpaired surrogate"
audit_has drill.result 'refused|denied' daemon .
good_result "$BEGIN" "$snap" 'r["host"] = "HOST"' | sed "s/HOST/a$(printf '\377')b/" >"$SCRATCH/latin.json"
result_as daemon "$id" "@$SCRATCH/latin.json" >/dev/null
expect_status 400 "a host that is not UTF-8"
for body in '[1,2]' '"passed"' 'null' '{' '{"result":"passed"}' ''; do
        result_as daemon "$id" "$body" >/dev/null
        expect_status 400 "the result '$body'"
        json 'j["error"]' <"$D/body" | grep -q . || die "no sentence for the result '$body': $(cat "$D/body")"
done
audit_has drill.result 'refused|denied' daemon .
# 10 MiB of check output: refused whole (bodies are at most 1 MiB), never stored.
good_result "$BEGIN" "$snap" 'r["check"]["output"] = "x" * (10 << 20)' >"$SCRATCH/huge.json"
result_as daemon "$id" "@$SCRATCH/huge.json" >/dev/null
expect_status 413 "a result with 10 MiB of check output"
json 'j["error"]' <"$D/body" | grep -Eq 'larger than|MiB' || die "the refusal of 10 MiB: $(head -c 300 "$D/body")"
[ "$(record "$id" 'j["state"]')" = running ] || die "the 10 MiB result ended drill $id"

# The true result is taken, once; the record keeps what yunbakd knows, not the run's word.
result_as daemon "$id" "$(good_result "$BEGIN" "$snap" 'r["point"]["time_usec"] = 1')" >"$SCRATCH/rec.json"
expect_status 200 "daemon's true result"
python3 - "$SCRATCH/rec.json" "$(catalog "SELECT finished_usec FROM snapshots WHERE id = '$snap' AND store = 'local'")" <<'PY' || die "the record: $(cat "$SCRATCH/rec.json")"
import json, sys
r = json.load(open(sys.argv[1]))
t = int(sys.argv[2])
assert r["type"] == "yunbak-drill" and r["result"] == "passed", r
assert r["point"]["time_usec"] == t and r["point"]["time_from"] == "catalog", r["point"]
assert r["achieved"]["rto_ms"] == 68, r["achieved"]
assert r["achieved"]["rpo_seconds"] == (r["started_usec"] - t) // 1000000, r
assert r["observed_ms"] >= 0 and r["run_by"] == "daemon" and r["scenario"] == "全面停电", r
assert r["met"] == {"rto": True, "rpo": True}, r["met"]
assert r["history"] == [], r["history"]
PY
api GET "/v1/drills/$id" >/dev/null
cmp -s "$SCRATCH/rec.json" "$D/body" || die "GET /v1/drills/$id is not the record as issued"
audit_has drill.result ok daemon .
result_as daemon "$id" "$GOOD" >/dev/null
expect_status 409 "a second result of drill $id"
json 'j["error"]' <"$D/body" | grep -q "already reported" || die "the second result's refusal: $(cat "$D/body")"
audit_has drill.result 'refused|denied' daemon 'already reported'
[ "$(record "$id" 'j["result"]')" = passed ] || die "the second result changed drill $id"

# A failed drill whose words hold escapes: taken (a program's words are kept, docs/api.md), the
# escapes made U+FFFD, so that no terminal or page gets them; its history has drill $id.
B2=$(begin_as daemon '{"system":"'"$SYSTEM"'","tier":1,"host":"dept-laptop-3"}')
expect_status 201 "a second drill"
id2=$(printf '%s' "$B2" | json 'j["id"]')
result_as daemon "$id2" "$(good_result "$B2" "$snap" 'r["result"] = "failed"; r["failed_phase"] = "check"
r["phases"][3]["ok"] = False; r["error"] = "the check exited 1: \u001b[2J\u0007gone"
r["check"]["exit_code"] = 1; r["check"]["output"] = "line 1\n\u001b]0;pwned\u0007line 2\n"')" >"$SCRATCH/rec2.json"
expect_status 200 "a failed result with escapes in its words"
! grep -q "$(printf '\033')" "$SCRATCH/rec2.json" || die "the record holds an escape byte"
python3 - "$SCRATCH/rec2.json" "$id" <<'PY' || die "the failed drill's record: $(cat "$SCRATCH/rec2.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["result"] == "failed" and r["failed_phase"] == "check", r
assert "\x1b" not in r["error"] and "\x07" not in r["error"] and "\ufffd" in r["error"], r["error"]
assert r["check"]["output"] == "line 1\n\ufffd]0;pwned\ufffdline 2\n", r["check"]["output"]
assert r["achieved"]["rto_ms"] is None and r["met"]["rto"] is None, r
assert [h["id"] for h in r["history"]] == [int(sys.argv[2])], r["history"]
assert r["history"][0]["result"] == "passed" and r["history"][0]["rto_ms"] == 68, r["history"]
PY
audit_has drill.result failed daemon .

# Who reads: the department and the auditor see them, another department does not.
call_as bin GET "/v1/drills/$id" >/dev/null
expect_status 404 "bin reading drill $id of another department"
[ "$(call_as bin GET /v1/drills | json 'len(j["drills"])')" = 0 ] || die "bin's list shows $SYSTEM's drills: $(cat "$D/body")"
[ "$(call_as sys GET /v1/drills | json '[d["id"] for d in j["drills"]]')" = "[$id2, $id]" ] ||
        die "the auditor's list: $(cat "$D/body")"

# --- The record changed by one byte fails verify ----------------------------------------------
PUB="$D/state/yunbakd.pub"
[ -f "$PUB" ] || die "yunbakd wrote no public key at $PUB"
expect_exit 0 yunbak drill verify "$SCRATCH/rec.json" --public-key "$PUB"
sed 's/"rpo_seconds": \([0-9]\)/"rpo_seconds": 9\1/' "$SCRATCH/rec.json" >"$SCRATCH/changed.json"
! cmp -s "$SCRATCH/rec.json" "$SCRATCH/changed.json" || die "the record was not changed"
expect_exit 1 yunbak drill verify "$SCRATCH/changed.json" --public-key "$PUB"
grep -q 'changed' "$SCRATCH/stdout" "$SCRATCH/stderr" || die "verify does not say the record was changed"
expect_exit 0 yunbak drill show "$id" --html "$SCRATCH/rec.html" --socket "$SOCK"
expect_exit 0 yunbak drill verify "$SCRATCH/rec.html" --public-key "$PUB"
for from in 全面停电 'dept-laptop-3'; do
        python3 - "$SCRATCH/rec.html" "$SCRATCH/changed.html" "$from" <<'PY'
import sys
s = open(sys.argv[1], encoding="utf-8").read()
f = sys.argv[3]
i = s.rindex(f)  # the last one: the visible text or the embedded record, whichever is later
open(sys.argv[2], "w", encoding="utf-8").write(s[:i] + f[:-1] + chr(ord(f[-1]) + 1) + s[i + len(f):])
PY
        expect_exit 1 yunbak drill verify "$SCRATCH/changed.html" --public-key "$PUB"
        grep -q 'changed' "$SCRATCH/stdout" "$SCRATCH/stderr" || die "verify does not say the page was changed"
done

# --- A decommissioned system is not drilled -------------------------------------------------
n=$(call_as bin POST /v1/decommissions '{"system":"kiosk","reason":"停用"}' | json 'j["id"]')
expect_status 201 "bin's request to decommission kiosk"
api POST "/v1/decommissions/$n/approve" '{"note":"checked"}' >/dev/null
expect_status 200 "approving decommission $n"
call_as bin POST "/v1/decommissions/$n/waive-export" '{"reason":"无需移交"}' >/dev/null
expect_status 200 "waiving the export of decommission $n"
api POST "/v1/decommissions/$n/execute" >/dev/null
expect_status 202 "executing decommission $n"
i=0
while [ "$(api GET "/v1/decommissions/$n" | json 'j["running"]')" = True ]; do
        i=$((i + 1))
        [ "$i" -lt 1200 ] || die "decommission $n still runs after 120 s"
        sleep 0.1
done
begin_as bin '{"system":"kiosk","tier":1,"host":"h"}' >/dev/null
expect_status 409 "a drill of the decommissioned kiosk"
json 'j["error"]' <"$D/body" | grep -Eq 'decommission' || die "the refusal does not say kiosk is decommissioned: $(cat "$D/body")"
audit_has drill.begin 'refused|denied' bin decommission kiosk
begin_as root '{"system":"kiosk","tier":1,"host":"h"}' >/dev/null
expect_status 409 "an operator's drill of the decommissioned kiosk"

# --- The run attacked -------------------------------------------------------------------------
# set_check COMMAND [TIMEOUT]: hr-portal's drill.check (and drill.timeout), reloaded.
set_check() {
        python3 - "$D/policies/$SYSTEM.yaml" "$1" "${2:-}" <<'PY'
import re, sys
p, check, timeout = sys.argv[1:]
s = open(p, encoding="utf-8").read()
s = re.sub(r"(?ms)^drill:\n.*", "", s)
s += "drill:\n  every: 1y\n  check: '" + check.replace("'", "''") + "'\n"
if timeout:
    s += "  timeout: " + timeout + "\n"
open(p, "w", encoding="utf-8").write(s)
PY
        yunbak policy check "$D/policies/$SYSTEM.yaml" >/dev/null || die "the policy with check '$1' does not check"
        [ "$(api POST /v1/reload | json 'j["ok"]')" = True ] || die "the reload with check '$1': $(cat "$D/body")"
}
# last_drill EXPR: EXPR over the newest drill of hr-portal's record.
last_drill() { record "$(api GET "/v1/drills?system=$SYSTEM" | json 'j["drills"][0]["id"]')" "$1"; }

# A check that never ends (nor its child) is stopped at drill.timeout (3 s): the drill fails at
# check, within the timeout and a bound, and no process of it is left.
set_check "echo \$\$ >>$SCRATCH/check.pids; sleep 1000 & echo \$! >>$SCRATCH/check.pids; wait" 3s
t0=$(date +%s)
drill_failed --sandbox "$SCRATCH/sb-timeout"
t1=$(date +%s)
[ $((t1 - t0)) -ge 3 ] || die "the drill with a never-ending check ended in $((t1 - t0)) s, before its timeout"
[ $((t1 - t0)) -lt 60 ] || die "the drill with a never-ending check took $((t1 - t0)) s for a timeout of 3 s"
[ "$(last_drill 'j["result"], j["failed_phase"]')" = "failed check" ] ||
        die "the never-ending check's record: $(cat "$D/body")"
last_drill 'j["error"]' | grep -q 'outlived its timeout of 3 s' || die "the timeout's error: $(cat "$D/body")"
ms=$(last_drill '[p["ms"] for p in j["phases"] if p["name"] == "check"][0]')
[ "$ms" -ge 3000 ] && [ "$ms" -lt 20000 ] || die "the check phase of a 3 s timeout lasted $ms ms"
wait_for "the check's processes outlived the drill" "[ -s $SCRATCH/check.pids ]"
for p in $(cat "$SCRATCH/check.pids"); do
        wait_for "process $p of the check still runs after the drill" "! kill -0 $p 2>/dev/null"
done
[ ! -e "$SCRATCH/sb-timeout" ] || die "the failed drill left its sandbox"

# A check that deletes the sandbox: the drill fails at check (the file it looks for is gone),
# is recorded, and yunbak does not crash cleaning up.
set_check 'rm -rf "$YUNBAK_DRILL_SANDBOX"; test -s "$YUNBAK_DRILL_SANDBOX"/data/name.txt'
drill_failed --sandbox "$SCRATCH/sb-deleted"
[ "$(last_drill 'j["result"], j["failed_phase"]')" = "failed check" ] ||
        die "the drill whose check deleted the sandbox: $(cat "$D/body")"

# A check that deletes the sandbox and exits 0 proves nothing: the drill fails at check, saying
# the command removed the sandbox; so does one that puts another directory in its place.
set_check 'rm -rf "$YUNBAK_DRILL_SANDBOX"'
drill_failed --sandbox "$SCRATCH/sb-deleted0"
[ "$(last_drill 'j["result"], j["failed_phase"]')" = "failed check" ] ||
        die "the drill whose check deleted the sandbox and exited 0: $(cat "$D/body")"
last_drill 'j["error"]' | grep -q "the check command removed the sandbox '$SCRATCH/sb-deleted0'" ||
        die "the error of a check that deleted the sandbox: $(cat "$D/body")"
! grep -q "Cannot remove" "$SCRATCH/stderr" || die "a sandbox the check removed is said to be left: $(cat "$SCRATCH/stderr")"
[ "$(last_drill 'j["check"]["exit_code"]')" = 0 ] || die "the deleting check's exit code: $(cat "$D/body")"
set_check 'rm -rf "$YUNBAK_DRILL_SANDBOX" && mkdir -p "$YUNBAK_DRILL_SANDBOX/data" && echo x >"$YUNBAK_DRILL_SANDBOX/data/name.txt"'
drill_failed --sandbox "$SCRATCH/sb-replaced"
[ "$(last_drill 'j["result"], j["failed_phase"]')" = "failed check" ] ||
        die "the drill whose check replaced the sandbox: $(cat "$D/body")"
last_drill 'j["error"]' | grep -q "removed the sandbox '$SCRATCH/sb-replaced' and put another in its place" ||
        die "the error of a check that replaced the sandbox: $(cat "$D/body")"
[ ! -e "$SCRATCH/sb-replaced" ] || die "the drill left what its check put in the sandbox's place"

# A check that writes 10 MiB: the record keeps its last 4,096 bytes and says it was cut.
set_check 'head -c 10485760 /dev/zero | tr "\000" x; echo 末尾'
run_drill 0 --sandbox "$SCRATCH/sb-loud"
# Its summary says the targets (rpo 1h, rto 2h) as `yunbak drill show` does, and each achieved
# figure once: "1 min 15 s", never "75 s (75 s)".
grep -q "^RTO: .*, target 2 h: met\.$" "$SCRATCH/stdout" || die "the RTO line: $(cat "$SCRATCH/stdout")"
grep -q "^RPO: .*, target 1 h: met\.$" "$SCRATCH/stdout" || die "the RPO line: $(cat "$SCRATCH/stdout")"
last_drill 'j["id"]' >/dev/null
python3 - "$SCRATCH/stdout" "$D/body" <<'PY' || die "the RPO achieved: $(grep ^RPO "$SCRATCH/stdout")"
import json, re, sys
line = [l for l in open(sys.argv[1], encoding="utf-8") if l.startswith("RPO: ")][0]
s = json.load(open(sys.argv[2]))["achieved"]["rpo_seconds"]
said = line[len("RPO: "):line.index(", target")]
want = "%d s" % s if s < 60 else ("%d min %d s" % (s // 60, s % 60) if s % 60 else "%d min" % (s // 60))
assert s >= 3600 or said == want, (said, want)
PY
last_drill 'j["check"]' >/dev/null
python3 - "$D/body" <<'PY' || die "the loud check's record: $(head -c 600 "$D/body")"
import json, sys
c = json.load(open(sys.argv[1]))["check"]
assert c["output_truncated"] is True and c["output"].endswith("末尾\n"), c["output"][-40:]
assert len(c["output"].encode()) <= 4096, len(c["output"].encode())
PY
set_check 'test -s "$YUNBAK_DRILL_SANDBOX"/data/name.txt'

# A sandbox that exists and holds something, or is a symbolic link, is refused; what is there
# is left alone.
mkdir -p "$SCRATCH/full" "$SCRATCH/target"
echo keep >"$SCRATCH/full/mine.txt"
echo keep >"$SCRATCH/target/mine.txt"
ln -s "$SCRATCH/target" "$SCRATCH/link"
drill_refused --sandbox "$SCRATCH/full"
grep -q "$SCRATCH/full" "$SCRATCH/stderr" || die "the refusal of a full sandbox does not name it: $(cat "$SCRATCH/stderr")"
drill_refused --sandbox "$SCRATCH/link"
grep -q "$SCRATCH/link" "$SCRATCH/stderr" || die "the refusal of a linked sandbox does not name it: $(cat "$SCRATCH/stderr")"
for dir in full target; do
        [ "$(ls -A "$SCRATCH/$dir")" = mine.txt ] && [ "$(cat "$SCRATCH/$dir/mine.txt")" = keep ] ||
                die "the refused sandbox $SCRATCH/$dir was changed: $(ls -lA "$SCRATCH/$dir")"
done
[ "$(readlink "$SCRATCH/link")" = "$SCRATCH/target" ] || die "the refused linked sandbox was changed"

# SIGINT while the restore writes into the sandbox: the sandbox is removed, the drill recorded
# failed ("interrupted"). The tree is made of many files so that the restore is under way when
# its first file appears (the signal is sent then).
for k in $(seq 1 16); do head -c 1048576 /dev/urandom >"$D/trees/$SYSTEM/data/part-$k.bin"; done
backup "$SYSTEM" >/dev/null
before=$(api GET "/v1/drills?system=$SYSTEM" | json 'len(j["drills"])')
yunbak drill --system "$SYSTEM" --key "$D/keys/$SYSTEM.key" --passphrase-file "$SCRATCH/pass" \
        --socket "$SOCK" --sandbox "$SCRATCH/sb-int" >"$SCRATCH/int.out" 2>"$SCRATCH/int.err" &
run=$!
i=0
until [ -n "$(find "$SCRATCH/sb-int" -type f 2>/dev/null | head -n 1)" ]; do
        kill -0 "$run" 2>/dev/null || die "the drill ended before its restore wrote a file: $(cat "$SCRATCH/int.err")"
        i=$((i + 1))
        [ "$i" -lt 6000 ] || die "the restore wrote nothing into the sandbox within 60 s"
        sleep 0.01
done
kill -INT "$run"
rc=0
wait "$run" || rc=$?
[ "$rc" -ne 0 ] || die "the interrupted drill exited 0"
[ ! -e "$SCRATCH/sb-int" ] || die "the interrupted drill left its sandbox: $(ls -A "$SCRATCH/sb-int" | head)"
[ "$(api GET "/v1/drills?system=$SYSTEM" | json 'len(j["drills"])')" = $((before + 1)) ] ||
        die "the interrupted drill is not in the list"
[ "$(last_drill 'j["result"], j["failed_phase"]')" = "failed restore" ] ||
        die "the interrupted drill's record: $(cat "$D/body")"
last_drill 'j["error"]' | grep -q interrupted || die "the interrupted drill's error: $(cat "$D/body")"
grep -q interrupted "$SCRATCH/int.out" "$SCRATCH/int.err" || die "yunbak drill did not say it was interrupted: $(cat "$SCRATCH/int.out" "$SCRATCH/int.err")"
[ "$rc" = 130 ] || die "the interrupted drill exited $rc, not 130"
stop_yunbakd
echo ok
