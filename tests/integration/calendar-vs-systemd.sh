#!/bin/sh
# Calendar expressions (policies/calendar.c) against systemd's own: the normal form and the next
# 10 elapses of each expression below, from fixed base times around DST changes, in three local
# zones, must equal what `systemd-analyze calendar` prints.
set -eu
. "$TESTS/integration/lib.sh"
command -v systemd-analyze >/dev/null || exit 77
command -v yb-calendar-next >/dev/null || die "yb-calendar-next is not built"
# --base-time came with systemd 250; without it there is nothing to compare with.
systemd-analyze calendar --iterations=2 --base-time=@0 daily >/dev/null 2>&1 || exit 77
for z in Asia/Shanghai Europe/Berlin America/New_York Australia/Lord_Howe; do
        [ -f "/usr/share/zoneinfo/$z" ] || exit 77 # no tz database (package tzdata)
done

cat >"$SCRATCH/exprs" <<'EOF'
Sun *-*-* 01:00 Asia/Shanghai
Mon..Sat
*-*-01..07
daily
weekly
monthly
hourly
minutely
yearly
annually
quarterly
semiannually
DAILY
Mon,Wed,Fri 10:00
Mon..Fri 09:30
Sat,Sun 03:15:30
Mon..Wed,Fri..Sun 12:00
Mon-Fri 18:00
Monday..Friday 08:00
Sat,Sun,Mon
Mon..Sun 07:00
*-*-* 00/2:00
*-*-* 0..23/6:30
*:0/15
*:00/20:30
*:05,35
*-*-* *:*:0/10
*-*-* 12:00:5..50/15
*-*-* *:*:*
*-*-1/7 06:00
*-*-01,15 02:00
*-1/2-1
*-02-29 12:00
*-*-31
*-*-29,30,31 23:00
*-*-* 18,6,12,6:00
2025-*-* 00:00
2024..2026-03-31 02:30
2025/2-01-01
25-06-15
2030-12-31 23:59:59
2023-01-01
*-04-31
Mon *-02-29
*-*-* 02:30
*-*-* 02:30 Europe/Berlin
*-*-* 01:30 America/New_York
*-*-* *:30 Europe/Berlin
*:00 America/New_York
*:00/20 Europe/Berlin
Sun *-*-* 02:00 Europe/Berlin
Sun *-*-* 01..03:00:00 America/New_York
daily UTC
12:00 utc
Mon..Fri 09:00 Asia/Shanghai
*-*-* 00:00 Asia/Kolkata
monthly Australia/Sydney
*-*-* 02:15 Australia/Lord_Howe
*:00/30 Australia/Lord_Howe
Fri *-*-13 13:13
Mon *-*-01..07 09:00
Sat *-*-22..28
Thu *-11-22..28 12:00 America/New_York
*-12-25 08:00 Europe/London
Tue,Thu *-*-* 0/4:00:00
*-*-* 23:59:59
*:*:30
*-*-* 00:00:00 Pacific/Kiritimati
*-*-* 12:00 Pacific/Pago_Pago
weekly Asia/Tokyo
*-*-* 03:00 America/Sao_Paulo
*-*-* 00:30 America/Havana
*-*-* 00:00 America/Santiago
*-*-* 01:59:30..59/10
*-*-* 1,13:00 Europe/Dublin
Mon..Fri *-*-* 8..18:00 Europe/Berlin
*:0..59/7
quarterly Europe/Moscow
*-*-* 2,14:30:15 Asia/Shanghai
0/5:00:00
*-*-* 01:00 Etc/GMT-3
2024-*-* 12:00 Asia/Shanghai
2199-12-31 23:59:59
EOF

# Base times: an ordinary one, the evenings before Europe's spring and autumn changes, just
# before America's, and inside the hour that Europe's autumn change repeats.
BASES="1700000000 1711836000 1729980000 1710036000 1730602800 1729991400"
LOCAL_ZONES="UTC Europe/Berlin America/New_York"

n=0
while IFS= read -r e; do
        n=$((n + 1))
        set -- "$@" "$e"
done <"$SCRATCH/exprs"
[ "$n" -ge 60 ] || die "only $n expressions"

# systemd-analyze's blocks, rewritten as yb-calendar-next prints them: the normal form, then
# the elapses in UTC ("(in UTC):" lines where the local zone is not UTC), then an empty line.
to_ours() {
        awk '
        function flush(   i) {
                if (!started)
                        return
                print norm
                if (nu > 0)
                        for (i = 1; i <= nu; i++) print u[i]
                else
                        for (i = 1; i <= nl; i++) print l[i]
                print ""
        }
        function iso(s,   d) {
                if (!match(s, /[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]/))
                        return ""
                d = substr(s, RSTART, RLENGTH)
                sub(/ /, "T", d)
                return d "Z"
        }
        /^ *Normalized form:/ { flush(); started = 1; nu = nl = 0; sub(/^ */, ""); norm = $0; next }
        /Next elapse: never/ { next }
        /^ *(Next elapse|Iter\. #[0-9]+):/ { l[++nl] = iso($0); next }
        /^ *\(in UTC\):/ { u[++nu] = iso($0); next }
        END { flush() }'
}

compared=0
for tz in $LOCAL_ZONES; do
        for base in $BASES; do
                TZ=$tz systemd-analyze calendar --iterations=10 --base-time="@$base" -- "$@" \
                        >"$SCRATCH/systemd.raw" 2>"$SCRATCH/systemd.err" ||
                        die "systemd-analyze failed (TZ=$tz, base $base): $(cat "$SCRATCH/systemd.err")"
                to_ours <"$SCRATCH/systemd.raw" >"$SCRATCH/systemd"
                TZ=$tz yb-calendar-next --iterations 10 --base-time "@$base" -- "$@" >"$SCRATCH/ours" ||
                        die "yb-calendar-next failed (TZ=$tz, base $base)"
                if ! cmp -s "$SCRATCH/systemd" "$SCRATCH/ours"; then
                        diff -u "$SCRATCH/systemd" "$SCRATCH/ours" >&2 || true
                        die "differs from systemd-analyze (TZ=$tz, base @$base); '-' is systemd"
                fi
                blocks=$(grep -c '^Normalized form:' "$SCRATCH/ours")
                [ "$blocks" -eq "$n" ] || die "$blocks results for $n expressions"
                compared=$((compared + blocks))
        done
done
echo "$n expressions, $compared comparisons of normal form and 10 elapses: all equal"
