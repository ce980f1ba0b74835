#!/bin/sh
# A store's window closing mid-copy (issue 10), on the real clock: the copy job ends paused, not
# failed; a new job waits, not started, for the next window ("paused-until" in status) and
# resumes there where the first stopped, so the two send little more than the snapshot. Windows
# are whole minutes: the test waits (bounded) for the start of a minute, opens a window for that
# minute and another two minutes later, and sends at 48 KiB/s a snapshot that takes longer than
# one minute.
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/daemon-lib.sh"

daemon_config
mkdir -p "$D/offsite"
daemon_system sys1 人社局 "2099-01-01 02:00 UTC" "2099-01-01 02:00 UTC" "tier3:
  store: offsite
  schedule: \"*:*:0/2\""
head -c 3670016 /dev/urandom >"$D/trees/sys1/data/random.bin"
export YUNBAK_SOCKET="$SOCK"
trap 'kill -TERM "${YUNBAKD_PID:-}" 2>/dev/null || true; cleanup' EXIT

minute_windows
sed -i "s|^    url: $D/store\$|&\n  offsite:\n    url: $D/offsite\n    bandwidth: 48KiB/s\n    windows: [\"$w1\", \"$w2\"]|" \
        "$D/yunbakd.yaml"
start_yunbakd
yunbak backup now --system sys1 --level full --wait >/dev/null
snap=$(sql "SELECT snapshot FROM jobs WHERE tier = 1")

# The first copy ends paused when the window closes (within about a minute).
i=0
until [ -n "$(sql "SELECT id FROM jobs WHERE tier = 3 AND state = 'paused'")" ]; do
        i=$((i + 1))
        [ $i -lt 1200 ] || die "no copy was paused within 120 s: $(sql "SELECT id, state, error FROM jobs WHERE tier = 3")"
        sleep 0.1
done
sql "SELECT bytes_stored, error FROM jobs WHERE tier = 3 AND state = 'paused'" | grep -q "window of store 'offsite' closed" ||
        die "the paused copy does not say why: $(sql "SELECT error FROM jobs WHERE tier = 3")"
[ -z "$(sql "SELECT id FROM jobs WHERE tier = 3 AND state = 'failed'")" ] || die "a copy failed: $(sql "SELECT id, error FROM jobs WHERE tier = 3 AND state = 'failed'")"
[ ! -e "$D/offsite/sys1/snapshots/$snap" ] || die "the snapshot is listed off-site before its copy ended"
api GET /v1/status >"$D/status.json"
python3 - "$D/status.json" "$reopen" <<'PY' || die "status while paused: $(cat "$D/status.json")"
import json, sys
t = json.load(open(sys.argv[1]))["systems"][0]["tier3"]
assert t["state"] == "paused-until" and t["paused_until_usec"] == int(sys.argv[2]) * 10**6, t
assert t["last_copy"]["state"] == "paused", t
PY
# The next window resumes it.
job=$(sql "SELECT id FROM jobs WHERE tier = 3 AND trigger = 'resume'")
[ -n "$job" ] || die "no copy waits for the next window"
[ "$(wait_job "$job")" = succeeded ] || die "the resumed copy: $(api GET "/v1/jobs/$job")"
started=$(sql "SELECT started_usec FROM jobs WHERE id = $job")
[ "$started" -ge "$((reopen * 1000000))" ] || die "the resumed copy started at $started, before its window"
size=$(find "$D/offsite/sys1/snapshots/$snap" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
sent=$(sql "SELECT sum(bytes_stored) FROM jobs WHERE tier = 3")
python3 -c "import sys; s, t = map(int, sys.argv[1:]); assert t <= 1.1 * s, (s, t)" "$size" "$sent" ||
        die "the two copies sent $sent bytes for a snapshot of $size"
yunbak verify --store "$D/offsite" --system sys1 >/dev/null || die "off-site does not verify"
stop_yunbakd
echo "daemon-offsite-window: ok"
