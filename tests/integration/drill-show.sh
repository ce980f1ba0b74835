#!/bin/sh
# yunbak drill list|show|verify against a real yunbakd, called by people of other uids (the
# results hand-written through the API, as drill-api.sh does; the runs through `yunbak drill`
# are drill-tiers.sh's): the department lists its drills (a passed one with its RTO and RPO and
# "met", a failed one with its phase and "—", a running one), shows one in short, prints its
# JSON byte for byte as yunbakd serves it, writes its page, which `yunbak drill verify` accepts
# with yunbakd's public key; a drill still running has no record (exit 1, said); another
# department sees none of it (exit 1, yunbakd's word).
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/decommission-flow-lib.sh"
daemon_system hr-portal 人社局
chmod -R a+rX "$D"

T0="$(date -u -d tomorrow +%Y-%m-%d)T00:00:00Z"
YUNBAKD_TEST_CLOCK=$T0 YUNBAKD_TEST_HOLD=1 start_yunbakd
job=$(api POST /v1/systems/hr-portal/backup '{"level":"full"}' | json 'j["job"]')
[ "$(wait_job "$job")" = succeeded ] || die "the backup of hr-portal failed: $(cat "$D/body")"
SNAP=$(sql "SELECT id FROM snapshots WHERE system = 'hr-portal'")
expect() {
        [ "$(cat "$D/status")" = "$1" ] || die "$2: expected $1, got $(cat "$D/status"): $(tail -c 600 "$SCRATCH/answer")"
}
POINT="{\"id\":\"$SNAP\",\"level\":\"full\",\"time_usec\":1,\"requested_at_usec\":null,\"partial\":false}"
CHECK='{"command":"test -s data/name.txt","exit_code":0,"output":"</script> 人事 ok\n","output_truncated":false}'

# Drill 1 passes; drill 2 fails at verify; drill 3 is left running.
api_as daemon POST /v1/drills '{"system":"hr-portal","scenario":"局部故障","host":"dept-laptop-3"}' >/dev/null
expect 201 "the first begin"
api_as daemon POST /v1/drills/1/result '{"host":"dept-laptop-3","location":"'"$D/store"'","point":'"$POINT"',"phases":[{"name":"point","ms":100,"ok":true},{"name":"restore","ms":200,"ok":true,"files":2,"bytes":9000},{"name":"verify","ms":300,"ok":true,"files":2},{"name":"check","ms":50,"ok":true}],"result":"passed","check":'"$CHECK"'}' >/dev/null
expect 200 "the first result"
api_as daemon POST /v1/drills '{"system":"hr-portal","host":"dept-laptop-3"}' >/dev/null
expect 201 "the second begin"
api_as daemon POST /v1/drills/2/result '{"host":"dept-laptop-3","location":"'"$D/store"'","point":'"$POINT"',"phases":[{"name":"point","ms":100,"ok":true},{"name":"restore","ms":200,"ok":true},{"name":"verify","ms":30,"ok":false}],"result":"failed","failed_phase":"verify","error":"data/name.txt differs from the snapshot (hash)","check":null}' >/dev/null
expect 200 "the second result"
api_as daemon POST /v1/drills '{"system":"hr-portal","host":"dept-laptop-3"}' >/dev/null
expect 201 "the third begin"

# The list, newest first, as the department sees it.
expect_as 0 daemon drill list --system hr-portal
python3 - "$SCRATCH/stdout" <<'EOF' || die "drill list: $(cat "$SCRATCH/stdout")"
import re, sys
rows = [l.split() for l in open(sys.argv[1], encoding="utf-8").read().splitlines()]
assert rows[0][:6] == ["ID", "SYSTEM", "TIER", "STARTED", "SCENARIO", "STATE"], rows[0]
ids = [r[0] for r in rows[1:]]
assert ids == ["3", "2", "1"], ids
text = open(sys.argv[1], encoding="utf-8").read()
assert re.search(r"^3 .* running .*—\s+—$", text, re.M), "the running drill"
assert re.search(r"^2 .* failed at verify\s+—\s+—$", text, re.M), "the failed drill"
assert re.search(r"^1 .*局部故障\s+passed\s+650 ms \(met\)\s+\S.* \(met\)$", text, re.M), "the passed drill"
EOF

# show: the summary; --json byte for byte what yunbakd serves; the page, which verifies.
expect_as 0 daemon drill show 1
said stdout "^Drill 1 of hr-portal \\(测试系统 hr-portal\\), 人社局: PASSED\\.$"
said stdout "^RTO achieved: 650 ms against the target 8 h: met\\.$"
api_as daemon GET /v1/drills/1 >/dev/null
expect 200 "reading drill 1"
# The answer's bytes, without the status line api_as added ("\n200").
head -c -4 "$SCRATCH/answer" >"$SCRATCH/served.json"
expect_as 0 daemon drill show 1 --json
cmp -s "$SCRATCH/stdout" "$SCRATCH/served.json" || die "drill show --json differs from what yunbakd serves"
mkdir -m 777 "$SCRATCH/pages"
expect_as 0 daemon drill show 2 --html "$SCRATCH/pages/2.html"
said stdout "^Drill 2 of hr-portal .*: FAILED at phase verify: data/name.txt differs from the snapshot \\(hash\\)\\.$"
said stdout "^RTO not achieved \\(the drill failed\\); the target 8 h: not judged\\.$"
said stdout "^RPO not achieved \\(the drill failed\\); the target"
grep -q 'Failed<span class="why">at phase verify: data/name.txt differs' "$SCRATCH/pages/2.html" ||
        die "the failed drill's page does not name its phase and error"
expect_as 0 daemon drill show 1 --html "$SCRATCH/pages/1.html"
# Sizes in the same words in the summary and the page's table.
said stdout "^Phases: point 100 ms, restore 200 ms \\(2 files, 8\\.8 KiB\\), verify 300 ms \\(2 files\\), check 50 ms\\.$"
grep -q '<td>2</td><td>8.8 KiB</td>' "$SCRATCH/pages/1.html" || die "the page's Bytes column is not 8.8 KiB"
cp "$D/state/yunbakd.pub" "$SCRATCH/yunbakd.pub"
chmod 644 "$SCRATCH/yunbakd.pub"
for f in pages/1.html pages/2.html served.json; do
        expect_exit 0 yunbak drill verify "$SCRATCH/$f" --public-key "$SCRATCH/yunbakd.pub"
        said stdout "^valid: drill [12] of hr-portal"
done
expect_exit 0 yunbak drill verify "$SCRATCH/pages/2.html" --public-key "$SCRATCH/yunbakd.pub"
said stdout "^valid: drill 2 of hr-portal \\(failed at verify\\), started [0-9-]{10} [0-9:]{8} UTC, signed by yunbakd key SHA256:[^ ]+ on [0-9-]{10} [0-9:]{8} UTC$"
sed 's|局部故障|局部故障!|' "$SCRATCH/pages/1.html" >"$SCRATCH/changed.html"
expect_exit 1 yunbak drill verify "$SCRATCH/changed.html" --public-key "$SCRATCH/yunbakd.pub"
expect_stderr "^yunbak: error: invalid: "

# A drill still running has no record; another department sees none of these.
expect_as 1 daemon drill show 3
said stderr "Drill 3 is still running: it has no record until its run reports the result"
expect_as 1 bin drill show 1
said stderr "404|no drill|not found"
expect_as 0 bin drill list --system hr-portal
said stdout "^No drill of hr-portal on record\\.$"
echo "drill-show: ok"
