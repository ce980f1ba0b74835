#!/bin/sh
# A physical base backup of a live PostgreSQL cluster (yunbak-agent backup --postgresql): a full
# while pgbench writes, then an incremental after more writes, which stores the changed pages as
# deltas. Each snapshot holds the data directory and the second tablespace, backup_label and
# tablespace_map as pg_backup_stop returned them, the WAL files from the start LSN's to the stop
# LSN's and none of what PostgreSQL says not to copy; the header records the base; each restored
# data directory starts with pg_ctl and holds the rows written before the backup. A role without
# the privileges is told every statement it lacks, and those suffice; a server down is exit 1.
# An agent killed (SIGKILL) mid-walk leaves no backup session or slot on the server and no
# snapshot, and the next backup succeeds; a store failing mid-walk is exit 7, and the agent ends
# the server's backup itself. Of an unlogged table (and its index), in the data directory and in
# the tablespace, only the init forks are in the snapshot; the restored cluster has it, empty.
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/pg-lib.sh"
pg_init "$SCRATCH/pg"
pg_start "$PGDIR"
TS="$SCRATCH/ts"
mkdir -p "$TS"
! is_root || chown nobody:nogroup "$TS"
CONN=$(conninfo postgres)
PGB="pgbench -h $PGDIR -U $DBUSER"

sql postgres "CREATE TABLESPACE second LOCATION '$TS'"
sql postgres "CREATE TABLE kept (id int PRIMARY KEY, note text) TABLESPACE second;
        INSERT INTO kept SELECT g, md5(g::text) FROM generate_series(1, 20000) g;"
KEPT=$(sql postgres "SELECT count(*) || ' ' || md5(string_agg(note, ',' ORDER BY id)) FROM kept")
sql postgres "CREATE UNLOGGED TABLE scratch (id int PRIMARY KEY, note text);
        INSERT INTO scratch SELECT g, md5(g::text) FROM generate_series(1, 20000) g;
        CREATE UNLOGGED TABLE scratch2 (id int PRIMARY KEY) TABLESPACE second;
        INSERT INTO scratch2 SELECT g FROM generate_series(1, 20000) g;"
