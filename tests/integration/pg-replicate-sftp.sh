#!/bin/sh
# The issue's "store away for 2 minutes" with PostgreSQL WAL streamed to tier 2: the tier-2
# store is an SFTP server in a network namespace of its own (a real sshd), the replicator ships
# a cluster's WAL (--postgresql) while pgbench writes, and the link is black-holed (iptables
# DROP) until the replicator's own lag report passes 120 s. Meanwhile the store is reported
# unreachable and the lag unknown and growing; pg_receivewal goes on, so the WAL waits in the
# spool (received_lsn moves on, shipped_lsn does not) and in the slot; once the link is back the
# backlog ships, the chain's pieces put together equal the server's WAL files byte for byte, and
# a restore to a time T during the cut brings the cluster to T (the commit before it, not the one
# after).
# It runs over 2 minutes because the outage it checks is 2 minutes long (the issue's words), and
# measured by the replicator, never by the test's clock.
set -eu
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/pg-lib.sh"
. "$TESTS/integration/replicate-lib.sh"
. "$TESTS/integration/pg-wal-lib.sh"

SSH_DIR=$SCRATCH/ssh
NS=
finish() {
        set +e
        pgbench_stop
        kill_replicator
        [ -z "$NS" ] || ip netns exec "$NS" iptables -F INPUT 2>/dev/null
        ssh_finish
        pg_stop_all
        cleanup
}
trap finish EXIT
trap 'exit 1' HUP INT TERM
. "$TESTS/integration/ssh-lib.sh"
need_link_cut

wal_cluster "$SCRATCH/pg"
repl_setup
# The sshd runs as this user and writes the store: it must be able to reach it.
URL="sftp://$ME@$ADDR:$PORT$SCRATCH/store"
STORE="--store $URL --ssh-key $SSH_DIR/client_key --known-hosts $SSH_DIR/known_hosts"
# shellcheck disable=SC2086
start_replicator r $STORE --store-timeout 3s --system hr --public-key "$SCRATCH/keys/hr.pub" \
        --interval 1s --postgresql "db=$(conninfo postgres)" "$SRC"
repl_wait r 180 "L['event'] == 'root' and L['state'] == 'done'"
pgbench_start 900
sql postgres "CREATE TABLE marker (id int, note text); INSERT INTO marker VALUES (1, 'before the cut')"
wait_shipped r db "$(switch_wal)" 60

# --- The cut: two minutes without the store, pgbench writing ----------------------------------
ip netns exec "$NS" iptables -A INPUT -p tcp --dport "$PORT" -j DROP
t=$(now_ns)
repl_wait r 60 "L['event'] == 'store' and not L['reachable'] and L['time_ns'] > $t"
during=$(switch_wal) # a WAL file completed during the cut
# A time T during the cut, between two commits, for a point-in-time restore once the store is back.
sql postgres "INSERT INTO marker VALUES (11, 'during the cut, before T')"
T=$(sql postgres "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
sql postgres "INSERT INTO marker VALUES (12, 'during the cut, after T')"
repl_wait r 240 "L['event'] == 'lag' and not L['known'] and L['why'] == 'store-unreachable' and L['lag_ms'] >= 120000"
python3 - "$SCRATCH/r.jsonl" "$t" "$YUNBAK_AGENT_STATE_DIR/wal/hr/db" "$during" <<'PY' ||
import json, os, sys
def lsn(s):
    hi, lo = s.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)
t = int(sys.argv[2])
lines = [json.loads(l) for l in open(sys.argv[1]) if l.endswith("\n")]
down = next(i for i, L in enumerate(lines) if L["event"] == "store" and not L["reachable"] and L["time_ns"] > t)
lags = [L for L in lines[down + 1:] if L["event"] == "lag"]
assert len(lags) >= 100, len(lags)
assert all(not L["known"] and L["why"] == "store-unreachable" for L in lags), "known during the cut"
assert all(b["lag_ms"] >= a["lag_ms"] for a, b in zip(lags, lags[1:])), "the lag shrank"
assert not any(L["event"] == "segment" for L in lines[down + 1:]), "a segment during the cut"
p0, p1 = lags[0]["postgresql"]["db"], lags[-1]["postgresql"]["db"]
# The WAL waits in the spool: pg_receivewal went on receiving, nothing more was shipped.
assert p1["shipped_lsn"] == p0["shipped_lsn"], (p0, p1)
assert lsn(p1["received_lsn"]) > lsn(p1["shipped_lsn"]), p1
assert p1["slot"] in ("reserved", "extended"), p1
# The WAL file completed during the cut is in the spool, whole, unshipped.
SEG = 16 * 1024 * 1024
name = "%08X%08X%08X" % (1, (lsn(sys.argv[4]) // SEG - 1) // 256, (lsn(sys.argv[4]) // SEG - 1) % 256)
assert os.path.getsize(os.path.join(sys.argv[3], name)) == SEG, os.listdir(sys.argv[3])
PY
        die "the lag and the spool during the cut are not as documented"

# --- The link is back: the backlog ships, nothing is lost -------------------------------------
ip netns exec "$NS" iptables -F INPUT
t=$(now_ns)
repl_wait r 120 "L['event'] == 'store' and L['reachable'] and L['time_ns'] > $t"
pgbench_stop
sql postgres "INSERT INTO marker VALUES (2, 'after the cut')"
end=$(switch_wal)
wait_shipped r db "$end" 180
stop_replicator r
# shellcheck disable=SC2086
yunbak restore $STORE --system hr --key "$SCRATCH/keys/hr.key" --passphrase-file "$SCRATCH/pass" \
        --target "$SCRATCH/out" _pg/db >/dev/null || die "the chain's WAL did not restore"
# shellcheck disable=SC2086
set -- $(root_wal $STORE)
files=$(check_wal_pieces "$SCRATCH/out/_pg/db" "$end" "$1" "$2") || die "the shipped WAL is not the server's"
[ "$files" -ge 3 ] || die "only $files WAL files to compare"

# Restored to T from the tier-2 store: PostgreSQL recovers to T through the WAL shipped after
# the cut, with the commit before T and without the one after.
# shellcheck disable=SC2086
yunbak restore $STORE --system hr --key "$SCRATCH/keys/hr.key" --passphrase-file "$SCRATCH/pass" \
        --target "$SCRATCH/pitr" --at "$T" >"$SCRATCH/pitr.out" 2>&1 || {
        cat "$SCRATCH/pitr.out" >&2
        die "restore --at $T from the tier-2 store failed"
}
chmod 711 "$SCRATCH/pitr" "$SCRATCH/pitr/_pg"
pg_start "$SCRATCH/pitr/_pg/db"
i=0
until [ "$(sql_at "$SCRATCH/pitr/_pg/db" postgres "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ]; do
        i=$((i + 1))
        [ $i -lt 1200 ] || { cat "$SCRATCH/pitr/_pg/db/server.log" >&2; die "the restored cluster did not end its recovery"; }
        sleep 0.1
done
got=$(sql_at "$SCRATCH/pitr/_pg/db" postgres "SELECT string_agg(id::text, ',' ORDER BY id) FROM marker")
[ "$got" = "1,11" ] || die "restored to T during the cut, the markers are '$got', not '1,11'"
[ "$(sql_at "$SCRATCH/pitr/_pg/db" postgres "SELECT count(*) FROM pgbench_accounts")" = 100000 ] ||
        die "the cluster restored to T lost accounts"
echo "pg-replicate-sftp: $files WAL files from the root's start on equal the server's after a 2-minute cut"
