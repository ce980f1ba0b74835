#!/bin/sh
# PostgreSQL WAL streamed to a tier-2 store (docs/postgresql.md, "WAL to tier 2"): the replicator
# with --postgresql runs pg_receivewal on the slot yunbak_hr_db into its spool, and ships the new
# bytes of each WAL file every interval as pieces of its segments, while pgbench writes. A commit
# reaches the store within a few intervals (polled, never timed); pg_receivewal killed with
# SIGKILL is said and restarted, and nothing is lost: after pgbench stops and a pg_switch_wal()
# is shipped, the pieces of the chain, restored from the store and put together per WAL file,
# equal the server's own WAL files byte for byte. The lag reports the positions, the slot and
# the warning about an unlimited max_slot_wal_keep_size; the spool keeps only what is unshipped
# (and the newest completed file).
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/pg-lib.sh"
. "$TESTS/integration/replicate-lib.sh"
. "$TESTS/integration/pg-wal-lib.sh"
trap 'pgbench_stop; kill_replicator; pg_stop_all; cleanup' EXIT

wal_cluster "$SCRATCH/pg"
repl_setup
CONN=$(conninfo postgres)
STATE=$YUNBAK_AGENT_STATE_DIR
SPOOL=$STATE/wal/hr/db

start_replicator r --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
        --interval 1s --postgresql "db=$CONN" "$SRC"
# The server's max_slot_wal_keep_size is -1: a warning says what a long outage does.
repl_wait r 60 "L['event'] == 'warning' and 'max_slot_wal_keep_size' in L['message'] and 'without bound' in L['message']"
repl_wait r 120 "L['event'] == 'root' and L['state'] == 'done'"
[ "$(sql postgres "SELECT slot_type FROM pg_replication_slots WHERE slot_name = 'yunbak_hr_db'")" = physical ] ||
        die "no physical slot yunbak_hr_db on the server"
pgrep -P "$REPL_PID" -x pg_receivewal >/dev/null || die "no pg_receivewal runs under the replicator"

# --- pgbench writes; a commit reaches the store within a few intervals ------------------------
pgbench_start 600
sql postgres "CREATE TABLE marker (id int, note text); INSERT INTO marker VALUES (1, 'first')"
lsn1=$(current_lsn)
wait_shipped r db "$lsn1" 60
# A completed WAL file too (pgbench alone would take minutes to fill one).
wait_shipped r db "$(switch_wal)" 60
python3 - "$SCRATCH/r.jsonl" <<'PY' || die "the lag's postgresql fields are not as documented"
import json, sys
lags = [json.loads(l) for l in open(sys.argv[1]) if '"event":"lag"' in l]
p = lags[-1]["postgresql"]["db"]
assert set(p) == {"server_lsn", "received_lsn", "shipped_lsn", "slot", "safe_wal_size"}, p
assert p["slot"] in ("reserved", "extended"), p
assert p["safe_wal_size"] is None, p  # max_slot_wal_keep_size = -1
assert all(isinstance(p[k], str) and "/" in p[k] for k in ("server_lsn", "received_lsn", "shipped_lsn")), p
segs = [json.loads(l) for l in open(sys.argv[1]) if '"event":"segment"' in l]
assert any(s["wal_bytes"] > 0 for s in segs), "no segment shipped WAL"
PY

# --- pg_receivewal killed: said, restarted, nothing lost --------------------------------------
pid=$(pgrep -P "$REPL_PID" -x pg_receivewal)
t=$(now_ns)
kill -KILL "$pid"
repl_wait r 60 "L['event'] == 'error' and L['time_ns'] > $t and 'pg_receivewal was killed by signal 9' in L['message'] and 'restarted' in L['message']"
i=0
until new=$(pgrep -P "$REPL_PID" -x pg_receivewal) && [ "$new" != "$pid" ]; do
        i=$((i + 1))
        [ $i -lt 600 ] || die "pg_receivewal was not restarted"
        sleep 0.1
done
sql postgres "INSERT INTO marker VALUES (2, 'after the kill')"
wait_shipped r db "$(current_lsn)" 60

# --- The end: pgbench stops, the WAL file is switched and shipped ----------------------------
pgbench_stop
sql postgres "INSERT INTO marker VALUES (3, 'last')"
end=$(switch_wal)
wait_shipped r db "$end" 120
stop_replicator r

# The spool keeps the newest completed WAL file (and what pg_receivewal writes now), no more.
n=$(find "$SPOOL" -name '[0-9A-F]*' ! -name '*.partial' | wc -l)
[ "$n" -le 1 ] || die "the spool keeps $n completed WAL files after they were all shipped: $(ls "$SPOOL")"

yunbak restore --store "$SCRATCH/store" --system hr --key "$SCRATCH/keys/hr.key" \
        --passphrase-file "$SCRATCH/pass" --target "$SCRATCH/out" _pg/db >/dev/null ||
        die "the chain's WAL did not restore"
set -- $(root_wal --store "$SCRATCH/store")
files=$(check_wal_pieces "$SCRATCH/out/_pg/db" "$end" "$1" "$2") || die "the shipped WAL is not the server's"
echo "pg-replicate: $files WAL files from the root's start on equal the server's"