sql postgres "VACUUM scratch, scratch2"
# The unlogged relations' files (base/<db>/<node>, pg_tblspc/<oid>/<version dir>/<db>/<node>):
# each has its init fork, and VACUUM gave the tables a visibility map.
UNLOGGED=$(sql postgres "SELECT pg_relation_filepath(oid) FROM pg_class
        WHERE relname IN ('scratch', 'scratch_pkey', 'scratch2', 'scratch2_pkey')")
[ "$(echo "$UNLOGGED" | wc -l)" = 4 ] || die "the unlogged relations' files: $UNLOGGED"
for f in $UNLOGGED; do
        [ -f "$PGDIR/data/$f" ] && [ -f "$PGDIR/data/${f}_init" ] || die "no main and init fork for $f"
done
for t in scratch scratch2; do
        [ -f "$PGDIR/data/$(sql postgres "SELECT pg_relation_filepath('$t')")_vm" ] || die "$t has no visibility map"
done
# check_unlogged OUT: the snapshot restored in OUT holds of each unlogged relation its init fork
# alone.
check_unlogged() {
        for f in $UNLOGGED; do
                case $f in
                pg_tblspc/*) p="$1/_pg/db/tablespaces/${f#pg_tblspc/}" ;;
                *) p="$1/_pg/db/data/$f" ;;
                esac
                [ -f "${p}_init" ] || die "the snapshot in $1 lacks the init fork ${p}_init"
                for x in "$p" "$p".* "${p}_fsm" "${p}_vm"; do
                        [ ! -e "$x" ] || die "the snapshot in $1 holds $x, a fork of an unlogged relation"
                done
        done
}
TS_OID=$(sql postgres "SELECT oid FROM pg_tablespace WHERE spcname = 'second'")
SYSID=$(sql postgres "SELECT system_identifier FROM pg_control_system()")
$PGB -i -s 5 -q postgres >"$SCRATCH/pgbench-init.log" 2>&1 || {
        cat "$SCRATCH/pgbench-init.log" >&2
        die "pgbench -i failed"
}

mkdir -p "$SCRATCH/store"
make_key hr
backup() { # LEVEL ARGS...
        level=$1
        shift
        yunbak-agent backup --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
                --level "$level" --json "$@"
}
restore() { # SNAPSHOT TARGET
        rm -rf "$2"
        yunbak restore --store "$SCRATCH/store" --system hr --key "$SCRATCH/keys/hr.key" \
                --passphrase-file "$SCRATCH/pass" --snapshot "$1" --target "$2" >/dev/null
}
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$@"; }
count() { yunbak snapshots --store "$SCRATCH/store" --system hr --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

# 1. A full while pgbench runs (stopped by the test once the backup is done).
$PGB -c 2 -T 600 postgres >"$SCRATCH/pgbench.log" 2>&1 &
BENCH=$!
i=0
until [ "$(sql postgres "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgbench' AND state = 'active'")" -ge 1 ]; do
        i=$((i + 1))
        [ $i -lt 600 ] || die "pgbench did not start"
        kill -0 $BENCH 2>/dev/null || { cat "$SCRATCH/pgbench.log" >&2; die "pgbench ended"; }
        sleep 0.05
done
backup full --postgresql "db=$CONN" >"$SCRATCH/full.json" 2>"$SCRATCH/full.err" || {
        cat "$SCRATCH/full.err" >&2
        die "the full base backup failed"
}
kill -0 $BENCH 2>/dev/null || { cat "$SCRATCH/pgbench.log" >&2; die "pgbench did not run throughout the full"; }
kill $BENCH
wait $BENCH || true
python3 - "$SCRATCH/full.json" <<'PY' || die "the full's summary: $(cat "$SCRATCH/full.json")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["partial"] is False and s["errors"] == 0, s
assert [p["name"] for p in s["postgresql"]] == ["db"], s["postgresql"]
p = s["postgresql"][0]
assert p["changed_while_read"] >= 0 and p["excluded"] >= 2, p  # postmaster.pid and .opts at least
assert p["unlogged"] >= 6, p  # 4 main forks, 2 visibility maps at least
PY
grep -q "postgresql: db, base backup from" "$SCRATCH/full.err" ||
        grep -q "files changed while read" "$SCRATCH/full.err" || true
FULL=$(field "$SCRATCH/full.json" snapshot)

# The header records the base, in clear.
HDR="$SCRATCH/store/hr/snapshots/$FULL/header"
head -n 1 "$HDR" >"$SCRATCH/full.header"
python3 - "$SCRATCH/full.header" "$SYSID" "$PGDIR/data" <<'PY' || die "the header's postgresql fields"
import json, sys
h = json.load(open(sys.argv[1]))
pg = h["postgresql"]
assert len(pg) == 1, pg
b = pg[0]
assert b["name"] == "db" and b["version"] >= 150000, b
assert b["system_identifier"] == sys.argv[2], (b, sys.argv[2])
assert b["timeline"] == 1 and b["wal_segment_size"] == 16 * 1024 * 1024, b
assert 0 < b["started_ns"] <= b["stopped_ns"], b
assert b["data_directory"] == sys.argv[3], b
start = int(b["start_lsn"].split("/")[0], 16) << 32 | int(b["start_lsn"].split("/")[1], 16)
stop = int(b["stop_lsn"].split("/")[0], 16) << 32 | int(b["stop_lsn"].split("/")[1], 16)
assert start < stop, b
PY

# What the snapshot holds: restored into a directory.
restore "$FULL" "$SCRATCH/out"
D="$SCRATCH/out/_pg/db/data"
[ -f "$D/PG_VERSION" ] || die "the data directory is not at _pg/db/data"
[ -d "$SCRATCH/out/_pg/db/tablespaces/$TS_OID" ] || die "the tablespace is not at _pg/db/tablespaces/$TS_OID"
grep -q "^LABEL: yunbak hr $FULL\$" "$D/backup_label" || die "backup_label: $(cat "$D/backup_label")"
grep -q "^START WAL LOCATION: " "$D/backup_label" || die "backup_label has no start"
# (yunbak restore points the map at the restored tablespace; the snapshot holds pg_backup_stop's)
grep -q "^$TS_OID $SCRATCH/out/_pg/db/tablespaces/$TS_OID\$" "$D/tablespace_map" || die "tablespace_map: $(cat "$D/tablespace_map")"
for f in postmaster.pid postmaster.opts backup_label.old recovery.signal standby.signal; do
        [ ! -e "$D/$f" ] || die "the snapshot holds $f"
done
for d in pg_replslot pg_dynshmem pg_notify pg_serial pg_snapshots pg_stat_tmp pg_subtrans pg_wal/archive_status; do
        [ -d "$D/$d" ] || die "the snapshot lacks the directory $d"
        [ -z "$(ls -A "$D/$d")" ] || die "the snapshot holds what $d held: $(ls -A "$D/$d")"
done
[ -z "$(find "$SCRATCH/out/_pg" -name 'pgsql_tmp*' -o -name pg_internal.init)" ] ||
        die "the snapshot holds temporary files or the relation cache"
ls "$D/pg_wal" | grep -v '^archive_status$' >"$SCRATCH/wal.got"
python3 - "$SCRATCH/full.header" >"$SCRATCH/wal.want" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))["postgresql"][0]
lsn = lambda s: int(s.split("/")[0], 16) << 32 | int(s.split("/")[1], 16)
size = b["wal_segment_size"]
per = 0x100000000 // size
for seg in range(lsn(b["start_lsn"]) // size, (lsn(b["stop_lsn"]) - 1) // size + 1):
    print("%08X%08X%08X" % (b["timeline"], seg // per, seg % per))
PY
diff -u "$SCRATCH/wal.want" "$SCRATCH/wal.got" >&2 || die "the snapshot's pg_wal is not the WAL from start to stop"
[ "$(head -n 1 "$SCRATCH/wal.got")" = "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["postgresql"][0]["start_wal"])' "$SCRATCH/full.header")" ] ||
        die "the first WAL file is not the header's start_wal"

# start_restored SNAPSHOT-DIR: starts the restored cluster there, its tablespace where the restore
# put it (yunbak restore points tablespace_map there; PostgreSQL makes the link from it), and
# checks the rows written before the backup.
start_restored() {
        out=$1
        dd="$out/_pg/db/data"
        grep -q "^$TS_OID $out/_pg/db/tablespaces/$TS_OID\$" "$dd/tablespace_map" ||
                die "the restore did not point tablespace_map at the restored tablespace"
        chmod 711 "$out" "$out/_pg" "$out/_pg/db"
        pg_start "$out/_pg/db"
        [ "$(readlink "$dd/pg_tblspc/$TS_OID")" = "$out/_pg/db/tablespaces/$TS_OID" ] ||
                die "the restored cluster's tablespace link is $(readlink "$dd/pg_tblspc/$TS_OID")"
        [ "$(sql_at "$out/_pg/db" postgres "SELECT count(*) || ' ' || md5(string_agg(note, ',' ORDER BY id)) FROM kept")" = "$KEPT" ] ||
                die "the restored cluster of $out does not hold the rows written before the backup"
        [ "$(sql_at "$out/_pg/db" postgres "SELECT count(*) FROM pgbench_accounts")" = 500000 ] ||
                die "the restored cluster of $out lost pgbench's accounts"
        [ "$(sql_at "$out/_pg/db" postgres "SELECT pg_is_in_recovery()")" = f ] ||
                die "the restored cluster of $out is still in recovery"
        # The unlogged tables are there, empty, and take rows (their indexes work).
        [ "$(sql_at "$out/_pg/db" postgres "SELECT (SELECT count(*) FROM scratch) || ' ' || (SELECT count(*) FROM scratch2)")" = "0 0" ] ||
                die "the restored cluster of $out does not hold the unlogged tables empty"
        [ "$(sql_at "$out/_pg/db" postgres "INSERT INTO scratch VALUES (7, 'x'); INSERT INTO scratch2 VALUES (7);
                SET enable_seqscan = off; SELECT (SELECT note FROM scratch WHERE id = 7) || (SELECT count(*) FROM scratch2 WHERE id = 7)")" = x1 ] ||
                die "the restored cluster of $out cannot use its unlogged tables"
        pg_stop "$out/_pg/db"
}
check_unlogged "$SCRATCH/out"
start_restored "$SCRATCH/out"

# 2. An incremental after more writes: the changed pages travel as deltas.
touch "$SCRATCH/after-full"
$PGB -c 2 -t 400 postgres >"$SCRATCH/pgbench2.log" 2>&1 || {
        cat "$SCRATCH/pgbench2.log" >&2
        die "pgbench -t failed"
}
sql postgres "CHECKPOINT" >/dev/null
CHANGED=$(find "$PGDIR/data/base" "$PGDIR/data/global" "$TS" -type f -newer "$SCRATCH/after-full" -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
backup incremental --postgresql "db=$CONN" >"$SCRATCH/incr.json" 2>"$SCRATCH/incr.err" || {
        cat "$SCRATCH/incr.err" >&2
        die "the incremental base backup failed"
}
python3 - "$SCRATCH/incr.json" "$CHANGED" <<'PY' || die "the incremental's summary: $(cat "$SCRATCH/incr.json")"
import json, sys
s, changed = json.load(open(sys.argv[1])), int(sys.argv[2])
assert s["level"] == "incremental" and s["partial"] is False and s["errors"] == 0, s
assert s["delta"] > 0 and s["unchanged"] > 0, s
assert changed > 20 * 1024 * 1024, changed
# The cluster's changed files are rewritten in scattered 8 KiB pages: their deltas, with the
# WAL of the backup itself, are well under their size.
assert s["bytes_stored"] * 3 < changed, (s["bytes_stored"], changed)
PY
INCR=$(field "$SCRATCH/incr.json" snapshot)
# yunbak snapshots: under each base's row, a line with its cluster's LSNs, timeline and the
# server's time at pg_backup_stop; --json has each header's "postgresql" as the header says.
yunbak snapshots --store "$SCRATCH/store" --system hr >"$SCRATCH/list.txt"
yunbak snapshots --store "$SCRATCH/store" --system hr --json >"$SCRATCH/list.json"
python3 - "$SCRATCH/list.txt" "$SCRATCH/list.json" "$SCRATCH/store/hr/snapshots" "$FULL" "$INCR" <<'PY' ||
import json, sys
text = open(sys.argv[1]).read().splitlines()
listed = {o["id"]: o for o in json.load(open(sys.argv[2]))}
for snap in sys.argv[4:]:
    with open("%s/%s/header" % (sys.argv[3], snap)) as f:
        pg = json.loads(f.readline())["postgresql"]
    b = pg[0]
    want = "  pg db %s..%s timeline 1, consistent from %s" % (
        b["start_lsn"], b["stop_lsn"], b["stopped"].replace("T", " ")[:23])
    row = [i for i, l in enumerate(text) if l.startswith(snap + " ")]
    assert len(row) == 1, (snap, text)
    assert text[row[0] + 1] == want, (text[row[0] + 1], want)
    assert listed[snap]["postgresql"] == pg, (listed[snap].get("postgresql"), pg)
assert len([l for l in text if l.startswith("  pg ")]) == 2, text
PY
        die "yunbak snapshots does not show the bases: $(cat "$SCRATCH/list.txt")"
sql postgres "INSERT INTO kept VALUES (0, 'written after the incremental')"
restore "$INCR" "$SCRATCH/out2"
check_unlogged "$SCRATCH/out2"
start_restored "$SCRATCH/out2"
# 3. A role that may not make a base backup: one message lists every statement it lacks, and
#    running them is all it takes.
yb_slots() { sql postgres "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'yunbak\_%'"; }
yb_sessions() { sql postgres "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'yunbak-agent'"; }
n=$(count)
sql postgres "CREATE ROLE weak LOGIN"
WEAK="host=$PGDIR user=weak dbname=postgres"
expect_exit 1 backup incremental --postgresql "db=$WEAK"
expect_stderr "Backup of system 'hr' failed, nothing was committed: PostgreSQL hook 'db': the role weak may not make a base backup\. As a superuser, run: ALTER ROLE weak REPLICATION; GRANT pg_read_all_settings TO weak; GRANT EXECUTE ON FUNCTION pg_backup_start\(text, boolean\) TO weak; GRANT EXECUTE ON FUNCTION pg_backup_stop\(boolean\) TO weak\.$"
sed -n 's/.*As a superuser, run: \(.*\)\.$/\1;/p' "$SCRATCH/stderr" >"$SCRATCH/grants.sql"
psql -X -q -v ON_ERROR_STOP=1 --dbname="$CONN" -f "$SCRATCH/grants.sql" || die "the statements the message gave did not run"
expect_exit 0 backup incremental --postgresql "db=$WEAK"
# A server that cannot be reached: libpq's whole message, exit 1 (not a lost store).
expect_exit 1 backup incremental --postgresql "db=host=$SCRATCH/nowhere dbname=postgres"
expect_stderr "PostgreSQL hook 'db': cannot connect \(libpq said: \"connection to server on socket \"$SCRATCH/nowhere/\.s\.PGSQL\.5432\" failed: No such file or directory \| Is the server running locally and accepting connections on that socket\?\"\)\. Check the hook's host, port, user and database"
! grep -q "connection to the store" "$SCRATCH/stderr" || die "a database down was taken for a lost store"
[ "$(count)" = "$((n + 1))" ] || die "a failed base backup committed a snapshot"
[ "$(yb_slots)" = 0 ] && [ "$(yb_sessions)" = 0 ] || die "a failed backup left a slot or a session"

# 4. The agent killed (SIGKILL) while it walks the data directory (held there by a test hook):
#    the server ends the backup and drops the temporary slot as the connection goes; nothing is
#    listed; the next backup succeeds. PostgreSQL 15 shows no non-exclusive backup in progress
#    but by its session: the backup lives exactly as long as the session (it is aborted when
#    the session ends), so the session gone means the backup gone.
if grep -q "^YB_FAULT_INJECTION:BOOL=ON" "$BIN/CMakeCache.txt" 2>/dev/null; then
        n=$(count)
        mkfifo "$SCRATCH/hold"
        YB_TEST_PG_HOLD="$SCRATCH/hold" yunbak-agent backup --store "$SCRATCH/store" --system hr \
                --public-key "$SCRATCH/keys/hr.pub" --level incremental --postgresql "db=$CONN" \
                >/dev/null 2>"$SCRATCH/killed.err" &
        AGENT=$!
        [ "$(timeout 120 head -n 1 "$SCRATCH/hold")" = walking ] || {
                cat "$SCRATCH/killed.err" >&2
                die "the agent did not reach the walk of the data directory"
        }
        [ "$(yb_slots)" = 1 ] && [ "$(yb_sessions)" = 1 ] ||
                die "mid-backup, the server shows $(yb_slots) yunbak slots and $(yb_sessions) sessions, not 1 and 1"
        kill -KILL $AGENT
        set +e
        wait $AGENT
        rc=$?
        set -e
        [ "$rc" = 137 ] || die "the agent ended with $rc, not by SIGKILL"
        i=0
        until [ "$(yb_slots)" = 0 ] && [ "$(yb_sessions)" = 0 ]; do
                i=$((i + 1))
                [ $i -lt 1200 ] || die "60 s after the kill the server still shows the backup's slot or session"
                sleep 0.05
        done
        [ "$(count)" = "$n" ] || die "a killed backup is listed"
        # The server's own word that it ended the backup the agent left.
        [ "$(grep -c "aborting backup due to backend exiting before pg_backup_stop was called" "$PGDIR/server.log")" = 1 ] ||
                die "the server did not say it aborted the killed agent's backup"
        expect_exit 0 backup incremental --postgresql "db=$CONN"
        [ "$(count)" = "$((n + 1))" ] || die "the backup after the kill was not committed"

        # The store failing mid-walk (its Nth write: the first N that falls after
        # pg_backup_start): exit 7, nothing committed, and the agent ends the server's backup
        # itself (pg_backup_stop) before it goes: the server has nothing to abort.
        n=$(count)
        i=1
        while :; do
                set +e
                YB_FAULT=write:$i backup incremental --postgresql "db=$CONN" >/dev/null 2>"$SCRATCH/stderr"
                rc=$?
                set -e
                grep -q "backup started" "$SCRATCH/stderr" && break
                [ "$rc" = 7 ] || { cat "$SCRATCH/stderr" >&2; die "write:$i: exit $rc, not 7"; }
                i=$((i + 1)) # an incremental makes few writes: one step more may pass them all
                [ $i -lt 2000 ] || die "no failing write fell after pg_backup_start"
        done
        [ "$rc" = 7 ] || { cat "$SCRATCH/stderr" >&2; die "the store failing mid-walk: exit $rc, not 7"; }
        expect_stderr "Backup of system 'hr' failed, nothing was committed"
        [ "$(count)" = "$n" ] || die "a backup whose store failed was committed"
        [ "$(yb_slots)" = 0 ] && [ "$(yb_sessions)" = 0 ] || die "a failed backup left a slot or a session"
        [ "$(grep -c "aborting backup due to backend exiting" "$PGDIR/server.log")" = 1 ] ||
                die "the agent left its failed backup for the server to abort"
fi
# 5. A running cluster's data directory met by the walk of a source, without a physical hook:
#    refused by default (naming the directory, the pid and the fix), copied with a warning with
#    --live-postgresql warn, and left to the hook when a --postgresql of the backup has it. A
#    stopped cluster's directory (a stale postmaster.pid) is ordinary files.
n=$(count)
PID=$(head -n 1 "$PGDIR/data/postmaster.pid")
expect_exit 1 backup incremental "$SCRATCH/pg"
expect_stderr "Backup of system 'hr' failed, nothing was committed: '$SCRATCH/pg/data' is the data directory of a running PostgreSQL server \(pid $PID, postmaster.pid\), which copied as plain files would not be consistent\. Add a postgresql hook with mode: physical for it \(docs/postgresql\.md\), or exclude it\.$"
[ "$(count)" = "$n" ] || die "a refused live data directory committed a snapshot"
expect_exit 2 backup incremental --live-postgresql sometimes "$SCRATCH/pg"
expect_exit 0 backup incremental --postgresql "db=$CONN" "$SCRATCH/pg"
expect_stderr "'$SCRATCH/pg/data' is the data directory of PostgreSQL hook 'db', in the snapshot as _pg/db/data: not copied again as files"
restore "$(field "$SCRATCH/stdout" snapshot)" "$SCRATCH/out4"
[ -f "$SCRATCH/out4/_pg/db/data/PG_VERSION" ] && [ -f "$SCRATCH/out4/pg/initdb.log" ] ||
        die "the hook's cluster or the rest of the source is missing"
[ ! -e "$SCRATCH/out4/pg/data" ] || die "the hook's data directory was copied again as files"
set +e
backup incremental --live-postgresql warn --exclude "$SCRATCH/pg/data/base" "$SCRATCH/pg" >"$SCRATCH/warn.json" 2>"$SCRATCH/stderr"
rc=$?
set -e
# (base/, the tables, left out: the test needs none of its bytes.) A file rewritten thrice
# while read would be skipped, partial (3).
[ "$rc" = 0 ] || [ "$rc" = 3 ] || { cat "$SCRATCH/stderr" >&2; die "--live-postgresql warn: exit $rc"; }
expect_stderr "warning: '$SCRATCH/pg/data' is the data directory of a running PostgreSQL server \(pid $PID, postmaster.pid\): backed up as plain files, as --live-postgresql warn asks, it will not be consistent\. Add a postgresql hook with mode: physical for it \(docs/postgresql\.md\), or exclude it\."
restore "$(field "$SCRATCH/warn.json" snapshot)" "$SCRATCH/out3"
[ -f "$SCRATCH/out3/pg/data/PG_VERSION" ] || die "--live-postgresql warn did not back the files up"
mkdir -p "$SCRATCH/old/data"
cp "$PGDIR/data/PG_VERSION" "$SCRATCH/old/data/"
sh -c 'echo $$' >"$SCRATCH/old/data/postmaster.pid" # a pid that has ended
expect_exit 0 backup incremental "$SCRATCH/old"
# A snapshot that is no base has neither the line nor the header's "postgresql".
OLD=$(field "$SCRATCH/stdout" snapshot)
yunbak snapshots --store "$SCRATCH/store" --system hr --json >"$SCRATCH/list.json"
yunbak snapshots --store "$SCRATCH/store" --system hr >"$SCRATCH/list.txt"
python3 - "$SCRATCH/list.json" "$OLD" <<'PY' || die "a snapshot that is no base is listed as one"
import json, sys
o = [o for o in json.load(open(sys.argv[1])) if o["id"] == sys.argv[2]]
assert len(o) == 1 and "postgresql" not in o[0], o
PY
[ "$(grep -A1 "^$OLD " "$SCRATCH/list.txt" | grep -c '^  pg ')" = 0 ] || die "a snapshot that is no base has a pg line"
echo "pg-physical: ok"
