#!/bin/sh
# yunbakd runs tier 2 for a system whose policy has a postgresql hook in mode: physical: the
# replicator gets --postgresql NAME=CONNINFO (yb_hook_conninfo's string), its chain root is a base
# backup of the cluster, a commit's WAL reaches the tier-2 store within a few intervals, and
# /v1/status and 'yunbak status' show the hook's WAL positions as the replicator reported them.
. "$TESTS/integration/lib.sh"
command -v yunbakd >/dev/null || {
        echo "daemon-pg-replicate: yunbakd is not built (configure with -DYB_DAEMON=ON): skipped"
        exit 77
}
for tool in curl sqlite3 python3; do
        command -v "$tool" >/dev/null || {
                echo "daemon-pg-replicate: no $tool: skipped"
                exit 77
        }
done
. "$TESTS/integration/daemon-lib.sh"
. "$TESTS/integration/daemon-replicate-lib.sh"
. "$TESTS/integration/pg-lib.sh"
trap 'stop_left_yunbakd; pg_stop_all; cleanup' EXIT
export YUNBAK_SOCKET="$SOCK"

pg_init "$SCRATCH/pg"
pg_start "$PGDIR" -c max_slot_wal_keep_size=1GB
T2="$D/intracity"
mkdir -p "$T2"
daemon_config
sed -i "s|^    url: $D/store\$|&\n  intracity:\n    url: $T2|" "$D/yunbakd.yaml"
daemon_system hr 人社局 "" "" "tier2:
  store: intracity
  max_lag: 30s
  interval: 1s
  checkpoint: \"*-*-* 00:00:00 UTC\""
POLICY="$D/policies/hr.yaml"
sed -i "s|^  paths:|  hooks:\n    - name: db\n      type: postgresql\n      mode: physical\n      host: $PGDIR\n      user: $DBUSER\n  paths:|" "$POLICY"
yunbak policy check "$POLICY" >/dev/null || die "the policy with a physical hook does not check"
start_yunbakd

# The replicator runs with the hook, and its root is a base backup of the cluster.
until_t2 "(t.get('postgresql') or {}).get('db', {}).get('shipped_lsn') is not None" \
        "status shows no shipped WAL of hook db" 180
ps -eo args | grep -q "yunbak-agent replicate .*--postgresql=db=.*host='$PGDIR' user='$DBUSER'" ||
        die "the replicator's command line lacks --postgresql=db=CONNINFO: $(ps -eo args | grep 'yunbak-agent replicate')"
root=$(ls "$T2/hr/snapshots")
head -n 1 "$T2/hr/snapshots/$root/header" | python3 -c '
import json, sys
h = json.load(sys.stdin)
assert [p["name"] for p in h["postgresql"]] == ["db"], h' || die "the chain root $root is not a base backup"

# A commit reaches the store within a few intervals, and status says so.
sql postgres "CREATE TABLE marker (id int); INSERT INTO marker VALUES (1)"
lsn=$(sql postgres "SELECT pg_current_wal_lsn()")
LSN="(lambda s: (int(s.split('/')[0], 16) << 32) | int(s.split('/')[1], 16))"
until_t2 "$LSN(t['postgresql']['db']['shipped_lsn']) >= $LSN('$lsn')" "the commit's WAL is not shipped" 60
t2 "t['postgresql']['db']['slot']" | grep -qx reserved || die "status's slot is not reserved: $(t2 "t['postgresql']")"
yunbak status >"$SCRATCH/status.txt" || true
grep -q "WAL of db .*slot reserved .*shipped [0-9A-F]*/[0-9A-F]*, server [0-9A-F]*/[0-9A-F]*, received" \
        "$SCRATCH/status.txt" || { cat "$SCRATCH/status.txt" >&2; die "yunbak status shows no WAL positions"; }
stop_yunbakd
YUNBAKD_PID=
