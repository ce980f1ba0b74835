#!/bin/sh
# yunbakd runs tier 2 (issue 11): a policy with tier2 to a local store gets a replicator (the real
# yunbak-agent replicate) on its host. While another replicator of the system runs there (started
# by hand), yunbakd's exits 8, and status and the log say so plainly until it is tried again
# after the other one ended. Status says it runs, with a known lag within seconds of a
# change, and metrics say the same; SIGKILL of the replicator makes yunbakd restart it (status says
# so, and the lag is unknown meanwhile); a store made unwritable pushes the lag past max_lag: the
# system is marked (status, metrics, the exit of yunbak status) and audited, then cleared and
# audited again once the store takes writes; a reload that changes tier2.interval restarts it
# with the new one; the policy's tier2 removed and reloaded stops the replicator and status says
# not-running; the lag history and the month's report show the hour so far, and the hour's row
# is in the catalog after yunbakd's stop.
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/daemon-lib.sh"
. "$TESTS/integration/daemon-replicate-lib.sh"

T2="$D/intracity"
MOUNTED=
OTHER=
HOLD=
finish() {
        set +e
        stop_left_yunbakd
        [ -z "$HOLD" ] || kill "$HOLD"
        [ -z "$OTHER" ] || kill "$OTHER"
        [ -z "$MOUNTED" ] || umount "$T2"
        cleanup
}
trap finish EXIT
trap 'exit 1' HUP INT TERM

# The tier-2 store. As root, a bind mount of its own, so that a remount makes it read-only under
# the replicator's open files (root writes through any mode); otherwise its modes do.
mkdir -p "$T2"
if [ "$(id -u)" -eq 0 ]; then
        mount --bind "$T2" "$T2" || die "cannot bind-mount the tier-2 store (root without mount?)"
        MOUNTED=1
fi
store_writable() { # yes|no
        if [ -n "$MOUNTED" ]; then
                mount -o "remount,bind,$([ "$1" = yes ] && echo rw || echo ro)" "$T2"
        elif [ "$1" = yes ]; then
                chmod -R u+w "$T2"
        else
                chmod -R a-w "$T2"
        fi
}

daemon_config
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -i "s/^socket: yunbakd.sock/&\nmetrics_listen: 127.0.0.1:$PORT/" "$D/yunbakd.yaml"
sed -i "s|^    url: $D/store\$|&\n  intracity:\n    url: $T2|" "$D/yunbakd.yaml"
TIER2="tier2:
  store: intracity
  max_lag: 5s
  interval: 1s
  checkpoint: \"*-*-* 00:00:00 UTC\""
daemon_system hr 人社局 "" "" "$TIER2"
cp "$D/policies/hr.yaml" "$SCRATCH/hr-with-tier2.yaml"
yunbak policy check "$D/policies/hr.yaml" >/dev/null
DATA="$D/trees/hr/data"

metrics() { curl -sf "http://127.0.0.1:$PORT/metrics" >"$D/metrics" || die "no /metrics"; }
has_metric() { grep -Eq "$1" "$D/metrics" || { cat "$D/metrics" >&2; die "metrics lack: $1"; }; }

# Another replicator of the system on the host, by hand: it holds the system's replicator lock
# in the host's state directory. Its standard input is a FIFO that a sleep holds open.
mkfifo "$D/other.in"
yunbak-agent replicate --store "$T2" --system hr --public-key "$D/keys/hr.pub" \
        --state-dir "$D/agent-state" --interval 1s "$DATA" <"$D/other.in" >"$D/other.out" \
        2>"$D/other.err" &
OTHER=$!
sleep 600 >"$D/other.in" &
HOLD=$!
i=0
until grep -q '"event": *"started"' "$D/other.out" 2>/dev/null; do
        i=$((i + 1))
        [ "$i" -lt 600 ] || { cat "$D/other.err" >&2; die "the replicator run by hand did not start"; }
        sleep 0.1
done
start_yunbakd
until_t2 't["state"] == "restarting" and t["why"].startswith("after exit 8 (another replicator of the system runs)")' \
        "status does not say that another replicator of the system runs" 30
grep -q "System 'hr': another replicator of the system already runs on host here" "$D/yunbakd.log" ||
        die "the log does not say that another replicator runs"
kill "$HOLD" # its EOF: it stops
HOLD=
wait "$OTHER" || die "the replicator run by hand did not stop on EOF: $(cat "$D/other.err")"
OTHER=

