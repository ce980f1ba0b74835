#!/bin/sh
# Restore to any second (issue 12): pgbench runs throughout a physical full and an incremental;
# at 5 times T during the run (and one after it) the test notes sum(abalance), the other sums and the counts of all
# four pgbench tables exactly at T; then `yunbak restore --at T`, PostgreSQL started on the
# restored data directory (as the server's user, on its own socket directory), and the same
# numbers: equal, every time. --latest reaches the end, --snapshot the base's own end; a time
# older than every base is refused naming the oldest base's consistent-from time; a damaged WAL
# piece fails the restore, named. The WAL after each base comes from the tier-1 archive
# (archive_command = yunbak-agent wal-archive); without it, only what the bases hold is tested
# (a time between two bases then names the gap), and the test says so and is skipped.
#
# An exact T while pgbench runs: in one transaction, LOCK TABLE pgbench_accounts IN EXCLUSIVE
# MODE (every pgbench transaction updates accounts first, so once the lock is held none is
# between its first statement and its commit), read the numbers, then clock_timestamp() as T,
# then COMMIT: every commit before T is in the numbers, none after.
#
# It runs some 60-90 s: 7 restores of a cluster, each started and recovered by PostgreSQL.
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/pg-lib.sh"

ARCHIVE=""
if yunbak-agent wal-archive --help >/dev/null 2>&1; then
        ARCHIVE=yes
fi

STORE="$SCRATCH/store"
mkdir -p "$STORE" "$YUNBAK_AGENT_STATE_DIR"
make_key hr
# The server's user runs the backups too, so that they and its archive_command write one store.
if is_root; then
        chown nobody:nogroup "$STORE" "$YUNBAK_AGENT_STATE_DIR"
        chmod 644 "$SCRATCH/keys/hr.pub"
fi
pg_init "$SCRATCH/pg"
if [ -n "$ARCHIVE" ]; then
        pg_start "$PGDIR" -c archive_mode=on -c "archive_command='$BIN/yunbak-agent wal-archive --store $STORE --system hr --public-key $SCRATCH/keys/hr.pub --postgresql db %p %f'"
else
        pg_start "$PGDIR"
fi
CONN=$(conninfo postgres)
PGB="pgbench -h $PGDIR -U $DBUSER"
$PGB -i -s 2 -q postgres >"$SCRATCH/pgbench-init.log" 2>&1 || {
        cat "$SCRATCH/pgbench-init.log" >&2
        die "pgbench -i failed"
}

backup() { # LEVEL
        as_pg yunbak-agent backup --store "$STORE" --system hr --public-key "$SCRATCH/keys/hr.pub" \
                --level "$1" --json --postgresql "db=$CONN" >"$SCRATCH/$1.json" 2>"$SCRATCH/$1.err" || {
                cat "$SCRATCH/$1.err" >&2
                die "the $1 base backup failed"
        }
        python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot"])' "$SCRATCH/$1.json"
}
restore() { # TARGET ARGS...: exit status in $RC, stdout/stderr in $SCRATCH/{stdout,stderr}
        t=$1
        shift
        rm -rf "$t"
        set +e
        yunbak restore --store "$STORE" --system hr --key "$SCRATCH/keys/hr.key" \
                --passphrase-file "$SCRATCH/pass" --target "$t" --json "$@" >"$SCRATCH/stdout" 2>"$SCRATCH/stderr"
        RC=$?
        set -e
}
# The numbers a time is checked by: every balance sum and every table's count.
NUMBERS="SELECT (SELECT sum(abalance) || ' ' || count(*) FROM pgbench_accounts) || ' ' ||
        (SELECT sum(bbalance) || ' ' || count(*) FROM pgbench_branches) || ' ' ||
        (SELECT sum(tbalance) || ' ' || count(*) FROM pgbench_tellers) || ' ' ||
        (SELECT coalesce(sum(delta), 0) || ' ' || count(*) FROM pgbench_history)"
