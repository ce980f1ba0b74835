#!/bin/sh
# A drill from each tier (docs/drills.md) of a system with files and a PostgreSQL cluster (a
# physical hook), under a real yunbakd: tier 1 in a local store, tier 2 the replicator's
# segments store, tier 3 an SFTP store at a second site (sshd in a network namespace as root)
# filled by a copy job. Each drill passes; its record names the tier's store, restores that
# tier's newest point, gives RPO = the point's age at the drill's start (started_usec lies
# between two times read around the run) and RTO = the phases' sum on the test stopwatch
# (YUNBAK_TEST_STOPWATCH_MS), and the PostgreSQL check's value is the row count of that point:
# 1000 rows in the off-site copy, 1100 in the newest tier-1 backup, 1200 in tier 2's newest
# segment, and 1100 again from tier 2 at a time between the two inserts, where the drill picks
# the newest segment finished at or before it. Then a dump hook is added and a tier-1 drill
# checks its database too.
# Runs for about a minute and a half (a cluster, a replicator, five drills each starting a
# throwaway cluster): the tiers are one system's, so they are one test.
. "$TESTS/integration/lib.sh"
SSH_DIR=$SCRATCH/ssh
YUNBAKD_PID=
finish() {
        set +e
        [ -z "$YUNBAKD_PID" ] || {
                kill "$YUNBAKD_PID" 2>/dev/null
                wait "$YUNBAKD_PID" 2>/dev/null
        }
        command -v pg_stop_all >/dev/null && pg_stop_all
        ssh_finish
        cleanup
}
trap finish EXIT
trap 'exit 1' HUP INT TERM
. "$TESTS/integration/ssh-lib.sh"
mkdir -p "$SCRATCH/site2"
OFFSITE_URL="sftp://$ME@$ADDR:$PORT$SCRATCH/site2"
OFFSITE_SSH_KEY=$SSH_DIR/client_key
OFFSITE_KNOWN_HOSTS=$SSH_DIR/known_hosts
. "$TESTS/integration/drill-lib.sh"
. "$TESTS/integration/daemon-replicate-lib.sh"
. "$TESTS/integration/pg-lib.sh"
trap finish EXIT
# `yunbak drill --tier 3` reaches the second site as a person would: with their own ~/.ssh.
export HOME="$SCRATCH/home"
mkdir -p "$HOME/.ssh"
cp "$SSH_DIR/client_key" "$HOME/.ssh/id_ed25519"
cp "$SSH_DIR/known_hosts" "$HOME/.ssh/known_hosts"
chmod -R go-rwx "$HOME/.ssh"

pg_init "$SCRATCH/pg"
pg_start "$PGDIR" -c max_slot_wal_keep_size=1GB
sql postgres "CREATE TABLE kept (id int); INSERT INTO kept SELECT generate_series(1, 1000)"

GRADE=important
drill_config
HOOKS_YAML="  hooks:
    - name: db
      type: postgresql
      mode: physical
      host: $PGDIR
      user: $DBUSER"
drill_system "$SYSTEM" "$DEPT" "$TIER2_YAML
$TIER3_YAML" "  timeout: 5min
  postgresql:
    - hook: db
      query: SELECT count(*) FROM kept
      min: 1000"
start_yunbakd
until_t2 "(t.get('postgresql') or {}).get('db', {}).get('shipped_lsn') is not None" \
        "tier 2 ships no WAL of hook db" 180

LSN="(lambda s: (int(s.split('/')[0], 16) << 32) | int(s.split('/')[1], 16))"
# shipped: until tier 2 holds everything committed so far.
shipped() {
        _lsn=$(sql postgres "SELECT pg_current_wal_lsn()")
        until_t2 "$LSN(t['postgresql']['db']['shipped_lsn']) >= $LSN('$_lsn')" "WAL up to $_lsn is not shipped" 60
}
now_usec() { python3 -c 'import time; print(time.time_ns() // 1000)'; }

# 1000 rows: tier 1, copied off-site. 1100: tier 1 again, and tier 2 up to AT. 1200: tier 2.
snap1=$(backup "$SYSTEM")
offsite "$SYSTEM"
[ "$(catalog "SELECT id FROM snapshots WHERE system = '$SYSTEM' AND store = 'offsite'")" = "$snap1" ] ||
        die "the off-site store does not hold $snap1: $(catalog "SELECT store, id FROM snapshots")"
sql postgres "INSERT INTO kept SELECT generate_series(1001, 1100)"
snap2=$(backup "$SYSTEM")
shipped
AT_USEC=$(now_usec)
AT=$(python3 -c 'import datetime, sys; t = int(sys.argv[1]); print(datetime.datetime.fromtimestamp(t // 1000000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + ".%06dZ" % (t % 1000000))' "$AT_USEC")
sql postgres "INSERT INTO kept SELECT generate_series(1101, 1200)"
shipped

