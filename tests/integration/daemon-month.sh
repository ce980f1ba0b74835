#!/bin/sh
# A simulated month under yunbakd's test clock (time jumps to the next event whenever no job
# runs, so the test does not depend on the machine's speed): the number of fulls, differentials
# and incrementals per system matches its calendars, counted independently here in Python; every
# job made a snapshot that verifies. Then the daemon is "down" for three days and catches up
# once per system.
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/daemon-lib.sh"

daemon_config
daemon_system weekly 人社局 "Sun *-*-* 02:00 UTC" "Mon..Sat *-*-* 02:00 UTC"
daemon_system monthly 政数局 "*-*-01 03:00 UTC" "*-*-* 03:00 UTC"
# monthly also has a differential on Sundays (a full on the 1st covers it).
sed -i 's/^  incremental: "\*-\*-\* 03:00 UTC"/  differential: Sun *-*-* 03:00 UTC\n  incremental: "*-*-* 03:00 UTC"/' \
        "$D/policies/monthly.yaml"
daemon_system twice 公安局 "Sat *-*-* 22:00 UTC" "*-*-* 06,18:00 UTC"
yunbak policy check "$D"/policies/*.yaml >/dev/null

run_clock() { # FROM UNTIL
        YUNBAKD_TEST_CLOCK=$1 YUNBAKD_TEST_UNTIL=$2 yunbakd --config "$D/yunbakd.yaml" \
                --foreground >>"$D/yunbakd.log" 2>&1 || {
                tail -30 "$D/yunbakd.log" >&2
                die "yunbakd on the test clock failed"
        }
}

# expected FROM UNTIL: "system level count" lines, from the calendars' meaning, independently
# of yunbak's calendar code.
expected() {
        python3 - "$1" "$2" <<'PY'
import sys, datetime as dt
f = dt.datetime.fromisoformat(sys.argv[1].replace("Z", "+00:00"))
u = dt.datetime.fromisoformat(sys.argv[2].replace("Z", "+00:00"))
count = {}
def add(s, l): count[(s, l)] = count.get((s, l), 0) + 1
t = f.replace(minute=0, second=0, microsecond=0)
if t <= f: t += dt.timedelta(hours=1)
while t < u:
    sun = t.weekday() == 6
    if t.hour == 2: add("weekly", "full" if sun else "incremental")
    if t.hour == 3: add("monthly", "full" if t.day == 1 else "differential" if sun else "incremental")
    if t.hour == 22 and t.weekday() == 5: add("twice", "full")
    if t.hour in (6, 18): add("twice", "incremental")
    t += dt.timedelta(hours=1)
for (s, l), n in sorted(count.items()): print(s, l, n)
PY
}

actual() { # WHERE: the levels asked, which the calendars set
        sql "SELECT system, requested_level, count(*) FROM jobs WHERE $1
             GROUP BY system, requested_level ORDER BY system, requested_level" | tr '|' ' '
}

# A month: March 2026 (it starts on a Sunday, so 1 March has the monthly full covering both
# the Sunday differential and the daily incremental).
run_clock 2026-03-01T00:00:00Z 2026-03-31T00:00:00Z
expected 2026-03-01T00:00:00Z 2026-03-31T00:00:00Z >"$D/want"
actual "trigger = 'schedule'" >"$D/got"
diff -u "$D/want" "$D/got" || die "the month's jobs do not match the calendars"
# The level made is the one asked but for twice's first backup, an incremental (Sunday 06:00,
# before its first full): no parent, so a full, and listed as one.
[ "$(sql "SELECT system, level, requested_level, count(*) FROM jobs WHERE level != requested_level
          GROUP BY system, level, requested_level")" = "twice|full|incremental|1" ] ||
        die "levels made: $(sql "SELECT id, system, level, requested_level FROM jobs
                                 WHERE level != requested_level")"
[ "$(sql "SELECT count(*) FROM jobs WHERE state != 'succeeded'")" -eq 0 ] ||
        die "jobs failed: $(sql "SELECT id, system, error FROM jobs WHERE state != 'succeeded'")"
total=$(sql "SELECT count(*) FROM jobs")
[ "$total" -eq 124 ] || die "expected 124 jobs in March, got $total"
# Each job's snapshot is in the catalog and in the store, and the chains verify.
[ "$(sql "SELECT count(*) FROM snapshots")" -eq "$total" ] || die "catalog snapshots != jobs"
for s in weekly monthly twice; do
        yunbak verify --store "$D/store" --system "$s" >/dev/null || die "verify $s"
        n=$(yunbak snapshots --store "$D/store" --system "$s" --json | json 'len(j)')
        [ "$n" -eq "$(sql "SELECT count(*) FROM snapshots WHERE system = '$s'")" ] ||
                die "store and catalog disagree for $s"
done
[ "$(sql "PRAGMA integrity_check")" = ok ] || die "integrity_check"

# Down for three days (31 March to 3 April): each system catches up ONCE at start, with the
# strongest level it missed (monthly missed its full of 1 April; the others only incrementals),
# then runs on its calendars.
run_clock 2026-04-03T00:00:00Z 2026-04-06T00:00:00Z
printf 'monthly full 1\ntwice incremental 1\nweekly incremental 1\n' >"$D/want"
actual "trigger = 'catch-up'" >"$D/got"
diff -u "$D/want" "$D/got" || die "catch-up is not once per system with the strongest level"
start=$(python3 -c 'import datetime as d; print(int(d.datetime(2026,4,3,tzinfo=d.timezone.utc).timestamp()*1e6))')
expected 2026-04-03T00:00:00Z 2026-04-06T00:00:00Z >"$D/want"
actual "trigger = 'schedule' AND scheduled_usec >= $start" >"$D/got"
diff -u "$D/want" "$D/got" || die "after the catch-up, the calendars are not followed"
# Nothing ran for the days it was down.
[ "$(sql "SELECT count(*) FROM jobs WHERE trigger = 'schedule' AND scheduled_usec >= $((start - 3 * 86400000000)) AND scheduled_usec < $start")" -eq 0 ] ||
        die "missed runs were run one by one"
echo ok
