#!/bin/sh
# Tier 3 in yunbakd (issue 10): off-site copies to a second store, here a local directory.
# Under the test clock (time jumps to the next event whenever no job runs): a scheduled copy
# takes the newest snapshot with its chain, and the off-site repository verifies without the key
# and restores byte for byte from that store alone; a second copy of the same snapshot sends
# nothing; tier3's retention keeps the newest copy; a store's window that is closed holds a copy
# back to its opening. On the real clock: a store's bandwidth limit holds (a lower bound on the
# time from the job's own start and end), a copy cut by SIGKILL of yunbakd is resumed at the next
# start and sends little more than the snapshot, status and metrics say how tier 3 stands (tier 2
# has tests of its own, daemon-replicate*.sh),
# a copy cancelled by a person is not resumed at start (the next copy goes on from where it
# stopped), one cut by yunbakd's stop is, and a store gone makes copies fail (naming it) and,
# a period late, behind (status, metrics, the exit of yunbak status).
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/daemon-lib.sh"

daemon_config
mkdir -p "$D/offsite" "$D/intracity"
# The off-site store beside the tier-1 one.
sed -i "s|^    url: $D/store\$|&\n  offsite:\n    url: $D/offsite\n  intracity:\n    url: $D/intracity|" \
        "$D/yunbakd.yaml"
daemon_system sys1 人社局 "*-*-* 02:00 UTC" "*-*-* 02:00 UTC" "tier3:
  store: offsite
  schedule: \"*-*-* 04,05:00 UTC\"
  retention:
    keep_last: 1"
# Random bytes do not compress: the copies move what the store holds.
head -c 1048576 /dev/urandom >"$D/trees/sys1/data/random.bin"
yunbak policy check "$D/policies/sys1.yaml" >/dev/null

run_clock() { # FROM UNTIL
        YUNBAKD_TEST_CLOCK=$1 YUNBAKD_TEST_UNTIL=$2 yunbakd --config "$D/yunbakd.yaml" \
                --foreground >>"$D/yunbakd.log" 2>&1 || {
                tail -30 "$D/yunbakd.log" >&2
                die "yunbakd on the test clock failed"
        }
}
usec() { python3 -c "import datetime as d,sys; print(int(d.datetime.fromisoformat(sys.argv[1].replace('Z','+00:00')).timestamp()*1000000))" "$1"; }
copies() { # the tier-3 jobs: scheduled time, state, bytes sent
        sql "SELECT scheduled_usec, state, bytes_stored, snapshot FROM jobs WHERE tier = 3 ORDER BY id"
}

# Two days: a full at 02:00 each day, copies at 04:00 and 05:00.
run_clock 2026-03-02T00:00:00Z 2026-03-03T12:00:00Z
copies >"$D/copies"
[ "$(wc -l <"$D/copies")" = 4 ] || { cat "$D/copies" >&2; die "want 4 copy jobs in two days"; }
s1=$(sql "SELECT snapshot FROM jobs WHERE tier = 1 ORDER BY id LIMIT 1")
s2=$(sql "SELECT snapshot FROM jobs WHERE tier = 1 ORDER BY id LIMIT 1 OFFSET 1")
[ -n "$s1" ] && [ -n "$s2" ] || die "the tier-1 jobs made no snapshots"
python3 - "$D/copies" "$s1" "$s2" "$(usec 2026-03-02T04:00:00Z)" <<'PY' || die "the copy jobs: $(cat "$D/copies")"
import sys
rows = [l.strip().split("|") for l in open(sys.argv[1])]
s1, s2, t0 = sys.argv[2], sys.argv[3], int(sys.argv[4])
h = 3600 * 1000000
want = [(t0, s1), (t0 + h, s1), (t0 + 24 * h, s2), (t0 + 25 * h, s2)]
for (t, state, sent, snap), (wt, ws) in zip(rows, want):
    assert int(t) == wt and state == "succeeded" and snap == ws, (t, state, snap, wt, ws)
# The 04:00 copies send the snapshot; the 05:00 ones find it there and send nothing.
assert int(rows[0][2]) > 1000000 and int(rows[2][2]) > 1000000, rows
assert int(rows[1][2]) == 0 and int(rows[3][2]) == 0, rows
PY
# Retention off-site (keep_last: 1) kept the newest copy only; the catalog says the same.
[ "$(ls "$D/offsite/sys1/snapshots")" = "$s2" ] || die "off-site holds $(ls "$D/offsite/sys1/snapshots"), want $s2 alone"
[ "$(sql "SELECT group_concat(id) FROM snapshots WHERE store = 'offsite'")" = "$s2" ] ||
        die "the catalog's off-site snapshots: $(sql "SELECT id FROM snapshots WHERE store = 'offsite'")"
