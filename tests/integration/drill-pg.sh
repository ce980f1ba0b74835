#!/bin/sh
# PostgreSQL in a restore drill (restore/drill-pg.c, through yb-drill-pg as a drill's run calls
# it), on points restored by yunbak restore from a local store: a dump is loaded into a new
# cluster (initdb) and a base backup recovers in its own; each answers its query with the rows
# the source had; a query under its min fails with the value named, one that does not answer an
# integer says what came back, a dump the point lacks is named, a base backup of a PostgreSQL
# version not installed is refused saying what to install, one owned by root is refused; a
# recovery that outlives the drill's timeout, or that a signal stops, fails the start, and all it
# started is stopped; the drill's directory, a cluster's, _pg or _streams restored as symlinks
# out of the sandbox are refused, and a data directory holding such a symlink or a device
# node; a base backup's settings naming places out of the sandbox (another data
# directory, a pid file, libraries to preload) are overridden. Each cluster listens on
# 127.0.0.1 at its own port and on a socket in the sandbox, on the newest PostgreSQL installed
# (the dumps) or the base backup's version, which the drill says; the check command reaches it through
# PGHOST/PGPORT/PGUSER. As root, the dumps' cluster runs as postgres (nobody without it) and the
# base backup's as the owner of its data directory. After each run no process of the drill is
# left, its port is free, its directories are gone and its logs stay.
# About 20 s on an idle machine (backups, restores, initdb and a few clusters started).
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/pg-lib.sh"
pg_init "$SCRATCH/pg"
pg_start "$PGDIR"
sql postgres "CREATE DATABASE hr"
sql hr "CREATE TABLE employees (id int PRIMARY KEY, name text);
        INSERT INTO employees SELECT g, '员工 ' || g FROM generate_series(1, 1234) g;"
sql postgres "CREATE TABLE kept (id int PRIMARY KEY); INSERT INTO kept SELECT generate_series(1, 777)"

