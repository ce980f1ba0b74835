#!/bin/sh
# A measurement, not a test (it is not registered with ctest: its figures depend on the
# machine): how long yunbakd takes to make a year's report of a large catalog, and how long
# another API call waits meanwhile. 50 systems (YB_SCALE_SYSTEMS), each with a year of hourly
# tier-1 jobs and snapshots, hourly tier-2 lag rows, daily off-site copies, monthly drills and
# daily storage samples, written with sqlite3 (Python's module) while yunbakd is stopped. It
# prints the report's time, the longest answer to GET /metrics (which takes the daemon's lock, as
# the scheduler, the jobs and the replicators do) made while the report ran, and
# checks that the report listed every system. YB_SCALE_DEPARTMENTS (5) spreads the systems over
# that many departments. Run it from a build directory:
#   TESTS=$SRC/tests BIN=$PWD/bin sh $SRC/tests/integration/report-scale.sh
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/daemon-lib.sh"
N=${YB_SCALE_SYSTEMS:-50}

daemon_config
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -i "s|^socket: yunbakd.sock|socket: yunbakd.sock\nmetrics_listen: 127.0.0.1:$PORT|" "$D/yunbakd.yaml"
sed -i "s|^    url: $D/store\$|    url: $D/store\n  offsite:\n    url: $D/offsite\n  intracity:\n    url: $D/intracity|" \
        "$D/yunbakd.yaml"
mkdir -p "$D/offsite" "$D/intracity"
NEVER="*-02-29 02:00 UTC"
i=0
while [ "$i" -lt "$N" ]; do
        daemon_system "sys$i" "部门$((i % ${YB_SCALE_DEPARTMENTS:-5}))" "$NEVER" "$NEVER" "tier2:
  store: intracity
  max_lag: 1min
  checkpoint: \"*-02-29 00:00:00 UTC\"
tier3:
  store: offsite
  on_request: true"
        # Long Chinese names, as real ones are.
        sed -i "s/^  name: .*/  name: 市人力资源和社会保障局人事门户网站统一身份认证与电子档案管理系统$i/" \
                "$D/policies/sys$i.yaml"
        i=$((i + 1))
done

finish() {
        set +e
        [ -z "${YUNBAKD_PID:-}" ] || kill "$YUNBAKD_PID" 2>/dev/null
        cleanup
}
trap finish EXIT
trap 'exit 1' HUP INT TERM
start_yunbakd
stop_yunbakd
YUNBAKD_PID=

# The year before this one, in UTC.
YEAR=$(($(date -u +%Y) - 1))
python3 - "$D/catalog.db" "$N" "$YEAR" <<'PY'
import datetime, sqlite3, sys

db, n, year = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
U, HOUR, DAY = 1_000_000, 3600 * 1_000_000, 86400 * 1_000_000
start = int(datetime.datetime(year, 1, 1, tzinfo=datetime.timezone.utc).timestamp()) * U
c = sqlite3.connect(db)
c.execute("UPDATE policy_versions SET loaded_usec = ?", (start - 30 * DAY,))
for s in range(n):
    system = "sys%d" % s
    snaps, jobs, lag, off, usage = [], [], [], [], []
    for h in range(365 * 24):
        t = start + h * HOUR + 120 * U
        sid = "%s-%06d" % (system, h)
        snaps.append((system, "local", sid, t - 60 * U, t, h % 97 == 0))
        jobs.append((system, 1, "partial" if h % 97 == 0 else "succeeded", t - 100 * U, t, sid))
        lag.append((system, start + h * HOUR, 3600, h % 50, 800 + h % 300, 2000 + h % 900,
                    3000 + h % 5000))
        if h % 24 == 3:
            off.append((system, "offsite", sid, t - 60 * U, t, 0))
            jobs.append((system, 3, "succeeded", t, t + HOUR, sid))
    for d in range(366):
        for tier, store in ((1, "local"), (2, "intracity"), (3, "offsite")):
            usage.append((system, tier, store, start + d * DAY, 1000 * d, d))
    c.executemany("INSERT INTO snapshots (system, store, id, level, started_usec, finished_usec,"
                  " files, bytes_source, bytes_stored, partial) VALUES (?, ?, ?, 'full', ?, ?, 1,"
                  " 1, 1000, ?)", snaps + off)
    c.executemany("INSERT INTO jobs (system, tier, level, trigger, state, scheduled_usec,"
                  " started_usec, finished_usec, snapshot) VALUES (?, ?, 'full', 'schedule', ?,"
                  " ?, ?, ?, ?)", [(j[0], j[1], j[2], j[3], j[3], j[4], j[5]) for j in jobs])
    c.executemany("INSERT INTO replication_lag VALUES (?, ?, ?, ?, ?, ?, ?)", lag)
    c.executemany("INSERT OR REPLACE INTO storage_usage VALUES (?, ?, ?, ?, ?, ?)", usage)
    c.executemany("INSERT INTO drills (system, tier, store, scenario, run_by, started_usec,"
                  " reported_usec, state, rto_ms, rpo_seconds, rto_met, rpo_met) VALUES"
                  " (?, 1, 'local', 'restore drill', 'root', ?, ?, 'passed', 60000, 600, 1, 1)",
                  [(system, start + m * 30 * DAY, start + m * 30 * DAY + HOUR)
                   for m in range(12)])
c.commit()
PY
echo "catalog: $(du -h "$D/catalog.db" | cut -f1), $N systems, year $YEAR"
# YB_SCALE_KEEP=FILE keeps a copy of the filled catalog (to look at the queries' plans).
[ -z "${YB_SCALE_KEEP:-}" ] || cp "$D/catalog.db" "$YB_SCALE_KEEP"
start_yunbakd

# The period in microseconds; the report through the API, timed; /metrics calls meanwhile.
FROM=$(($(date -u -d "$YEAR-01-01" +%s) * 1000000))
TO=$(($(date -u -d "$((YEAR + 1))-01-01" +%s) * 1000000))
(
        # /metrics (its own server) takes the daemon's lock, as the scheduler and the jobs do.
        wm=0
        while [ ! -e "$SCRATCH/report-done" ]; do
                m=$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$PORT/metrics")
                wm=$(python3 -c "print(max($wm, $m))")
        done
        echo "$wm" >"$SCRATCH/metrics-worst"
) &
WATCH=$!
t=$(curl -s --unix-socket "$SOCK" -o "$SCRATCH/report.json" -w '%{http_code} %{time_total}' \
        "http://yunbakd/v1/reports?from_usec=$FROM&to_usec=$TO")
touch "$SCRATCH/report-done"
wait "$WATCH"
echo "report: HTTP status and seconds: $t"
echo "longest GET /metrics (the daemon's lock) while the report ran: $(cat "$SCRATCH/metrics-worst") s"
got=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(len(x["systems"]) for x in d["departments"]))' "$SCRATCH/report.json")
[ "$got" = "$N" ] || die "the report lists $got systems, not $N"
# YB_SCALE_HTML=FILE also writes the year's page (to print it and look at it).
[ -z "${YB_SCALE_HTML:-}" ] ||
        yunbak report --year "$YEAR" --tz UTC --html "$YB_SCALE_HTML" --socket "$SOCK" >/dev/null
