#!/bin/sh
# Restore to any second (issue 12): pgbench runs throughout a physical full and an incremental;
# at 5 times T during the run (and one after it) the test notes sum(abalance), the other sums
# and the counts of all four pgbench tables exactly at T; then `yunbak restore --at T`,
# PostgreSQL started on the restored data directory (as the server's user, on its own socket
# directory), and the same numbers: equal, every time. The WAL after the bases comes from each
# source built here, tested side by side in the one run:
#   t1  the tier-1 store: backups (full, incremental) and archive_command = yunbak-agent
#       wal-archive, whole WAL files in each base's chain;
#   t2  the tier-2 store: yunbak-agent replicate --postgresql, its roots the bases (the second
#       by a checkpoint), pieces of WAL every second.
# Also: --latest reaches the end (said in words), --snapshot the base's own end; a time older
# than every base is refused naming the oldest base's consistent-from time; a damaged WAL piece
# fails the restore, named. Without any WAL source only what the bases hold is tested (a time
# between two bases names the gap), and the test says so and is skipped.
#
# An exact T while pgbench runs: in one transaction, LOCK TABLE pgbench_accounts IN EXCLUSIVE
# MODE (every pgbench transaction updates accounts first, so once the lock is held none is
# between its first statement and its commit), read the numbers, then clock_timestamp() as T,
# then COMMIT: every commit before T is in the numbers, none after.
#
# It runs some 2 minutes with both sources: each of the 12 restores at a time is a cluster
# started and recovered by PostgreSQL, which is what the test is for.
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/pg-lib.sh"
. "$TESTS/integration/replicate-lib.sh"
. "$TESTS/integration/pg-wal-lib.sh"

SOURCES=""
! yunbak-agent wal-archive --help >/dev/null 2>&1 || SOURCES="t1"
! yunbak-agent replicate --help 2>&1 | grep -q -- --postgresql || SOURCES="${SOURCES:+$SOURCES }t2"

STORE="$SCRATCH/store"   # tier 1
STORE2="$SCRATCH/store2" # tier 2
mkdir -p "$STORE" "$STORE2" "$YUNBAK_AGENT_STATE_DIR"
make_key hr
# The server's user makes the tier-1 backups too, so that they and its archive_command write one
# store; the replicator runs as the test's user.
if is_root; then
        chown nobody:nogroup "$STORE" "$YUNBAK_AGENT_STATE_DIR"
        chmod 644 "$SCRATCH/keys/hr.pub"
fi
pg_init "$SCRATCH/pg"
case $SOURCES in
*t1*) # In postgresql.conf, as a DBA sets it: so every restored cluster inherits it, and must
        # not archive (the restore turns archive_mode off; checked below).
        printf "archive_mode = on\narchive_command = '%s'\n" \
                "$BIN/yunbak-agent wal-archive --store $STORE --system hr --public-key $SCRATCH/keys/hr.pub --postgresql db %p %f" \
                >>"$PGDIR/data/postgresql.conf" ;;
esac
pg_start "$PGDIR"
CONN=$(conninfo postgres)
pgbench -i -s 2 -q "$CONN" >"$SCRATCH/pgbench-init.log" 2>&1 || {
        cat "$SCRATCH/pgbench-init.log" >&2
        die "pgbench -i failed"
}
trap 'pgbench_stop; kill_replicator; pg_stop_all; cleanup' EXIT