# t2_points: every point of the tier-2 store (roots and segments) as "finished_usec id" lines.
t2_points() {
        yunbak snapshots --store "$D/intracity" --system "$SYSTEM" --json >"$SCRATCH/roots.json" ||
                die "the tier-2 store does not list"
        python3 -c '
import json, sys
for s in json.load(open(sys.argv[1])):
    if s.get("root_missing"):
        continue
    print(s["finished_ns"] // 1000, s["id"])' "$SCRATCH/roots.json" >"$SCRATCH/points"
        for root in $(python3 -c 'import json, sys; print(" ".join(s["id"] for s in json.load(open(sys.argv[1])) if s.get("chain")))' "$SCRATCH/roots.json"); do
                yunbak snapshots --store "$D/intracity" --system "$SYSTEM" --segments "$root" --json |
                        python3 -c 'import json, sys; [print(s["finished_ns"] // 1000, s["id"]) for s in json.load(sys.stdin)]' \
                                >>"$SCRATCH/points"
        done
        sort -n "$SCRATCH/points"
}

# drill_tier N WANT_VALUE ARGS...: a drill of tier N on the test stopwatch (7 ms a phase) that
# must pass; its record in $SCRATCH/tierN.json (from the API), started between two times read
# around it; checks what every tier's record must say. With DRILL_AT_USEC (the time --at asks
# for), the RPO is the point's age at that time, not at the drill's start (docs/drills.md).
drill_tier() {
        _t=$1
        _v=$2
        shift 2
        _a=$(now_usec)
        YUNBAK_TEST_STOPWATCH_MS=7 run_drill 0 --tier "$_t" --scenario "第$_t级演练" --json "$@"
        _b=$(now_usec)
        _id=$(json 'j["id"]' <"$SCRATCH/stdout") || die "yunbak drill --json printed no record: $(cat "$SCRATCH/stdout")"
        api GET "/v1/drills/$_id" >"$SCRATCH/tier$_t.json"
        cmp -s "$SCRATCH/stdout" "$SCRATCH/tier$_t.json" ||
                python3 -c 'import json, sys; assert json.load(open(sys.argv[1])) == json.load(open(sys.argv[2]))' \
                        "$SCRATCH/stdout" "$SCRATCH/tier$_t.json" ||
                die "yunbak drill --json printed another record than yunbakd keeps"
        python3 - "$SCRATCH/tier$_t.json" "$_t" "$_v" "$_a" "$_b" "${DRILL_AT_USEC:-0}" <<'PY' || die "the tier-$_t drill's record: $(cat "$SCRATCH/tier$_t.json")"
import json, sys
r = json.load(open(sys.argv[1]))
tier, value, a, b, at = (int(x) for x in sys.argv[2:])
assert r["type"] == "yunbak-drill" and r["result"] == "passed", (r["result"], r["failed_phase"], r["error"])
assert r["tier"] == tier and r["failed_phase"] is None and r["error"] is None, r
assert [p["name"] for p in r["phases"]] == ["point", "restore", "verify", "postgresql", "check"], r["phases"]
assert all(p["ms"] == 7 and p["ok"] for p in r["phases"]), r["phases"]
assert a <= r["started_usec"] <= b, ("started_usec outside the run", a, r["started_usec"], b)
age = ((min(at, r["started_usec"]) if at else r["started_usec"]) - r["point"]["time_usec"]) // 1000000
assert r["achieved"] == {"rto_ms": 35, "rpo_seconds": age}, (r["achieved"], age)
assert r["objectives"] == {"rto_seconds": 7200, "rpo_seconds": 3600}, r["objectives"]
assert r["met"] == {"rto": True, "rpo": age <= 3600}, r["met"]
[pg] = r["postgresql"]
assert pg["name"] == "db" and pg["mode"] == "physical" and pg["ok"], pg
assert pg["value"] == value, ("the check counted %d rows, want %d, the rows at the point's time "
                              "(1000 is the base backup's: was the WAL after it replayed?)" % (pg["value"], value))
assert r["check"]["exit_code"] == 0, r["check"]
PY
}
# point_is TIER ID USEC FROM: the record's point.
point_is() {
        python3 - "$SCRATCH/tier$1.json" "$2" "$3" "$4" <<'PY' || die "the tier-$1 drill's point: $(json 'j["point"]' <"$SCRATCH/tier$1.json"), want $2 at $3 ($4)"
import json, sys
p = json.load(open(sys.argv[1]))["point"]
assert p["id"] == sys.argv[2] and p["time_usec"] == int(sys.argv[3]) and p["time_from"] == sys.argv[4], p
PY
}
store_is() { # TIER NAME LOCATION
        [ "$(json 'j["store"]["name"], j["store"]["location"]' <"$SCRATCH/tier$1.json")" = "$2 $3" ] ||
                die "the tier-$1 drill's store: $(json 'j["store"]' <"$SCRATCH/tier$1.json"), want $2 at $3"
}

# Tier 1: the newest snapshot of the local store (1100 rows), its time from the catalog.
drill_tier 1 1100
store_is 1 local "$D/store"
point_is 1 "$snap2" "$(catalog "SELECT finished_usec FROM snapshots WHERE store = 'local' AND id = '$snap2'")" catalog

# Tier 3: the copy at the second site (1000 rows), read over SFTP.
drill_tier 3 1000
store_is 3 offsite "$OFFSITE_URL"
point_is 3 "$snap1" "$(catalog "SELECT finished_usec FROM snapshots WHERE store = 'offsite' AND id = '$snap1'")" catalog

# Tier 2, newest: at least the newest segment listed before the drill (1200 rows).
before=$(t2_points | tail -n 1)
drill_tier 2 1200
store_is 2 intracity "$D/intracity"
t2_points >"$SCRATCH/after"
python3 - "$SCRATCH/tier2.json" "$before" "$SCRATCH/after" <<'PY' || die "tier 2's newest point: $(json 'j["point"]' <"$SCRATCH/tier2.json"), the newest before the drill: $before"
import json, sys
p = json.load(open(sys.argv[1]))["point"]
t0 = int(sys.argv[2].split()[0])
pts = {i: int(t) for t, i in (l.split() for l in open(sys.argv[3]))}
assert p["id"] in pts and pts[p["id"]] == p["time_usec"], (p, "not a point of the store")
assert p["time_usec"] >= t0 and p["time_from"] == "drill", p
PY

# Tier 2 at AT, between the inserts: the newest point finished at or before AT (1100 rows).
DRILL_AT_USEC=$AT_USEC drill_tier 2 1100 --at "$AT"
want=$(awk -v at="$AT_USEC" '$1 <= at' "$SCRATCH/after" | tail -n 1)
[ -n "$want" ] || die "no point of tier 2 at or before $AT: $(cat "$SCRATCH/after")"
point_is 2 "${want#* }" "${want%% *}" drill
[ "$(json 'j["point"]["requested_at"]' <"$SCRATCH/tier2.json")" != None ] ||
        die "the drill at $AT does not record the time asked for"
# Its summary in words (unrecorded: no cluster, so quick): the segment's place in its chain and
# the time asked for.
seg=${want#* }
seg_usec=${want%% *}
run_drill 0 --tier 2 --at "$AT" --no-record --store "$D/intracity"
grep -Eq "^Point: segment $seg \(seq [0-9]+ of chain [0-9]{8}T[0-9]{6}Z-[0-9a-f]+\), finished " "$SCRATCH/stdout" ||
        die "the summary of a tier-2 point (want $seg): $(cat "$SCRATCH/stdout")"
grep -q "the newest point at or before $AT, the time asked for (--at)" "$SCRATCH/stdout" ||
        die "the summary does not show the time asked for: $(cat "$SCRATCH/stdout")"
grep -q "^RPO achieved: $(((AT_USEC - seg_usec) / 1000000)) s: the point's age at the time asked for (--at)" "$SCRATCH/stdout" ||
        die "the RPO of an unrecorded drill at $AT: $(cat "$SCRATCH/stdout")"

# A dump hook too: its database's check runs in a tier-1 drill beside the physical one.
sql postgres "CREATE DATABASE hr"
sql hr "CREATE TABLE staff (id int); INSERT INTO staff SELECT generate_series(1, 500)"
python3 - "$D/policies/$SYSTEM.yaml" "$PGDIR" "$DBUSER" <<'PY'
import sys
p, pgdir, user = sys.argv[1:]
s = open(p, encoding="utf-8").read()
s = s.replace("  paths:\n", f"""    - name: hrdump
      type: postgresql
      host: {pgdir}
      user: {user}
      database: hr
  paths:
""", 1)
s += """    - hook: hrdump
      query: SELECT count(*) FROM staff
      min: 500
"""
open(p, "w", encoding="utf-8").write(s)
PY
yunbak policy check "$D/policies/$SYSTEM.yaml" >/dev/null || die "the policy with a dump hook does not check"
[ "$(api POST /v1/reload | json 'j["ok"]')" = True ] || die "the reload with a dump hook: $(cat "$D/body")"
backup "$SYSTEM" >/dev/null
YUNBAK_TEST_STOPWATCH_MS=7 run_drill 0 --tier 1 --json
python3 - "$SCRATCH/stdout" <<'PY' || die "the drill with a dump hook: $(cat "$SCRATCH/stdout")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["result"] == "passed", (r["failed_phase"], r["error"])
pg = {p["name"]: p for p in r["postgresql"]}
assert pg["db"]["value"] == 1200 and pg["db"]["mode"] == "physical", pg
assert pg["hrdump"]["value"] == 500 and pg["hrdump"]["mode"] == "dump", pg
assert pg["hrdump"]["database"] == "hr", pg
PY
# The history the last record carries: the four drills before it, oldest first.
[ "$(json '[h["result"] for h in j["history"]]' <"$SCRATCH/stdout")" = "['passed', 'passed', 'passed', 'passed']" ] ||
        die "the history: $(json 'j["history"]' <"$SCRATCH/stdout")"
stop_yunbakd
YUNBAKD_PID=
echo ok