# take_t I: the numbers exactly at a time T, into t$I.numbers and t$I.time.
take_t() {
        psql -X -q -At -v ON_ERROR_STOP=1 --dbname="$CONN" >"$SCRATCH/t$1.out" <<EOF
BEGIN;
LOCK TABLE pgbench_accounts IN EXCLUSIVE MODE;
$NUMBERS;
SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
COMMIT;
EOF
        sed -n 1p "$SCRATCH/t$1.out" >"$SCRATCH/t$1.numbers"
        sed -n 2p "$SCRATCH/t$1.out" >"$SCRATCH/t$1.time"
        grep -q '^20..-..-..T..:..:..\.[0-9]\{6\}Z$' "$SCRATCH/t$1.time" || die "no time T: $(cat "$SCRATCH/t$1.out")"
}
# wait_tx N: until pgbench has committed N more transactions (bounded).
wait_tx() {
        want=$(($(sql postgres "SELECT count(*) FROM pgbench_history") + $1))
        n=0
        until [ "$(sql postgres "SELECT count(*) FROM pgbench_history")" -ge $want ]; do
                n=$((n + 1))
                [ $n -lt 1200 ] || die "pgbench did not commit $1 transactions in 2 minutes"
                kill -0 $BENCH 2>/dev/null || { cat "$SCRATCH/pgbench.log" >&2; die "pgbench ended"; }
                sleep 0.1
        done
}
# start_restored OUT: starts the cluster restored into OUT as its owner on its own socket
# directory and waits until its recovery is over (bounded), or fails with its log.
start_restored() {
        chmod 711 "$1" "$1/_pg"
        pg_start "$1/_pg/db"
        n=0
        while :; do
                r=$(sql_at "$1/_pg/db" postgres "SELECT pg_is_in_recovery()" 2>/dev/null || echo down)
                [ "$r" = f ] && break
                if [ "$r" = down ] && ! as_pg pg_ctl -D "$1/_pg/db/data" status >/dev/null 2>&1; then
                        cat "$1/_pg/db/server.log" >&2
                        die "the cluster restored into $1 stopped during recovery"
                fi
                n=$((n + 1))
                [ $n -lt 1200 ] || die "the cluster restored into $1 did not end its recovery in 2 minutes"
                sleep 0.1
        done
}
json() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$SCRATCH/stdout" "$1"; }