backup() { # LEVEL: a tier-1 base backup; prints its id
        as_pg yunbak-agent backup --store "$STORE" --system hr --public-key "$SCRATCH/keys/hr.pub" \
                --level "$1" --json --postgresql "db=$CONN" >"$SCRATCH/$1.json" 2>"$SCRATCH/$1.err" || {
                cat "$SCRATCH/$1.err" >&2
                die "the $1 base backup failed"
        }
        python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot"])' "$SCRATCH/$1.json"
}
store_of() { if [ "$1" = t2 ]; then echo "$STORE2"; else echo "$STORE"; fi; }
restore() { # SOURCE TARGET ARGS...: exit status in $RC, stdout/stderr in $SCRATCH/{stdout,stderr}
        s=$(store_of "$1")
        t=$2
        shift 2
        rm -rf "$t"
        set +e
        yunbak restore --store "$s" --system hr --key "$SCRATCH/keys/hr.key" \
                --passphrase-file "$SCRATCH/pass" --target "$t" --json "$@" >"$SCRATCH/stdout" 2>"$SCRATCH/stderr"
        RC=$?
        set -e
}
# The numbers a time is checked by: every balance sum and every table's count.
NUMBERS="SELECT (SELECT sum(abalance) || ' ' || count(*) FROM pgbench_accounts) || ' ' ||
        (SELECT sum(bbalance) || ' ' || count(*) FROM pgbench_branches) || ' ' ||
        (SELECT sum(tbalance) || ' ' || count(*) FROM pgbench_tellers) || ' ' ||
        (SELECT coalesce(sum(delta), 0) || ' ' || count(*) FROM pgbench_history)"
NOW="SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
# take_t I: the numbers exactly at a time T, into t$I.numbers and t$I.time.
take_t() {
        psql -X -q -At -v ON_ERROR_STOP=1 --dbname="$CONN" >"$SCRATCH/t$1.out" <<EOF
BEGIN;
LOCK TABLE pgbench_accounts IN EXCLUSIVE MODE;
$NUMBERS;
$NOW;
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
                kill -0 "$PGBENCH_PID" 2>/dev/null || { cat "$SCRATCH/pgbench.log" >&2; die "pgbench ended"; }
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
        # Its postgresql.conf is the source's, archive_command included: it must not archive.
        [ "$(sql_at "$1/_pg/db" postgres "SHOW archive_mode")" = off ] ||
                die "the cluster restored into $1 archives into the store it came from"
}
json() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$SCRATCH/stdout" "$1"; }

# 1. pgbench throughout a full and an incremental (t1), a root and a checkpoint (t2); five
#    times T between and after them, and a sixth once pgbench has stopped.
pgbench_start 1200
wait_tx 100
T0=$(sql postgres "$NOW")
FULL=""
INCR=""
case $SOURCES in *t1*) FULL=$(backup full) ;; "") FULL=$(backup full) ;; esac
case $SOURCES in *t2*)
        start_replicator r --store "$STORE2" --system hr --public-key "$SCRATCH/keys/hr.pub" \
                --interval 1s --postgresql "db=$CONN"
        repl_wait r 120 "L['event'] == 'root' and L['state'] == 'done'"
        ;;
esac
wait_tx 200
take_t 1
wait_tx 200
take_t 2
wait_tx 200
case $SOURCES in *t1*) INCR=$(backup incremental) ;; "") INCR=$(backup incremental) ;; esac
case $SOURCES in *t2*)
        # At once, with T2's WAL perhaps not yet shipped in the old chain: the new chain's first
        # segment ships from the first byte the old chain lacked, so nothing falls between.
        repl_send r '{"cmd":"checkpoint"}'
        repl_wait r 120 "len([x for x in lines if x['event'] == 'root' and x['state'] == 'done']) >= 2"
        ;;
esac
wait_tx 200
take_t 3
wait_tx 200
take_t 4
wait_tx 200
take_t 5
wait_tx 200
kill -0 "$PGBENCH_PID" 2>/dev/null || die "pgbench did not run throughout"
pgbench_stop
# T6 after the last transaction: the WAL holds none after it, so the end of the WAL is T6's
# state (PostgreSQL would refuse T6 as a target: no transaction ends after it).
take_t 6
cp "$SCRATCH/t6.numbers" "$SCRATCH/end.numbers"
# Everything written so far, archived and shipped (bounded waits).
end=$(switch_wal)
last=$(sql postgres "SELECT pg_walfile_name('$end'::pg_lsn - 1)")
case $SOURCES in *t1*)
        n=0
        until [ "$(sql postgres "SELECT coalesce(last_archived_wal, '') >= '$last' FROM pg_stat_archiver")" = t ]; do
                n=$((n + 1))
                [ $n -lt 1200 ] || die "WAL file $last was not archived in 2 minutes: $(sql postgres "SELECT * FROM pg_stat_archiver")"
                sleep 0.1
        done
        ;;