# Running, with a known lag; a change reaches the store as a segment within seconds, and the
# lag stays known and small.
until_t2 't["state"] == "running" and t["lag_known"]' "the replicator does not run with a known lag"
seg0=$(t2 't["segments"]')
echo "a change" >"$DATA/change-1.txt"
until_t2 "t['segments'] > $seg0 and t['lag_known'] and t['lag_seconds'] < 5" \
        "the change did not reach the store with a known lag" 20
[ -n "$(find "$T2/hr/segments" -path '*/header' | head -1)" ] || die "no segment in the store"
t2 't["pid"] > 0 and t["capture"] in ("fanotify", "inotify") and t["last_segment"]["id"]' |
        grep -qv False || die "status lacks the replicator's pid, capture or last segment"
metrics
has_metric '^yunbak_tier_running\{system="hr",tier="2"\} 1$'
has_metric '^yunbak_replication_lag_known\{system="hr"\} 1$'
has_metric '^yunbak_replication_lag_seconds\{system="hr"\} [0-4]\.[0-9]+$'
has_metric '^yunbak_replication_max_lag_exceeded\{system="hr"\} 0$'
has_metric '^yunbak_replication_segments_total\{system="hr"\} [1-9][0-9]*$'
has_metric '^yunbak_replication_last_segment_timestamp_seconds\{system="hr"\} [0-9.]+$'
! command -v promtool >/dev/null || promtool check metrics <"$D/metrics" || die "promtool check metrics"
yunbak status --socket "$SOCK" >"$D/status.out" || true
grep -Eq '^hr +intracity +running +[0-9]\.[0-9] s +5\.0 s' "$D/status.out" ||
        { cat "$D/status.out" >&2; die "yunbak status does not show tier 2 running with its lag"; }

# SIGKILL of the replicator: yunbakd notices, says it restarts it, and knows no lag meanwhile.
pid=$(t2 't["pid"]')
restarts=$(t2 't["restarts"]')
kill -KILL "$pid"
until_t2 "t['state'] != 'running' or t['pid'] != $pid" "the killed replicator is still shown running" 10
t2 't["lag_known"] is False and t["lag_seconds"] is None and t["lag_at_least_seconds"] is not None' |
        grep -qx True || die "the lag is not unknown after the replicator was killed: $(t2 t)"
until_t2 "t['restarts'] == $restarts + 1 and t['last_exit']['signal'] == 9" "status does not say it was killed" 10
until_t2 "t['state'] == 'running' and t['pid'] != $pid and t['lag_known']" \
        "the replicator was not restarted" 60
grep -q "System 'hr': the replicator on host here was killed by signal 9.*restarting in [0-9]* s" \
        "$D/yunbakd.log" || die "the log does not say the replicator was killed and restarted"

# The store unwritable: the change cannot be committed, the lag passes max_lag (5 s): marked in
# status and metrics, audited; writable again: cleared and audited.
store_writable no
echo "waits" >"$DATA/change-2.txt"
until_t2 't["max_lag_exceeded"]' "max_lag is not marked exceeded while the store takes no writes" 60
metrics
has_metric '^yunbak_replication_max_lag_exceeded\{system="hr"\} 1$'
expect_exit 3 yunbak status --socket "$SOCK"
grep -q "MAX_LAG EXCEEDED" "$SCRATCH/stdout" || die "yunbak status does not mark the lag"
grep -q "^hr: the tier-2 lag .* exceeds max_lag (5.0 s)" "$SCRATCH/stdout" ||
        die "yunbak status does not name the system whose lag exceeds max_lag"
[ "$(sql "SELECT count(*) FROM audit WHERE action = 'tier2.max-lag' AND object = 'hr' AND
        result = 'exceeded' AND detail LIKE '%max_lag 5s%'")" = 1 ] ||
        die "no audit record of max_lag exceeded: $(sql "SELECT * FROM audit WHERE action LIKE 'tier2%'")"
store_writable yes
until_t2 'not t["max_lag_exceeded"] and t["lag_known"]' "max_lag stays exceeded once the store takes writes" 60
[ "$(sql "SELECT count(*) FROM audit WHERE action = 'tier2.max-lag' AND object = 'hr' AND
        result = 'ok'")" = 1 ] || die "no audit record of the lag back under max_lag"
find "$T2/hr/segments" -path '*/header' -newer "$DATA/change-2.txt" | grep -q . ||
        die "no segment was committed after the store took writes again"