mkdir -p "$SCRATCH/store"
make_key hr
backup() { # NAME ARGS...: a full backup, its snapshot's id printed
        _name=$1
        shift
        yunbak-agent backup --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
                --level full --json "$@" >"$SCRATCH/$_name.json" 2>"$SCRATCH/$_name.err" || {
                cat "$SCRATCH/$_name.err" >&2
                die "the backup $_name failed"
        }
        python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot"])' "$SCRATCH/$_name.json"
}
restore() { # SNAPSHOT SANDBOX
        yunbak restore --store "$SCRATCH/store" --system hr --key "$SCRATCH/keys/hr.key" \
                --passphrase-file "$SCRATCH/pass" --snapshot "$1" --target "$2" >"$SCRATCH/restore.out" 2>&1 || {
                cat "$SCRATCH/restore.out" >&2
                die "the restore of $1 failed"
        }
}
port_free() { python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1"; }
# after SANDBOX: what the drill's run saw (SANDBOX.seen: the postmaster's pid, user and port,
# from the check command) is gone: the process, the port, the cluster's directory.
after() {
        read -r pid user port dir <"$1.seen" || die "the check command did not run in $1"
        ! kill -0 "$pid" 2>/dev/null || die "the drill's postmaster $pid still runs"
        ! pgrep -f -- "$1/" >/dev/null || die "processes of the drill are left: $(pgrep -af -- "$1/")"
        port_free "$port" || die "the drill's port $port is still taken"
        [ ! -e "$dir" ] || die "the cluster's directory $dir is left"
}
# What the check command records of the cluster its variables reach.
SEEN='pid=$(head -n 1 "$DATADIR/postmaster.pid") && echo "$pid $(ps -o user= -p "$pid") $PGPORT $PGHOST" >"$SANDBOX.seen" && psql -X -At -d postgres -c "SELECT 1" >/dev/null'

# 1. A dump: loaded into database hr of a new cluster, which answers the count.
SNAP_DUMP=$(backup dump --stream "_streams/hr-db.pgdump=pg_dump --format=custom --dbname=$(shquote "$(conninfo hr)")")
SB="$SCRATCH/sb-dump"
restore "$SNAP_DUMP" "$SB"
[ -s "$SB/_streams/hr-db.pgdump" ] || die "the restore laid out no dump"
SANDBOX=$SB DATADIR='$PGHOST/data' yb-drill-pg "$SB" 120 \
        "SANDBOX=$SB; DATADIR=\$PGHOST/data; $SEEN" \
        'hr-db|dump|hr|1000|SELECT count(*) FROM employees' >"$SCRATCH/dump.out" ||
        die "the dump drill failed: $(cat "$SCRATCH/dump.out")"
grep -qx 'value hr-db 1234' "$SCRATCH/dump.out" || die "no value 1234: $(cat "$SCRATCH/dump.out")"
after "$SB"
read -r _ user port _ <"$SB.seen"
NEWEST=$(basename "$(dirname "$PGBIN")")
grep -qx "running: the drill's cluster for the dumps: PostgreSQL $NEWEST ($PGBIN) as user $user, on 127.0.0.1 port $port and a socket in $SB/.yunbak-drill-pg/dumps" \
        "$SCRATCH/dump.out" || die "what ran is not said: $(cat "$SCRATCH/dump.out")"
if is_root; then
        want=nobody
        getent passwd postgres >/dev/null && want=postgres
        [ "$user" = "$want" ] || die "the dumps' cluster ran as '$user', not $want"
fi
grep -q "listening on IPv4 address \"127.0.0.1\", port $port" "$SB/.yunbak-drill-pg/dumps.log" ||
        die "the cluster did not listen on 127.0.0.1:$port: $(cat "$SB/.yunbak-drill-pg/dumps.log")"
! grep -q 'listening on IPv6\|listening on IPv4 address "0.0.0.0"' "$SB/.yunbak-drill-pg/dumps.log" ||
        die "the cluster listened on another address"
[ -s "$SB/.yunbak-drill-pg/hr-db.0.pg_restore.log" ] || [ -e "$SB/.yunbak-drill-pg/hr-db.0.pg_restore.log" ] ||
        die "pg_restore's log is not kept"

# 2. Under its min: failed, with the value; not an integer: what came back; a dump the point
# lacks: named.
expect_exit 2 yb-drill-pg "$SB" 120 "" 'hr-db|dump|hr|2000|SELECT count(*) FROM employees' \
        'hr-db|dump|hr|1|SELECT name FROM employees WHERE id = 7'
grep -qx 'failed hr-db the query of hook hr-db in database hr answered 1234, less than its min 2000' "$SCRATCH/stdout" ||
        die "under min: $(cat "$SCRATCH/stdout")"
grep -qx "failed hr-db the query of hook hr-db in database hr answered '员工 7', not one integer (one row, one column)" "$SCRATCH/stdout" ||
        die "not an integer: $(cat "$SCRATCH/stdout")"
expect_exit 2 yb-drill-pg "$SB" 120 "" 'hr-db|dump|hr|1|SELECT count(*) FROM nowhere'
grep -q '^failed hr-db the query of hook hr-db in database hr of the drill.s cluster for the dumps failed: psql exited with status 1 and said: .*relation "nowhere" does not exist' "$SCRATCH/stdout" ||
        die "a failing query: $(cat "$SCRATCH/stdout")"
expect_exit 1 yb-drill-pg "$SB" 120 "" 'payroll|dump|payroll|1|SELECT 1'
grep -q "^start: the restored point has no dump _streams/payroll.pgdump ($SB/_streams/payroll.pgdump)" "$SCRATCH/stdout" ||
        die "a missing dump: $(cat "$SCRATCH/stdout")"
! pgrep -f -- "$SB/" >/dev/null || die "a failed start left processes: $(pgrep -af -- "$SB/")"

# 3. A base backup: its own cluster recovers (crash recovery from backup_label) and answers.
SNAP_PHYS=$(backup phys --postgresql "db=$(conninfo postgres)")
SB="$SCRATCH/sb-phys"
restore "$SNAP_PHYS" "$SB"
yb-drill-pg "$SB" 120 "SANDBOX=$SB; DATADIR=$SB/_pg/db/data; $SEEN" \
        'db|physical|hr|1000|SELECT count(*) FROM employees' \
        'db|physical|postgres|700|SELECT count(*) FROM kept' >"$SCRATCH/phys.out" ||
        die "the physical drill failed: $(cat "$SCRATCH/phys.out")"
grep -qx 'value db 1234' "$SCRATCH/phys.out" && grep -qx 'value db 777' "$SCRATCH/phys.out" ||
        die "the physical values: $(cat "$SCRATCH/phys.out")"
after "$SB"
read -r _ user _ _ <"$SB.seen"
owner=$(stat -c %U "$SB/_pg/db/data")
[ "$user" = "$owner" ] || die "the base backup's cluster ran as '$user', not as $owner (its data directory's owner)"
V=$(cat "$SB/_pg/db/data/PG_VERSION")
grep -q "^running: the cluster of base backup _pg/db: PostgreSQL $V (/usr/lib/postgresql/$V/bin) as user $owner, " \
        "$SCRATCH/phys.out" || die "the base backup's version is not the one used: $(cat "$SCRATCH/phys.out")"
! is_root || [ "$user" != root ] || die "the cluster ran as root"

# 3b. A base backup of a PostgreSQL version not installed here is refused, naming the version
# and what to install; one owned by root, as root, is refused (PostgreSQL refuses root).
SB="$SCRATCH/sb-phys"
cp -a "$SB/_pg/db/data/PG_VERSION" "$SCRATCH/PG_VERSION"
echo 9 >"$SB/_pg/db/data/PG_VERSION"
expect_exit 1 yb-drill-pg "$SB" 120 "" 'db|physical|postgres|1|SELECT 1'
grep -qF "start: the base backup _pg/db (its PG_VERSION) is of PostgreSQL 9, and PostgreSQL 9's server is not installed here (no /usr/lib/postgresql/9/bin/postgres): install it (Debian: apt-get install postgresql-9)" \
        "$SCRATCH/stdout" || die "another version: $(cat "$SCRATCH/stdout")"
cp -a "$SCRATCH/PG_VERSION" "$SB/_pg/db/data/PG_VERSION"
if is_root; then
        chown root "$SB/_pg/db/data"
        expect_exit 1 yb-drill-pg "$SB" 120 "" 'db|physical|postgres|1|SELECT 1'
        grep -q "^start: the restored data directory $SB/_pg/db/data is owned by root, and PostgreSQL refuses to run as root" \
                "$SCRATCH/stdout" || die "a data directory of root's: $(cat "$SCRATCH/stdout")"
fi
! pgrep -f -- "$SB/" >/dev/null || die "a refused start left processes: $(pgrep -af -- "$SB/")"
! is_root || chown --reference="$SB/_pg/db" "$SB/_pg/db/data"

# 3c. A recovery that never ends (its restore_command hangs) outlives drill.timeout: the start
# fails saying so, with the log; everything it started is stopped, the hanging command too.
# The hanging command's name is this run's own (drill-pg and drill-pg-unprivileged run side by
# side, and each must look for its own).
HANG="sleep 6013.$$"
cp -a "$SB/_pg/db/data/postgresql.auto.conf" "$SCRATCH/auto.conf"
echo "restore_command = '$HANG'" >>"$SB/_pg/db/data/postgresql.auto.conf"
touch "$SB/_pg/db/data/recovery.signal"
expect_exit 1 yb-drill-pg "$SB" 3 "" 'db|physical|postgres|1|SELECT 1'
tr '\n' ' ' <"$SCRATCH/stdout" | grep -q "^start: the cluster of base backup _pg/db (data directory $SB/_pg/db/data) did not accept connections with its recovery ended within drill.timeout (3s); its log ends: .*(the whole log: $SB/.yunbak-drill-pg/pg-db.log)" ||
        die "a recovery over the timeout: $(cat "$SCRATCH/stdout")"
! pgrep -f -- "$SB/" >/dev/null || die "a start over the timeout left processes: $(pgrep -af -- "$SB/")"
! pgrep -fx -- "$HANG" >/dev/null || die "the hanging restore_command was left running"
# The same stopped by a signal while it recovers: the start fails saying so, at once, and
# nothing is left.
yb-drill-pg "$SB" 600 "" 'db|physical|postgres|1|SELECT 1' >"$SCRATCH/int.out" 2>&1 &
pid=$!
wait_for "the recovery's restore_command did not start" 'pgrep -fx -- "$HANG" >/dev/null'
kill -TERM "$pid"
set +e
wait "$pid"
rc=$?
set -e
[ "$rc" = 1 ] || die "a stopped start exited $rc: $(cat "$SCRATCH/int.out")"
grep -q "^start: the cluster of base backup _pg/db (data directory $SB/_pg/db/data) was stopped before it accepted connections: the drill was interrupted" \
        "$SCRATCH/int.out" || die "a stopped start: $(cat "$SCRATCH/int.out")"
! pgrep -f -- "$SB/" >/dev/null || die "a stopped start left processes: $(pgrep -af -- "$SB/")"
! pgrep -fx -- "$HANG" >/dev/null || die "the stopped start's restore_command was left running"
cp -a "$SCRATCH/auto.conf" "$SB/_pg/db/data/postgresql.auto.conf"

# 3d. The restored settings cannot reach out of the sandbox: a postgresql.auto.conf (read after
# postgresql.conf) naming another data directory, a pid file, libraries to preload (a path,
# which PostgreSQL would load and run) and a command for the end of an archive recovery (the
# recovery.signal of 3c, a restore_command that finds nothing past pg_wal): the drill's own
# settings win, the cluster starts and answers, and nothing is written outside.
mkdir -p "$SCRATCH/outside"
cp -a "$SB/_pg/db/data/postgresql.auto.conf" "$SCRATCH/auto.conf"
cat >>"$SB/_pg/db/data/postgresql.auto.conf" <<EOF
data_directory = '$SCRATCH/outside/data'
external_pid_file = '$SCRATCH/outside/pid'
shared_preload_libraries = '$SCRATCH/outside/evil'
session_preload_libraries = '$SCRATCH/outside/evil'
dynamic_library_path = '$SCRATCH/outside'
jit_provider = '../../../../../../$SCRATCH/outside/evil'
recovery_end_command = 'touch $SCRATCH/outside/recovery-end'
restore_command = 'false'
EOF
[ -e "$SB/_pg/db/data/recovery.signal" ] || die "no recovery.signal left by 3c: the recovery's end is not tried"
yb-drill-pg "$SB" 120 "" 'db|physical|postgres|700|SELECT count(*) FROM kept' >"$SCRATCH/out.out" 2>&1 ||
        die "a base backup with settings out of the sandbox: $(cat "$SCRATCH/out.out")"
grep -qx 'value db 777' "$SCRATCH/out.out" || die "settings out of the sandbox: $(cat "$SCRATCH/out.out")"
[ -z "$(ls -A "$SCRATCH/outside")" ] || die "the drill's cluster wrote outside the sandbox: $(ls -A "$SCRATCH/outside")"
cp -a "$SCRATCH/auto.conf" "$SB/_pg/db/data/postgresql.auto.conf"
! pgrep -f -- "$SB/" >/dev/null || die "processes of the drill are left: $(pgrep -af -- "$SB/")"

# 3e. A restored data directory holding a symlink out of the sandbox (a relation file to a file
# of the host, which the cluster would write through) or a device node (which its user would
# own): refused, naming it, before anything starts; nothing out there is touched.
mkdir -p "$SCRATCH/far-db"
echo canary >"$SCRATCH/far-db/canary"
ln -s "$SCRATCH/far-db/canary" "$SB/_pg/db/data/base/9999"
expect_exit 1 yb-drill-pg "$SB" 120 "" 'db|physical|postgres|1|SELECT 1'
grep -q "^start: the base backup _pg/db holds $SB/_pg/db/data/base/9999, a symlink out of the sandbox (to $SCRATCH/far-db/canary)" \
        "$SCRATCH/stdout" || die "a symlink out of a data directory: $(cat "$SCRATCH/stdout")"
[ "$(cat "$SCRATCH/far-db/canary")" = canary ] || die "a symlink out of a data directory: its target changed"
rm "$SB/_pg/db/data/base/9999"
if is_root; then
        mknod "$SB/_pg/db/data/base/9998" c 1 3
        expect_exit 1 yb-drill-pg "$SB" 120 "" 'db|physical|postgres|1|SELECT 1'
        grep -q "^start: the base backup _pg/db holds $SB/_pg/db/data/base/9998, a device node" \
                "$SCRATCH/stdout" || die "a device node in a data directory: $(cat "$SCRATCH/stdout")"
        rm "$SB/_pg/db/data/base/9998"
fi
! pgrep -f -- "$SB/" >/dev/null || die "a refused data directory left processes: $(pgrep -af -- "$SB/")"

# 4. Archive recovery (yunbak restore --latest: recovery.signal, restore_command) ends and
# promotes before the drill's cluster accepts connections.
SB="$SCRATCH/sb-latest"
yunbak restore --store "$SCRATCH/store" --system hr --key "$SCRATCH/keys/hr.key" \
        --passphrase-file "$SCRATCH/pass" --latest --target "$SB" >"$SCRATCH/restore.out" 2>&1 ||
        die "the restore --latest failed: $(cat "$SCRATCH/restore.out")"
[ -e "$SB/_pg/db/data/recovery.signal" ] || die "restore --latest wrote no recovery.signal"
yb-drill-pg "$SB" 120 "SANDBOX=$SB; DATADIR=$SB/_pg/db/data; $SEEN" \
        'db|physical|hr|1000|SELECT count(*) FROM employees' >"$SCRATCH/latest.out" ||
        die "the drill of an archive recovery failed: $(cat "$SCRATCH/latest.out")"
grep -qx 'value db 1234' "$SCRATCH/latest.out" || die "after archive recovery: $(cat "$SCRATCH/latest.out")"
after "$SB"
grep -q 'archive recovery complete\|selected new timeline ID' "$SB/.yunbak-drill-pg/pg-db.log" ||
        die "the cluster did not end an archive recovery: $(cat "$SB/.yunbak-drill-pg/pg-db.log")"

# 5. What the point holds where the drill's own things go: the drill's directory
# .yunbak-drill-pg, a cluster's directory in it, or _pg and _streams, restored as symlinks to
# directories out of the sandbox (a compromised host backs up such names): the start is refused
# naming them, and nothing out there is made, given away or removed.
mkdir -p "$SCRATCH/far/dumps"
echo canary >"$SCRATCH/far/canary"
echo canary >"$SCRATCH/far/dumps/canary"
far_same() {
        [ "$(find "$SCRATCH/far" | sort | tr '\n' ' ')" = "$SCRATCH/far $SCRATCH/far/canary $SCRATCH/far/dumps $SCRATCH/far/dumps/canary " ] ||
                die "$1: out of the sandbox, $SCRATCH/far changed: $(find "$SCRATCH/far" -ls)"
        [ "$(stat -c %u "$SCRATCH/far/dumps")" = "$(id -u)" ] || die "$1: $SCRATCH/far/dumps was given away"
        ! pgrep -f -- "$SCRATCH/sb-far" >/dev/null || die "$1: processes are left: $(pgrep -af -- "$SCRATCH/sb-far")"
}
SB="$SCRATCH/sb-far"
rm -rf "$SB" && mkdir -p "$SB" && cp -a "$SCRATCH/sb-dump/_streams" "$SB/"
ln -s "$SCRATCH/far" "$SB/.yunbak-drill-pg"
expect_exit 1 yb-drill-pg "$SB" 120 "" 'hr-db|dump|hr|1|SELECT 1'
grep -q "^start: the restored point holds $SB/.yunbak-drill-pg, the name of the drill's own directory" "$SCRATCH/stdout" ||
        die "a .yunbak-drill-pg symlink: $(cat "$SCRATCH/stdout")"
far_same "a .yunbak-drill-pg symlink"
rm "$SB/.yunbak-drill-pg" && mkdir -m 0711 "$SB/.yunbak-drill-pg" && ln -s "$SCRATCH/far/dumps" "$SB/.yunbak-drill-pg/dumps"
expect_exit 1 yb-drill-pg "$SB" 120 "" 'hr-db|dump|hr|1|SELECT 1'
grep -q "^start: the restored point holds $SB/.yunbak-drill-pg/dumps, the name of a directory of the drill's own" "$SCRATCH/stdout" ||
        die "a .yunbak-drill-pg/dumps symlink: $(cat "$SCRATCH/stdout")"
far_same "a .yunbak-drill-pg/dumps symlink"
rm -rf "$SB" && mkdir -p "$SB"
ln -s "$SCRATCH/sb-dump/_streams" "$SB/_streams"
expect_exit 1 yb-drill-pg "$SB" 120 "" 'hr-db|dump|hr|1|SELECT 1'
grep -q "^start: the restored point's $SB/_streams/hr-db.pgdump is reached through a symlink" "$SCRATCH/stdout" ||
        die "a _streams symlink: $(cat "$SCRATCH/stdout")"
rm -rf "$SB" && mkdir -p "$SB"
ln -s "$SCRATCH/sb-latest/_pg" "$SB/_pg"
owner=$(stat -c %u "$SCRATCH/sb-latest/_pg/db/data")
expect_exit 1 yb-drill-pg "$SB" 120 "" 'db|physical|postgres|1|SELECT 1'
grep -q "^start: the restored point's $SB/_pg/db/data is reached through a symlink" "$SCRATCH/stdout" ||
        die "a _pg symlink: $(cat "$SCRATCH/stdout")"
[ "$(stat -c %u "$SCRATCH/sb-latest/_pg/db/data")" = "$owner" ] || die "a _pg symlink: the data directory behind it was given away"
[ ! -e "$SCRATCH/sb-latest/_pg/db/data/postmaster.pid" ] || die "a _pg symlink: a cluster was started behind it"
! pgrep -f -- "$SCRATCH/sb-latest" >/dev/null || die "a _pg symlink: processes are left: $(pgrep -af -- "$SCRATCH/sb-latest")"
exit 0