esac
case $SOURCES in *t2*)
        wait_shipped r db "$end" 120
        stop_replicator r
        ;;
esac
for FIRST in $SOURCES t1; do break; done # the first source built (t1 without any)

# 2. A time older than every base: refused, naming the oldest base's consistent-from time.
restore "$FIRST" "$SCRATCH/out0" --at "$T0"
[ "$RC" = 1 ] || die "--at before the first base: exit $RC"
grep -Eq "older than every base backup of PostgreSQL hook 'db' \(system 'hr'\): the oldest is consistent from 20" "$SCRATCH/stderr" ||
        die "--at before the first base: $(cat "$SCRATCH/stderr")"
[ ! -e "$SCRATCH/out0" ] || die "--at before the first base wrote something"

# 3. The base's own end: --snapshot starts without recovery.signal and holds every account.
if [ -n "$FULL" ]; then
        restore t1 "$SCRATCH/out-full" --snapshot "$FULL"
        [ "$RC" = 0 ] || { cat "$SCRATCH/stderr" >&2; die "--snapshot $FULL: exit $RC"; }
        [ "$(json 'd["postgresql"][0]["recovery"]')" = crash ] || die "--snapshot: $(cat "$SCRATCH/stdout")"
        [ ! -e "$SCRATCH/out-full/_pg/db/data/recovery.signal" ] || die "--snapshot wrote recovery.signal"
        start_restored "$SCRATCH/out-full"
        [ "$(sql_at "$SCRATCH/out-full/_pg/db" postgres "SELECT count(*) FROM pgbench_accounts")" = 200000 ] ||
                die "the base restored alone lost accounts"
        pg_stop "$SCRATCH/out-full/_pg/db"
        rm -rf "$SCRATCH/out-full"
fi

if [ -z "$SOURCES" ]; then
        # Without WAL after the bases, a time between them cannot be reached: the gap is named.
        restore t1 "$SCRATCH/out1" --at "$(cat "$SCRATCH/t1.time")"
        [ "$RC" = 1 ] || { cat "$SCRATCH/stderr" >&2; die "--at T1 without WAL: exit $RC"; }
        grep -Eq "cannot be recovered to --at: the stored WAL has a gap: WAL file [0-9A-F]{24} (is missing|holds its first [0-9]+ bytes only).*the latest time it reaches is 20" "$SCRATCH/stderr" ||
                die "the gap is not named: $(cat "$SCRATCH/stderr")"
        echo "pg-pitr: restores to a time need WAL after the bases (yunbak-agent wal-archive or replicate --postgresql), neither is built here: skipped"
        exit 77
fi

# 4. Each T from each store, exactly: the restored cluster's numbers are the ones noted at T.
for src in $SOURCES; do
        for i in 1 2 3 4 5 6; do
                T=$(cat "$SCRATCH/t$i.time")
                out="$SCRATCH/$src-out$i"
                restore "$src" "$out" --at "$T"
                [ "$RC" = 0 ] || { cat "$SCRATCH/stderr" >&2; die "$src: restore --at T$i ($T): exit $RC"; }
                base=$(json 'd["postgresql"][0]["base"]')
                case $i in
                1) first_base=$base ;;
                2) [ "$base" = "$first_base" ] || die "$src: T1 and T2 have other bases" ;;
                *) [ "$base" != "$first_base" ] || die "$src: T$i has the first base, not the second" ;;
                esac
                [ "$src" != t1 ] || [ "$base" = "$FULL" ] || [ "$base" = "$INCR" ] || die "$src: T$i: base $base"
                [ "$(json 'd["postgresql"][0]["wal_files"] > 0')" = True ] || die "$src: T$i: no WAL laid out"
                [ -f "$out/_pg/db/data/recovery.signal" ] || die "$src: T$i: no recovery.signal"
                grep -q "^restore_command = 'cp \"$out/_pg/db/wal/%f\" \"%p\"'$" "$out/_pg/db/data/postgresql.auto.conf" ||
                        die "$src: T$i: restore_command: $(cat "$out/_pg/db/data/postgresql.auto.conf")"
                why=$(json 'd["postgresql"][0]["recovery"] + ": " + d["postgresql"][0]["why"]')
                echo "$src T$i: $why"
                if [ $i = 6 ]; then
                        echo "$why" | grep -q "^end: the end of the WAL is the state at .*: no transaction committed between " ||
                                die "$src: T6: $why"
                fi
                start_restored "$out"
                got=$(sql_at "$out/_pg/db" postgres "$NUMBERS")
                [ "$got" = "$(cat "$SCRATCH/t$i.numbers")" ] ||
                        die "$src: T$i ($T, $why): restored '$got', at T '$(cat "$SCRATCH/t$i.numbers")'"
                pg_stop "$out/_pg/db"
                rm -rf "$out"
        done
