#!/bin/sh
# An approved request for the off-site copy of one snapshot, not the newest, whose job cannot
# begin before its store's window closes (the first attempt finds the store gone, and the retry
# comes after the window): the job ends paused before it began, the job that resumes it at the
# next window copies the snapshot asked for, not the newest, and the request follows that job
# (job, copy_state "done"). On the real clock, with windows of whole minutes as in
# daemon-offsite-window: the test waits (bounded) for the start of a minute, opens a window for
# that minute and another two minutes later; the retry comes a minute after the first attempt.
. "$TESTS/integration/lib.sh"
RETRIES=1
. "$TESTS/integration/daemon-lib.sh"

daemon_config
mkdir -p "$D/offsite"
daemon_system sys1 人社局 "2099-01-01 02:00 UTC" "2099-01-01 02:00 UTC" "tier3:
  store: offsite
  on_request: true
  approval: automatic"
export YUNBAK_SOCKET="$SOCK"
trap 'kill -TERM "${YUNBAKD_PID:-}" 2>/dev/null || true; cleanup' EXIT

minute_windows
sed -i "s|^    url: $D/store\$|&\n  offsite:\n    url: $D/offsite\n    windows: [\"$w1\", \"$w2\"]|" \
        "$D/yunbakd.yaml"
start_yunbakd
# Two full snapshots: the request asks for the older one.
yunbak backup now --system sys1 --level full --wait >/dev/null
asked=$(sql "SELECT snapshot FROM jobs WHERE tier = 1 ORDER BY id LIMIT 1")
yunbak backup now --system sys1 --level full --wait >/dev/null
newest=$(sql "SELECT snapshot FROM jobs WHERE tier = 1 ORDER BY id DESC LIMIT 1")
[ -n "$asked" ] && [ -n "$newest" ] && [ "$asked" != "$newest" ] || die "want two snapshots: '$asked' '$newest'"
mv "$D/offsite" "$D/offsite.away"
[ "$(date -u +%s)" -lt "$((reopen - 75))" ] || die "the backups took the first window: the test cannot tell anything"
api POST /v1/offsite/requests "{\"system\": \"sys1\", \"snapshot\": \"$asked\", \"reason\": \"审计\"}" >"$D/req.json"
[ "$(api_status)" = 201 ] || die "the request: $(api_status) $(cat "$D/req.json")"
req=$(json 'j["id"]' <"$D/req.json")
first=$(json 'j["job"]' <"$D/req.json")
[ "$first" != None ] || die "the request was not approved with a copy job: $(cat "$D/req.json")"

# The retry, a minute later, finds the window closed: paused before it began.
i=0
until [ "$(sql "SELECT state FROM jobs WHERE id = $first")" = paused ]; do
        i=$((i + 1))
        [ $i -lt 1500 ] || die "copy job $first was not paused within 150 s: $(sql "SELECT state, attempt, error FROM jobs WHERE id = $first")"
        sleep 0.1
done
sql "SELECT error FROM jobs WHERE id = $first" | grep -q "not started" ||
        die "job $first was not paused before it began: $(sql "SELECT error FROM jobs WHERE id = $first")"
mv "$D/offsite.away" "$D/offsite"
job=$(sql "SELECT id FROM jobs WHERE tier = 3 AND trigger = 'resume'")
[ -n "$job" ] || die "no copy waits for the next window"
[ "$(sql "SELECT snapshot FROM jobs WHERE id = $job")" = "$asked" ] ||
        die "the job resuming the request's copy is of snapshot '$(sql "SELECT snapshot FROM jobs WHERE id = $job")', not $asked"
[ "$(wait_job "$job")" = succeeded ] || die "the resumed copy: $(api GET "/v1/jobs/$job")"
[ "$(sql "SELECT started_usec FROM jobs WHERE id = $job")" -ge "$((reopen * 1000000))" ] ||
        die "the resumed copy started before its window"
[ "$(ls "$D/offsite/sys1/snapshots")" = "$asked" ] ||
        die "off-site holds $(ls "$D/offsite/sys1/snapshots"), want $asked (the snapshot asked for) alone"
api GET "/v1/offsite/requests/$req" >"$D/req.json"
python3 - "$D/req.json" "$job" <<'PY' || die "the request after its copy: $(cat "$D/req.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["state"] == "approved" and r["job"] == int(sys.argv[2]) and r["copy_state"] == "done", r
PY
yunbak verify --store "$D/offsite" --system sys1 >/dev/null || die "off-site does not verify"
stop_yunbakd
echo "daemon-offsite-request-window: ok"