[ "$(sql "SELECT count(*) FROM audit WHERE action = 'copy.done'")" = 4 ] || die "want 4 copy.done audit records"
# The off-site repository stands alone: verified without the key, restored exactly.
yunbak verify --store "$D/offsite" --system sys1 >"$D/verify.out" 2>&1 || {
        cat "$D/verify.out" >&2
        die "the off-site repository does not verify"
}
yunbak restore --store "$D/offsite" --system sys1 --key "$D/keys/sys1.key" \
        --passphrase-file "$SCRATCH/pass" --target "$SCRATCH/out" >/dev/null
[ "$(tree_digest "$D/trees/sys1/data")" = "$(tree_digest "$SCRATCH/out/data")" ] ||
        die "the tree restored from off-site differs"

# A window: the 04:00 copy of the third day waits, not started, for 06:30.
sed -i "s|^    url: $D/offsite\$|&\n    windows: [\"06:30-07:00 UTC\"]|" "$D/yunbakd.yaml"
run_clock 2026-03-03T12:00:00Z 2026-03-04T08:00:00Z
s3=$(sql "SELECT snapshot FROM jobs WHERE tier = 1 ORDER BY id DESC LIMIT 1")
row=$(sql "SELECT started_usec, state, snapshot FROM jobs WHERE tier = 3 AND
        scheduled_usec >= $(usec 2026-03-04T00:00:00Z) ORDER BY id LIMIT 1")
[ "$row" = "$(usec 2026-03-04T06:30:00Z)|succeeded|$s3" ] ||
        die "the copy due outside the window: $row (want started at 06:30, succeeded, $s3)"
grep -q "the off-site copy due now is skipped" "$D/yunbakd.log" ||
        die "the 05:00 copy, due while the 04:00 one waits, was not said to be skipped"

# The real clock: a bandwidth limit, and SIGKILL mid-copy. Metrics on a free port.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -i "s/^socket: yunbakd.sock/&\nmetrics_listen: 127.0.0.1:$PORT/" "$D/yunbakd.yaml"
sed -i "/^    windows: /d; s|^    url: $D/offsite\$|&\n    bandwidth: 256KiB/s|" "$D/yunbakd.yaml"
# Copies every 2 s; no tier-1 run on the real clock but the one asked for below (a calendar in
# the future has nothing to catch up).
sed -i 's|^  schedule: .*|  schedule: "*:*:0/2"|; s|^  full: .*|  full: "2099-01-01 02:00 UTC"|;
        s|^  incremental: .*|  incremental: "2099-01-01 02:00 UTC"|' "$D/policies/sys1.yaml"
head -c 3145728 /dev/urandom >"$D/trees/sys1/data/random2.bin"
export YUNBAK_SOCKET="$SOCK"
trap 'kill -TERM "${YUNBAKD_PID:-}" 2>/dev/null || true; cleanup' EXIT
start_yunbakd
yunbak backup now --system sys1 --wait >/dev/null
s4=$(sql "SELECT snapshot FROM jobs WHERE tier = 1 ORDER BY id DESC LIMIT 1")
# Bounded: the scheduled copy starts within 2 s and sends at 256 KiB/s.
i=0
while :; do
        sent=$(api GET /v1/status | json '(j["systems"][0]["tier3"].get("progress") or {}).get("bytes_sent", 0)')
        [ "$sent" -lt 262144 ] || break
        i=$((i + 1))
        [ $i -lt 600 ] || die "no copy of $s4 has sent 256 KiB within 60 s"
        sleep 0.1
done
kill -KILL "$YUNBAKD_PID"
wait "$YUNBAKD_PID" 2>/dev/null || true
before=$(find "$D/offsite/sys1/tmp" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
ls "$D/offsite/sys1/snapshots" >"$D/offsite-before"
[ "$before" -gt 0 ] || die "nothing of the cut copy is at the destination"
[ ! -e "$D/offsite/sys1/snapshots/$s4" ] || die "snapshot $s4 is listed off-site before its copy ended"
start_yunbakd
job=$(sql "SELECT id FROM jobs WHERE tier = 3 AND trigger = 'resume' ORDER BY id DESC LIMIT 1")
[ -n "$job" ] || die "yunbakd did not queue a copy that resumes the cut one"
[ "$(wait_job "$job")" = succeeded ] || die "the resumed copy: $(api GET "/v1/jobs/$job")"
# What the copy had to move: $s4 and any of its chain that was not off-site before.
size=$(ls "$D/offsite/sys1/snapshots" | grep -vxF -f "$D/offsite-before" |
        sed "s|^|$D/offsite/sys1/snapshots/|" | xargs -I{} find {} -type f -printf '%s\n' |
        awk '{s += $1} END {print s + 0}')
sql "SELECT bytes_stored, started_usec, finished_usec FROM jobs WHERE id = $job" | tr '|' ' ' >"$D/resumed"
read -r after started finished <"$D/resumed"
python3 - "$before" "$after" "$size" "$started" "$finished" <<'PY' || die "bytes sent before the cut $before, after $after, snapshot $size; job $started..$finished"
import sys
before, after, size, started, finished = map(int, sys.argv[1:])
# Resumed: what was there is not sent again.
assert before + after <= 1.1 * size, "sent again what was there"
# 256 KiB/s, less the bucket's one-second burst: a lower bound only.
rate = 256 * 1024
assert after > 2 * rate, "too little left to time"
assert (finished - started) / 1e6 >= (after - rate) / rate, "faster than the limit"
PY
yunbak verify --store "$D/offsite" --system sys1 >/dev/null || die "off-site does not verify after the resumed copy"
[ "$(sql "SELECT count(*) FROM snapshots WHERE store = 'offsite' AND id = '$s4'")" = 1 ] ||
        die "the catalog does not record $s4 off-site"

# Status and metrics: no tier 2 in the policy, tier 3's state and newest copy.
api GET /v1/status >"$D/status.json"
python3 - "$D/status.json" "$s4" <<'PY' || die "status: $(cat "$D/status.json")"
import json, sys
s = json.load(open(sys.argv[1]))["systems"][0]
assert s["tier2"] is None, s["tier2"]
t = s["tier3"]
assert t["store"] == "offsite" and t["state"] in ("idle", "queued", "running"), t
assert t["newest_snapshot"] == sys.argv[2] and t["newest_age_usec"] >= 0, t
assert t["last_copy"]["state"] == "succeeded" and t["next_usec"] is not None, t
assert t["behind"] is False, t
assert t["bandwidth"] == "256KiB/s" and t["windows"] == [], t
PY
curl -sf "http://127.0.0.1:$PORT/metrics" >"$D/metrics" || die "no /metrics"
! command -v promtool >/dev/null || promtool check metrics <"$D/metrics" || die "promtool check metrics"
! grep -qF 'yunbak_tier_running{system="sys1",tier="2"}' "$D/metrics" || die "metrics show a tier 2 the policy lacks"
for m in 'yunbak_tier_running{system="sys1",tier="1"} 1' \
        'yunbak_tier_running{system="sys1",tier="3"} 1' 'yunbak_offsite_behind{system="sys1"} 0'; do
        grep -qF "$m" "$D/metrics" || { cat "$D/metrics" >&2; die "metrics lack: $m"; }
done
grep -Eq '^yunbak_offsite_age_seconds\{system="sys1"\} [0-9.]+$' "$D/metrics" || die "metrics lack the off-site age"
grep -Eq "^yunbak_offsite_bytes_copied_total\{system=\"sys1\"\} [1-9][0-9]*$" "$D/metrics" ||
        die "metrics lack the bytes copied since the restart"
yunbak status >"$D/status.out" || true
grep -q "offsite (256KiB/s)" "$D/status.out" || { cat "$D/status.out" >&2; die "yunbak status does not give the store's bandwidth"; }
grep -q "$s4" "$D/status.out" || { cat "$D/status.out" >&2; die "yunbak status does not name the newest off-site copy"; }

# copying SNAPSHOT: until a copy job of it runs and has sent something (bounded); its id.
copying() {
        i=0
        while :; do
                job=$(sql "SELECT id FROM jobs WHERE tier = 3 AND state = 'running' AND snapshot = '$1'")
                if [ -n "$job" ]; then
                        sent=$(api GET "/v1/jobs/$job" | json '(j.get("progress") or {}).get("bytes_sent", 0)')
                        [ "$sent" -eq 0 ] || break
                fi
                i=$((i + 1))
                [ $i -lt 600 ] || die "no copy of $1 has sent anything within 60 s"
                sleep 0.1
        done
        echo "$job"
}
# new_snapshot: a tier-1 backup with 2 MiB more; its id.
new_snapshot() {
        head -c 2097152 /dev/urandom >"$D/trees/sys1/data/random-$1.bin"
        yunbak backup now --system sys1 --wait >/dev/null
        sql "SELECT snapshot FROM jobs WHERE tier = 1 ORDER BY id DESC LIMIT 1"
}

# A copy cancelled mid-way ends cancelled and is not resumed at the next start; a later copy of
# the same snapshot goes on from where it stopped.
s5=$(new_snapshot 5)
job=$(copying "$s5")
yunbak jobs cancel "$job" >/dev/null
[ "$(wait_job "$job")" = cancelled ] || die "the cancelled copy: $(api GET "/v1/jobs/$job")"
api GET "/v1/jobs/$job" | json 'j["error"]' | grep -q "^cancelled during the copy of snapshot $s5 to store 'offsite'" ||
        die "the cancelled copy's error: $(api GET "/v1/jobs/$job")"
stop_yunbakd
start_yunbakd
# Copies run every 2 s: one may have started after the cancel and been cut by the stop; that one,
# and only that one, is resumed. The cancelled job's copy never is.
cut=$(sql "SELECT count(*) FROM jobs WHERE tier = 3 AND id > $job AND state = 'cancelled' AND error LIKE 'yunbakd stopped%'")
resumed=$(sql "SELECT count(*) FROM jobs WHERE tier = 3 AND trigger = 'resume' AND id > $job")
[ "$resumed" -eq "$cut" ] ||
        die "a copy cancelled by a person was resumed at start ($resumed resumed, $cut cut by the stop)"
i=0
until [ -n "$(sql "SELECT id FROM jobs WHERE tier = 3 AND state = 'succeeded' AND snapshot = '$s5'")" ]; do
        i=$((i + 1))
        [ $i -lt 600 ] || die "no copy of $s5 succeeded within 60 s"
        sleep 0.1
done
size=$(find "$D/offsite/sys1/snapshots/$s5" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
sent=$(sql "SELECT sum(bytes_stored) FROM jobs WHERE tier = 3 AND snapshot = '$s5' AND state = 'succeeded'")
[ "$sent" -lt "$size" ] || die "the copy after the cancel sent $sent bytes of $size: it did not resume"

# SIGTERM mid-copy: the job ends cancelled ("yunbakd stopped"), and the next start resumes it.
s6=$(new_snapshot 6)
job=$(copying "$s6")
stop_yunbakd
api_err=$(sql "SELECT state, error FROM jobs WHERE id = $job")
case $api_err in "cancelled|yunbakd stopped during the copy of snapshot $s6"*) ;; *) die "the copy cut by SIGTERM: $api_err" ;; esac
start_yunbakd
job=$(sql "SELECT id FROM jobs WHERE tier = 3 AND trigger = 'resume' AND snapshot = '$s6'")
[ -n "$job" ] || die "yunbakd did not resume the copy that its stop cut"
[ "$(wait_job "$job")" = succeeded ] || die "the copy resumed after SIGTERM: $(api GET "/v1/jobs/$job")"
yunbak verify --store "$D/offsite" --system sys1 >/dev/null || die "off-site does not verify at the end"

# The off-site store gone: copies fail, naming it, and once a scheduled copy is more than a
# period (2 s) late the system is behind: in status, metrics, and yunbak status's exit.
mv "$D/offsite" "$D/offsite.away"
i=0
until api GET /v1/status | json 'j["systems"][0]["tier3"]' >"$D/t3" &&
        python3 -c "import ast,sys; t = ast.literal_eval(open(sys.argv[1]).read()); sys.exit(not (t['behind'] and t['state'] == 'failing'))" "$D/t3"; do
        i=$((i + 1))
        [ $i -lt 300 ] || die "not behind and failing 30 s after the store went: $(cat "$D/t3")"
        sleep 0.1
done
grep -q "cannot open store 'offsite'" "$D/t3" || die "the failing copy does not name the store: $(cat "$D/t3")"
curl -sf "http://127.0.0.1:$PORT/metrics" | grep -qF 'yunbak_offsite_behind{system="sys1"} 1' ||
        die "metrics do not say the copies are behind"
expect_exit 3 yunbak status
grep -q "failing, BEHIND" "$SCRATCH/stdout" || { cat "$SCRATCH/stdout" >&2; die "yunbak status does not say the copies are behind"; }
mv "$D/offsite.away" "$D/offsite"
i=0
until [ "$(api GET /v1/status | json 'j["systems"][0]["tier3"]["behind"]')" = False ]; do
        i=$((i + 1))
        [ $i -lt 300 ] || die "still behind 30 s after the store came back"
        sleep 0.1
done
stop_yunbakd
echo "daemon-offsite: ok"
