#!/bin/sh
# PostgreSQL WAL streamed to a tier-2 store (docs/postgresql.md, "WAL to tier 2"): the replicator
# with --postgresql runs pg_receivewal on the slot yunbak_hr_db into its spool, and ships the new
# bytes of each WAL file every interval as pieces of its segments, while pgbench writes. A commit
# reaches the store within a few intervals (polled, never timed); pg_receivewal killed with
# SIGKILL is said and restarted; the replicator stopped and started again makes a new chain that
# starts where the old one ended; and nothing is lost: after pgbench stops and a pg_switch_wal()
# is shipped, the root's WAL and the pieces of the newest chain, restored from the store and put
# together per WAL file, equal the server's own WAL files byte for byte. The lag reports the positions, the slot and
# the warning about an unlimited max_slot_wal_keep_size; the spool keeps only what is unshipped
# (and the newest completed file). A slot that loses WAL (max_slot_wal_keep_size) is said, made
# again, and a new root follows (wal-lost); a server that cannot be reached leaves the lag
# unknown (postgresql-unreachable) until it is back.
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

# --- The replicator stopped and started again while pgbench writes: the new chain starts where
#     the old one ended (or before), so no WAL falls between the two -----------------------------
stop_replicator r
last=$(python3 -c '
import json, sys
lags = [json.loads(l) for l in open(sys.argv[1]) if "\"postgresql\"" in l]
print([L for L in lags if L["postgresql"]["db"]["shipped_lsn"]][-1]["postgresql"]["db"]["shipped_lsn"])' "$SCRATCH/r.jsonl")
sql postgres "INSERT INTO marker VALUES (3, 'while stopped')"
start_replicator r2 --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
        --interval 1s --postgresql "db=$CONN" "$SRC"
repl_wait r2 120 "L['event'] == 'root' and L['state'] == 'done'"
wait_shipped r2 db "$(current_lsn)" 60

# --- The end: pgbench stops, the WAL file is switched and shipped ----------------------------
pgbench_stop
sql postgres "INSERT INTO marker VALUES (4, 'last')"
end=$(switch_wal)
wait_shipped r2 db "$end" 120
stop_replicator r2

# The spool keeps the newest completed WAL file (and what pg_receivewal writes now), no more.
n=$(find "$SPOOL" -name '[0-9A-F]*' ! -name '*.partial' | wc -l)
[ "$n" -le 1 ] || die "the spool keeps $n completed WAL files after they were all shipped: $(ls "$SPOOL")"

yunbak restore --store "$SCRATCH/store" --system hr --key "$SCRATCH/keys/hr.key" \
        --passphrase-file "$SCRATCH/pass" --target "$SCRATCH/out" _pg/db >/dev/null ||
        die "the chain's WAL did not restore"
set -- $(root_wal --store "$SCRATCH/store")
files=$(check_wal_pieces "$SCRATCH/out/_pg/db" "$end" "$1" "$2") || die "the shipped WAL is not the server's"
first=$(ls "$SCRATCH/out/_pg/db/wal" | sort | head -n 1)
python3 -c "
import sys
last, first = $(lsn_py "'$last'"), int('${first%%.*}'[8:16], 16) * 256 + int('${first%%.*}'[16:24], 16)
assert first * 16 * 1024 * 1024 <= last, 'the second chain starts at WAL file %s, after the first chain ended (%s)' % ('$first', '$last')
" || die "WAL fell between the two chains"
echo "pg-replicate: $files WAL files from the root's start on equal the server's"

# --- A slot that loses WAL: max_slot_wal_keep_size reached while pg_receivewal cannot read -----
# Said with the gap it leaves, the slot made again, and a new root (reason wal-lost) at once.
pg_stop "$PGDIR"
pg_start "$PGDIR" -c max_slot_wal_keep_size=16MB
start_replicator r3 --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
        --interval 1s --postgresql "db=$CONN" "$SRC"
repl_wait r3 120 "L['event'] == 'root' and L['state'] == 'done'"
wait_shipped r3 db "$(current_lsn)" 60
# The replicator held (SIGSTOP) so that it cannot restart pg_receivewal, which is killed: the
# slot is inactive while the server writes past max_slot_wal_keep_size and checkpoints.
rx=$(pgrep -P "$REPL_PID" -x pg_receivewal) || die "no pg_receivewal runs under the replicator"
kill -STOP "$REPL_PID"
kill -KILL "$rx"
i=0
until [ "$(sql postgres "SELECT active FROM pg_replication_slots WHERE slot_name = 'yunbak_hr_db'")" = f ]; do
        i=$((i + 1))
        [ $i -lt 600 ] || die "the slot stayed active after pg_receivewal was killed"
        sleep 0.1
done
for i in 1 2 3 4; do
        sql postgres "INSERT INTO marker VALUES (10 + $i, 'filler')"
        sql postgres "SELECT pg_switch_wal()" >/dev/null
done
sql postgres "CHECKPOINT"
[ "$(sql postgres "SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'yunbak_hr_db'")" = lost ] ||
        die "the slot did not lose WAL: $(sql postgres "SELECT wal_status FROM pg_replication_slots")"
kill -CONT "$REPL_PID"
repl_wait r3 60 "L['event'] == 'error' and \"slot 'yunbak_hr_db' lost WAL\" in L['message'] and 'gap from the last shipped LSN' in L['message']"
repl_wait r3 120 "L['event'] == 'root' and L['state'] == 'done' and L['reason'] == 'wal-lost'"
[ "$(sql postgres "SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'yunbak_hr_db'")" = reserved ] ||
        die "the slot was not made again"
sql postgres "INSERT INTO marker VALUES (20, 'after the loss')"
wait_shipped r3 db "$(current_lsn)" 60

# --- The server away: its WAL position unknown, so is the lag; then it comes back -------------
pg_stop "$PGDIR"
t=$(now_ns)
repl_wait r3 60 "L['event'] == 'lag' and L['time_ns'] > $t and not L['known'] and L['why'] == 'postgresql-unreachable' and L['postgresql']['db']['server_lsn'] is None"
pg_start "$PGDIR" -c max_slot_wal_keep_size=16MB
sql postgres "INSERT INTO marker VALUES (21, 'after the restart')"
wait_shipped r3 db "$(current_lsn)" 120
t=$(now_ns)
repl_wait r3 60 "L['event'] == 'lag' and L['time_ns'] > $t and L['known']"
stop_replicator r3