# A reload that changes tier2.interval: the replicator is stopped and started with the new one
# (not counted as a restart after a failure).
pid=$(t2 't["pid"]')
restarts=$(t2 't["restarts"]')
sed -i 's/^  interval: 1s$/  interval: 2s/' "$D/policies/hr.yaml"
api POST /v1/reload >/dev/null
[ "$(api_status)" = 200 ] || die "reload: $(cat "$D/body")"
until_t2 "t['interval_seconds'] == 2.0 and t['state'] == 'running' and t['pid'] != $pid and t['lag_known']" \
        "the replicator was not restarted with the new interval" 60
[ "$(t2 't["restarts"]')" = "$restarts" ] || die "a restart for a new policy counts as one after a failure"
grep -q "System 'hr': its tier2 or sources changed: restarting its replicator" "$D/yunbakd.log" ||
        die "the log does not say why the replicator was restarted"

# The lag history so far: the hour running, from yunbakd's memory.
yunbak status --socket "$SOCK" --system hr --lag-history >"$D/history.out" ||
        die "yunbak status --lag-history failed"
grep -Eq '^[0-9-]+ [0-9:]+ +[0-9]+ +[0-9]+ s +[0-9.]+ s +[0-9.]+ s +[0-9.]+ s +\(this hour, so far\)$' \
        "$D/history.out" || { cat "$D/history.out" >&2; die "the lag history lacks the hour so far"; }
# The month's report has it too, so far, and says so; a lag under a second is in ms, not "0 s".
MONTH=$(date -u +%Y-%m)
yunbak report --month "$MONTH" --tz UTC --json --socket "$SOCK" >"$D/report.json" ||
        die "yunbak report --json failed"
yunbak report --month "$MONTH" --tz UTC --socket "$SOCK" >"$D/report.txt" || die "yunbak report failed"
python3 - "$D/report.json" "$D/report.txt" <<'EOF' || die "the report's lag lacks the hour so far (above)"
import json, sys
r = json.load(open(sys.argv[1]))
text = open(sys.argv[2]).read()
lag = [s for d in r["departments"] for s in d["systems"] if s["id"] == "hr"][0]["lag"]
if lag["state"] != "ok":
    sys.exit("lag %r" % lag)
# Only when the hour turned between the sample and the report may the hour running be empty.
if "running_hour" not in lag and r["period"]["now_usec"] % 3600000000 >= 5000000:
    sys.exit("no running_hour in %r" % lag)
if "running_hour" in lag and "hr: tier 2's lag includes the hour running, so far" not in text:
    sys.exit("the text does not say the hour running is in:\n" + text)
row = [l for l in text.splitlines() if l.startswith("hr ")][0]
if lag["p50_ms"] is not None and lag["p50_ms"] < 1000 and (" %d ms /" % lag["p50_ms"]) not in row:
    sys.exit("p50 of %d ms is not shown in ms: %s" % (lag["p50_ms"], row))
EOF

# The policy's tier2 removed and reloaded: the replicator stops, status says not-running.
pid=$(t2 't["pid"]')
grep -v -e '^tier2:' -e '^  store: intracity' -e '^  max_lag:' -e '^  interval:' -e '^  checkpoint:' \
        "$SCRATCH/hr-with-tier2.yaml" >"$D/policies/hr.yaml"
api POST /v1/reload >/dev/null
[ "$(api_status)" = 200 ] || die "reload: $(cat "$D/body")"
until_t2 't["state"] == "not-running" and "no tier2" in t["why"]' \
        "status does not say the replicator stopped with the policy's tier2" 40
i=0
while kill -0 "$pid" 2>/dev/null; do
        i=$((i + 1))
        [ "$i" -lt 400 ] || die "the replicator (pid $pid) still runs after its tier2 went"
        sleep 0.1
done
metrics
! grep -q 'yunbak_replication_lag_seconds{system="hr"}' "$D/metrics" ||
        die "metrics still give a lag for a system without tier2"

# The hour's lag reaches the catalog when yunbakd stops.
stop_yunbakd
YUNBAKD_PID=
rows=$(sql "SELECT count(*) FROM replication_lag WHERE system = 'hr' AND samples > 0")
[ "$rows" -ge 1 ] || die "no hourly lag row in the catalog"
sql "SELECT sum(samples), sum(unknown_seconds), max(max_ms), min(p50_ms) FROM replication_lag WHERE
        system = 'hr'" | {
        IFS='|' read -r samples unknown max p50
        [ "$samples" -ge 10 ] && [ "$unknown" -ge 1 ] && [ "$max" -gt 5000 ] && [ -n "$p50" ] ||
                die "the hourly row does not hold what happened: samples $samples, unknown $unknown, max $max ms, p50 $p50 ms"
}
exit 0