# 1. pgbench throughout a full and an incremental; five times T between and after them.
$PGB -c 2 -T 1200 postgres >"$SCRATCH/pgbench.log" 2>&1 &
BENCH=$!
trap 'kill $BENCH 2>/dev/null || true; pg_stop_all; cleanup' EXIT
wait_tx 100
T0=$(sql postgres "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
FULL=$(backup full)
wait_tx 200
take_t 1
wait_tx 200
take_t 2
wait_tx 200
INCR=$(backup incremental)
wait_tx 200
take_t 3
wait_tx 200
take_t 4
wait_tx 200
take_t 5
wait_tx 200
kill -0 $BENCH 2>/dev/null || die "pgbench did not run throughout"
kill $BENCH
wait $BENCH || true
# T6 after the last transaction: the WAL holds none after it, so the end of the WAL is T6's
# state (PostgreSQL would refuse T6 as a target: no transaction ends after it).
take_t 6
cp "$SCRATCH/t6.numbers" "$SCRATCH/end.numbers"
if [ -n "$ARCHIVE" ]; then
        # Everything written so far, archived (bounded wait).
        last=$(sql postgres "SELECT pg_walfile_name(pg_switch_wal())")
        i=0
        until [ "$(sql postgres "SELECT coalesce(last_archived_wal, '') >= '$last' FROM pg_stat_archiver")" = t ]; do
                i=$((i + 1))
                [ $i -lt 1200 ] || die "WAL file $last was not archived in 2 minutes: $(sql postgres "SELECT * FROM pg_stat_archiver")"
                sleep 0.1
        done
fi

# 2. A time older than every base: refused, naming the oldest base's consistent-from time.
restore "$SCRATCH/out0" --at "$T0"
[ "$RC" = 1 ] || die "--at before the first base: exit $RC"
grep -Eq "older than every base backup of PostgreSQL hook 'db' \(system 'hr'\): the oldest is consistent from 20" "$SCRATCH/stderr" ||
        die "--at before the first base: $(cat "$SCRATCH/stderr")"
[ ! -e "$SCRATCH/out0" ] || die "--at before the first base wrote something"

# 3. The base's own end: --snapshot starts without recovery.signal and holds every account.
restore "$SCRATCH/out-full" --snapshot "$FULL"
[ "$RC" = 0 ] || { cat "$SCRATCH/stderr" >&2; die "--snapshot $FULL: exit $RC"; }
[ "$(json 'd["postgresql"][0]["recovery"]')" = crash ] || die "--snapshot: $(cat "$SCRATCH/stdout")"
[ ! -e "$SCRATCH/out-full/_pg/db/data/recovery.signal" ] || die "--snapshot wrote recovery.signal"
start_restored "$SCRATCH/out-full"
[ "$(sql_at "$SCRATCH/out-full/_pg/db" postgres "SELECT count(*) FROM pgbench_accounts")" = 200000 ] ||
        die "the base restored alone lost accounts"
pg_stop "$SCRATCH/out-full/_pg/db"
rm -rf "$SCRATCH/out-full"

if [ -z "$ARCHIVE" ]; then
        # Without WAL after the bases, a time between them cannot be reached: the gap is named.
        restore "$SCRATCH/out1" --at "$(cat "$SCRATCH/t1.time")"
        [ "$RC" = 1 ] || { cat "$SCRATCH/stderr" >&2; die "--at T1 without WAL: exit $RC"; }
        grep -Eq "cannot be recovered to --at: the stored WAL has a gap: WAL file [0-9A-F]{24} (is missing|holds its first [0-9]+ bytes only).*the latest time it reaches is 20" "$SCRATCH/stderr" ||
                die "the gap is not named: $(cat "$SCRATCH/stderr")"
        echo "pg-pitr: restores to a time need WAL after the bases (yunbak-agent wal-archive), not built here: skipped"
        exit 77
fi

# 4. Each T, exactly: the restored cluster's numbers are the ones noted at T.
for i in 1 2 3 4 5 6; do
        T=$(cat "$SCRATCH/t$i.time")
        restore "$SCRATCH/out$i" --at "$T"
        [ "$RC" = 0 ] || { cat "$SCRATCH/stderr" >&2; die "restore --at T$i ($T): exit $RC"; }
        want_base=$FULL
        [ $i -le 2 ] || want_base=$INCR
        [ "$(json 'd["postgresql"][0]["base"]')" = "$want_base" ] ||
                die "T$i: base $(json 'd["postgresql"][0]["base"]'), not $want_base"
        [ "$(json 'd["postgresql"][0]["wal_files"] > 0')" = True ] || die "T$i: no WAL laid out"
        if [ $i = 6 ]; then
                json 'd["postgresql"][0]["recovery"] + ": " + d["postgresql"][0]["why"]' |
                        grep -q "^end: the end of the WAL is the state at .*: no transaction committed between " ||
                        die "T6: $(cat "$SCRATCH/stdout")"
        fi
        [ -f "$SCRATCH/out$i/_pg/db/data/recovery.signal" ] || die "T$i: no recovery.signal"
        grep -q "^restore_command = 'cp \"$SCRATCH/out$i/_pg/db/wal/%f\" \"%p\"'$" "$SCRATCH/out$i/_pg/db/data/postgresql.auto.conf" ||
                die "T$i: restore_command: $(cat "$SCRATCH/out$i/_pg/db/data/postgresql.auto.conf")"
        echo "T$i: $(json 'd["postgresql"][0]["recovery"] + ": " + d["postgresql"][0]["why"]')"
        start_restored "$SCRATCH/out$i"
        got=$(sql_at "$SCRATCH/out$i/_pg/db" postgres "$NUMBERS")
        [ "$got" = "$(cat "$SCRATCH/t$i.numbers")" ] ||
                die "T$i ($T, recovery $(json 'd["postgresql"][0]["recovery"]')): restored '$got', at T '$(cat "$SCRATCH/t$i.numbers")'"
        pg_stop "$SCRATCH/out$i/_pg/db"
        rm -rf "$SCRATCH/out$i"
done

# 5. --latest: the newest base and all the WAL, to its end: the numbers when pgbench stopped.
#    In words this time: what was written and how to start it.
rm -rf "$SCRATCH/out-latest"
yunbak restore --store "$STORE" --system hr --key "$SCRATCH/keys/hr.key" --passphrase-file "$SCRATCH/pass" \
        --target "$SCRATCH/out-latest" --latest >"$SCRATCH/stdout" 2>"$SCRATCH/stderr" || {
        cat "$SCRATCH/stderr" >&2
        die "--latest failed"
}
cat "$SCRATCH/stdout"
D="$SCRATCH/out-latest/_pg/db/data"
for line in "^PostgreSQL hook 'db': data directory $D\$" \
        "^  from base backup $INCR, consistent from 20" \
        "^  [0-9]+ WAL files in $SCRATCH/out-latest/_pg/db/wal, up to LSN [0-9A-F]+/[0-9A-F]+; recovery.signal and postgresql.auto.conf written\$" \
        "^  recovers to the end of the WAL: --latest: all the WAL stored\$" \
        "^  start it as user '$DBUSER': pg_ctl -D $D -l LOGFILE start\$"; do
        grep -Eq "$line" "$SCRATCH/stdout" || die "--latest did not say /$line/"
done
! grep -q "^recovery_target_time = '2" "$D/postgresql.auto.conf" || die "--latest wrote a target"
start_restored "$SCRATCH/out-latest"
[ "$(sql_at "$SCRATCH/out-latest/_pg/db" postgres "$NUMBERS")" = "$(cat "$SCRATCH/end.numbers")" ] ||
        die "--latest did not reach the end"
pg_stop "$SCRATCH/out-latest/_pg/db"
rm -rf "$SCRATCH/out-latest"

# 6. A damaged WAL piece: named, and the restore fails rather than recover less in silence.
vol=$(find "$STORE/hr/segments/$INCR" -name 'vol-*' | sort | tail -n 1)
[ -n "$vol" ] || die "no archived WAL in the incremental's chain"
seg=$(basename "$(dirname "$vol")")
printf 'X' | dd of="$vol" bs=1 seek=200 conv=notrunc 2>/dev/null
restore "$SCRATCH/out-bad" --at "$(cat "$SCRATCH/t5.time")"
[ "$RC" = 5 ] || { cat "$SCRATCH/stderr" >&2; die "a damaged WAL piece: exit $RC, not 5"; }
grep -q "PostgreSQL hook 'db': '_pg/db/wal/[0-9A-F]\{24\}.*$seg" "$SCRATCH/stderr" ||
        die "the damaged piece is not named with its segment $seg: $(cat "$SCRATCH/stderr")"
[ ! -e "$SCRATCH/out-bad/_pg/db/data/recovery.signal" ] || die "a restore with damaged WAL wrote recovery settings"
echo "pg-pitr: ok"