done

# 5. --latest: the newest base and all the WAL, to its end: the numbers when pgbench stopped.
#    In words this time: what was written and how to start it.
rm -rf "$SCRATCH/out-latest"
yunbak restore --store "$(store_of "$FIRST")" --system hr --key "$SCRATCH/keys/hr.key" --passphrase-file "$SCRATCH/pass" \
        --target "$SCRATCH/out-latest" --latest >"$SCRATCH/stdout" 2>"$SCRATCH/stderr" || {
        cat "$SCRATCH/stderr" >&2
        die "--latest failed"
}
D="$SCRATCH/out-latest/_pg/db/data"
for line in "^PostgreSQL hook 'db': data directory $D\$" \
        "^  from base backup [0-9T]+Z-[0-9a-f]+, consistent from 20" \
        "^  [0-9]+ WAL files? in $SCRATCH/out-latest/_pg/db/wal, up to LSN [0-9A-F]+/[0-9A-F]+; recovery.signal and postgresql.auto.conf written\$" \
        "^  recovers to the end of the WAL: --latest: all the WAL stored\$" \
        "^  start it as user '$DBUSER': pg_ctl -D $D -l LOGFILE start\$"; do
        grep -Eq "$line" "$SCRATCH/stdout" || { cat "$SCRATCH/stdout" >&2; die "--latest did not say /$line/"; }
done
! grep -q "^recovery_target_time = '2" "$D/postgresql.auto.conf" || die "--latest wrote a target"
start_restored "$SCRATCH/out-latest"
[ "$(sql_at "$SCRATCH/out-latest/_pg/db" postgres "$NUMBERS")" = "$(cat "$SCRATCH/end.numbers")" ] ||
        die "--latest did not reach the end"
pg_stop "$SCRATCH/out-latest/_pg/db"
rm -rf "$SCRATCH/out-latest"

# 6. A damaged WAL piece: named, and the restore fails rather than recover less in silence. Every
#    volume of the last base's chain is damaged (one byte each, inside the file: a volume of a
#    switched WAL file, mostly zeros, is a few hundred bytes): T5's restore needs its WAL.
S=$(store_of "$FIRST")
B5=$(ls "$S/hr/segments" | sort | tail -n 1)
find "$S/hr/segments/$B5" -name 'vol-*' >"$SCRATCH/vols"
[ -s "$SCRATCH/vols" ] || die "no WAL in the chain of $B5"
while read -r vol; do
        flip_byte "$vol" $(($(stat -c %s "$vol") / 2))
done <"$SCRATCH/vols"
restore "$FIRST" "$SCRATCH/out-bad" --at "$(cat "$SCRATCH/t5.time")"
[ "$RC" = 5 ] || {
        cat "$SCRATCH/stdout" "$SCRATCH/stderr" "$SCRATCH/vols" >&2
        die "a damaged WAL piece: exit $RC, not 5"
}
seg=$(grep -o "PostgreSQL hook 'db': '_pg/db/wal/[0-9A-F]\{24\}[^']*': .* segment [0-9]\{8\}T[0-9]\{6\}Z-[0-9a-f]*" "$SCRATCH/stderr" |
        head -n 1 | sed 's/.* segment //')
[ -n "$seg" ] && grep -q "/$seg/" "$SCRATCH/vols" ||
        die "the damaged piece is not named with its segment of chain $B5: $(cat "$SCRATCH/stderr")"
[ ! -e "$SCRATCH/out-bad/_pg/db/data/recovery.signal" ] || die "a restore with damaged WAL wrote recovery settings"
echo "pg-pitr: ok ($SOURCES)"
