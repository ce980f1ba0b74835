#!/bin/sh
# yunbak restore --load: a dump backup (the stream yunbakd passes for a postgresql hook in mode
# dump) loaded into a new empty database equals the source: per table its row count, a sum and a
# hash of all its rows in key order (a non-ASCII text column, NULLs, bytea, numeric), the large
# objects, and the sequences' values. The private directory the dump is restored into is gone
# after; pg_restore's output is kept. pg_restore 15 loads a dump written to a pipe (no data
# offsets) with parallel workers. With two dumps, NAME=CONNINFO picks each. Refused with what to
# do: a database that is not empty, one that does not exist, a conninfo that reaches nothing
# (libpq's whole message), a snapshot without a dump (or whose dump failed), a bare conninfo or
# an unknown NAME with two dumps. pg_restore's failure is shown whole; a signal stops the load and
# removes the private directory.
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/pg-lib.sh"
pg_init "$SCRATCH/pg"
pg_start "$PGDIR"

sql postgres "CREATE DATABASE hr"
sql postgres "CREATE DATABASE fin"
sql hr "CREATE TABLE staff (id serial PRIMARY KEY, name text NOT NULL, note text, photo bytea,
                born date, salary numeric(10,2));
        INSERT INTO staff (name, note, photo, born, salary)
                SELECT '员工 ' || g || ' Ünïcødé ✓', CASE WHEN g % 7 = 0 THEN NULL ELSE md5(g::text) END,
                        CASE WHEN g % 5 = 0 THEN NULL ELSE decode(md5(g::text) || md5((g * 3)::text), 'hex') END,
                        CASE WHEN g % 11 = 0 THEN NULL ELSE date '1960-01-01' + g % 15000 END,
                        (g * 37 % 100000) / 7.0
                FROM generate_series(1, 30000) g;
        CREATE TABLE dept (code text PRIMARY KEY, title text, head int REFERENCES staff);
        INSERT INTO dept SELECT 'D' || g, '部门 ' || g, CASE WHEN g % 3 = 0 THEN NULL ELSE g END
                FROM generate_series(1, 200) g;
        CREATE TABLE events (id bigint PRIMARY KEY, staff_id int REFERENCES staff, at timestamptz,
                payload jsonb);
        INSERT INTO events SELECT g, g % 30000 + 1, timestamptz '2026-01-01 00:00:00+00' + g * interval '1 min',
                jsonb_build_object('k', g, 'v', repeat('x', g % 50)) FROM generate_series(1, 40000) g;
        CREATE SEQUENCE ticket START 1000 INCREMENT 7;
        SELECT nextval('ticket') FROM generate_series(1, 13);
        SELECT lo_from_bytea(0, convert_to(repeat('大对象 large object ', 5000), 'UTF8'));
        SELECT lo_from_bytea(0, decode(repeat(md5('x'), 100), 'hex'));" >/dev/null
sql fin "CREATE TABLE ledger (id int PRIMARY KEY, amount numeric); INSERT INTO ledger SELECT g, g / 3.0 FROM generate_series(1, 5000) g;"

# facts DB: what must be equal after a load, one line each.
facts() {
        for t in staff dept events; do
                key=id
                [ "$t" = dept ] && key=code
                sql "$1" "SELECT '$t', count(*), md5(string_agg(t::text, E'\n' ORDER BY t.$key)) FROM $t t"
        done
        sql "$1" "SELECT 'sums', sum(salary), sum(length(photo)), count(note), count(born), (SELECT sum(head) FROM dept) FROM staff"
        sql "$1" "SELECT 'lo', count(*), md5(string_agg(md5(lo_get(oid)), ',' ORDER BY oid)) FROM pg_largeobject_metadata"
        sql "$1" "SELECT 'ticket', last_value, is_called FROM ticket"
        sql "$1" "SELECT 'staff_id_seq', last_value, is_called FROM staff_id_seq"
}
facts hr >"$SCRATCH/facts.src"
grep -q "^ticket|1084|t$" "$SCRATCH/facts.src" || die "the test's sequence is not where it was set: $(cat "$SCRATCH/facts.src")"
grep -q "^lo|2|" "$SCRATCH/facts.src" || die "the test's large objects are missing"

mkdir -p "$SCRATCH/store" "$SCRATCH/src/app"
printf 'x\n' >"$SCRATCH/src/app/file"
make_key hr
# The stream as yunbakd passes a postgresql hook in mode dump.
hook() { printf '_streams/%s.pgdump=pg_dump --format=custom --compress=0 --dbname=%s' "$1" "$(shquote "$(conninfo "$2")")"; }
backup() {
        yunbak-agent backup --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
                --level full --json "$@" >"$SCRATCH/backup.json" 2>"$SCRATCH/backup.err" || {
                cat "$SCRATCH/backup.err" >&2
                die "backup failed"
        }
        python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot"])' "$SCRATCH/backup.json"
}
load() { # SNAPSHOT TARGET ARGS...
        snap=$1 target=$2
        shift 2
        yunbak restore --store "$SCRATCH/store" --system hr --key "$SCRATCH/keys/hr.key" \
                --passphrase-file "$SCRATCH/pass" --snapshot "$snap" --target "$target" "$@"
}
snap_plain=$(backup "$SCRATCH/src/app")
snap_one=$(backup --stream "$(hook hr hr)")
snap_two=$(backup --stream "$(hook hr hr)" --stream "$(hook fin fin)" "$SCRATCH/src/app")

# 1. One dump, a bare conninfo, into a new empty database: equal in every fact.
sql postgres "CREATE DATABASE hr_new"
expect_exit 0 load "$snap_one" "$SCRATCH/t1" --load "$(conninfo hr_new)" --jobs 2
grep -q "^Loaded the dump '_streams/hr.pgdump' (.*) of snapshot $snap_one into database 'hr_new' with 2 pg_restore jobs in .* s; pg_restore's output is in $SCRATCH/t1/hr.pg_restore.log\.$" "$SCRATCH/stdout" ||
        die "the load did not say what it loaded: $(cat "$SCRATCH/stdout")"
facts hr_new | diff -u "$SCRATCH/facts.src" - >&2 || die "the loaded database differs from the source"
[ -f "$SCRATCH/t1/hr.pg_restore.log" ] || die "pg_restore's output was not kept"
[ "$(ls -A "$SCRATCH/t1")" = hr.pg_restore.log ] || die "the load left more than its log in the target: $(ls -A "$SCRATCH/t1")"

# A dump written to a pipe has no data offsets; pg_restore 15 still runs its table data items in
# parallel (two launched before any has finished), which is why --load passes --jobs as asked.
yunbak restore --store "$SCRATCH/store" --system hr --key "$SCRATCH/keys/hr.key" \
        --passphrase-file "$SCRATCH/pass" --snapshot "$snap_one" --target "$SCRATCH/plain" _streams >/dev/null
sql postgres "CREATE DATABASE hr_par"
pg_restore --verbose --exit-on-error --jobs 2 --dbname="$(conninfo hr_par)" "$SCRATCH/plain/_streams/hr.pgdump" \
        2>"$SCRATCH/par.log" || { cat "$SCRATCH/par.log" >&2; die "pg_restore --jobs 2 of the piped dump failed"; }
awk '/finished item .* TABLE DATA/ { exit } /launching item .* TABLE DATA/ { n++ } END { exit !(n >= 2) }' "$SCRATCH/par.log" ||
        die "pg_restore did not load the piped dump in parallel: $(cat "$SCRATCH/par.log")"

# 2. Into a database that is not empty: refused before anything is loaded, saying what it holds
#    and what to run.
expect_exit 1 load "$snap_one" "$SCRATCH/t2" --load "$(conninfo hr_new)"
expect_stderr "Cannot load the dump '_streams/hr.pgdump' into database 'hr_new': it is not empty \(it holds [0-9]+ relations \(tables, indexes, sequences, views\), 2 large objects\)\..*createdb -T template0"
[ -z "$(ls -A "$SCRATCH/t2")" ] || die "a refused load left files: $(ls -A "$SCRATCH/t2")"
sql postgres "CREATE DATABASE hr_table"
sql hr_table "CREATE TABLE t (x int)"
expect_exit 1 load "$snap_one" "$SCRATCH/t2" --load "$(conninfo hr_table)"
expect_stderr "into database 'hr_table': it is not empty \(it holds 1 relation\)"
[ "$(sql hr_table "SELECT count(*) FROM pg_class WHERE relname = 'staff'")" = 0 ] || die "a refused load loaded"

# 3. A database that does not exist, and a conninfo that reaches no server: PostgreSQL's whole
#    message (libpq's two lines for a socket that is not there), and what to do.
expect_exit 1 load "$snap_one" "$SCRATCH/t3" --load "$(conninfo no_such_db)"
expect_stderr "Cannot load the dump '_streams/hr.pgdump': the database given for it \(--load\) cannot be queried; psql exited with status 2 and said:"
expect_stderr "FATAL: +database \"no_such_db\" does not exist"
expect_stderr "The database must exist and be empty: create it with 'createdb -T template0 NAME'"
expect_exit 1 load "$snap_one" "$SCRATCH/t3" --load "host=$SCRATCH/nowhere dbname=x"
expect_stderr "connection to server on socket \"$SCRATCH/nowhere/\.s\.PGSQL\.5432\" failed: No such file or directory$"
expect_stderr "^	Is the server running locally and accepting connections on that socket\?$"
expect_exit 1 load "$snap_one" "$SCRATCH/t3" --load "host=$PGDIR bogus_option=1"
expect_stderr "invalid connection option \"bogus_option\""
[ -z "$(ls -A "$SCRATCH/t3")" ] || die "a failed load left files: $(ls -A "$SCRATCH/t3")"

# 4. A snapshot without a dump says so; a partial one whose dump failed (on_failure: continue)
#    says what it lacks too.
expect_exit 1 load "$snap_plain" "$SCRATCH/t4" --load "$(conninfo hr_new)"
expect_stderr "Snapshot $snap_plain of system 'hr' holds no database dump \(_streams/NAME.pgdump, from a postgresql hook in mode dump\): there is nothing to load"
expect_exit 3 yunbak-agent backup --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
        --level full --json --stream-optional "_streams/hr.pgdump=echo 'pg_dump: error: gone' >&2; exit 1" "$SCRATCH/src/app"
snap_partial=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot"])' "$SCRATCH/stdout")
expect_exit 1 load "$snap_partial" "$SCRATCH/t4" --load "$(conninfo hr_new)"
expect_stderr "lacks _streams/hr.pgdump: stream: its command exited with status 1 \(it said: \"pg_dump: error: gone\"\)"
expect_stderr "Snapshot $snap_partial of system 'hr' holds no database dump"

# 5. Two dumps: a bare conninfo is refused naming both; NAME=CONNINFO loads each into its own.
expect_exit 2 load "$snap_two" "$SCRATCH/t5" --load "$(conninfo hr_new)"
expect_stderr "Snapshot $snap_two of system 'hr' holds 2 database dumps \('hr', 'fin'\): say which to load with --load NAME=CONNINFO"
expect_exit 2 load "$snap_two" "$SCRATCH/t5" --load "hr2=$(conninfo hr_new)"
expect_stderr "holds 2 database dumps \('hr', 'fin'\) and none named 'hr2': say which"
expect_exit 2 load "$snap_two" "$SCRATCH/t5" --load "hr=$(conninfo a)" --load "hr=$(conninfo b)"
expect_stderr "The dump '_streams/hr.pgdump' of snapshot $snap_two is named by --load twice"
expect_exit 2 load "$snap_two" "$SCRATCH/t5" --jobs 0 --load "hr=$(conninfo a)"
expect_exit 2 load "$snap_two" "$SCRATCH/t5" --load "hr=$(conninfo a)" _streams
sql postgres "CREATE DATABASE hr_two"
sql postgres "CREATE DATABASE fin_two"
expect_exit 0 load "$snap_two" "$SCRATCH/t5" --json --load "fin=$(conninfo fin_two)" --load "hr=$(conninfo hr_two)"
python3 - "$SCRATCH/stdout" "$snap_two" <<'PY' || die "the JSON of the load: $(cat "$SCRATCH/stdout")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["snapshot"] == sys.argv[2], d
assert [(x["dump"], x["database"]) for x in d["loaded"]] == [("_streams/fin.pgdump", "fin_two"), ("_streams/hr.pgdump", "hr_two")], d
assert all(x["jobs"] >= 1 and x["bytes"] > 0 for x in d["loaded"]), d
PY
facts hr_two | diff -u "$SCRATCH/facts.src" - >&2 || die "the second load of hr differs from the source"
[ "$(sql fin_two "SELECT count(*), sum(amount) FROM ledger")" = "$(sql fin "SELECT count(*), sum(amount) FROM ledger")" ] ||
        die "the fin dump did not load to the same rows"
[ "$(ls -A "$SCRATCH/t5" | sort | tr '\n' ' ')" = "fin.pg_restore.log hr.pg_restore.log " ] ||
        die "the loads left more than their logs: $(ls -A "$SCRATCH/t5")"

# 6. pg_restore failing half way: its error whole, and where its output is kept. The database is
#    empty, but the role loading it may not create anything in it.
sql postgres "CREATE DATABASE hr_ro"
sql hr_ro "REVOKE CREATE ON SCHEMA public FROM PUBLIC; CREATE ROLE ro_loader LOGIN"
expect_exit 1 load "$snap_one" "$SCRATCH/t6" --load "host=$PGDIR user=ro_loader dbname=hr_ro"
expect_stderr "pg_restore could not load the dump '_streams/hr.pgdump' of snapshot $snap_one into database 'hr_ro': it exited with status 1 and said:"
expect_stderr "permission denied for schema public"
expect_stderr "pg_restore's whole output is in '$SCRATCH/t6/hr.pg_restore.log'"
grep -q "permission denied for schema public" "$SCRATCH/t6/hr.pg_restore.log" || die "pg_restore's output was not kept"
[ "$(ls -A "$SCRATCH/t6")" = hr.pg_restore.log ] || die "a failed load left more than its log: $(ls -A "$SCRATCH/t6")"

# 7. Stopped by a signal while psql waits on a server that never answers: psql goes too, the
#    private directory is removed, and yunbak ends by the signal.
mkdir "$SCRATCH/hang"
start_silent_server "$SCRATCH/hang/.s.PGSQL.5432"
trap 'kill $SILENT_PID 2>/dev/null || true; pg_stop_all; cleanup' EXIT
yunbak restore --store "$SCRATCH/store" --system hr --key "$SCRATCH/keys/hr.key" \
        --passphrase-file "$SCRATCH/pass" --snapshot "$snap_one" --target "$SCRATCH/t7" \
        --load "host=$SCRATCH/hang dbname=hung" >"$SCRATCH/t7.out" 2>"$SCRATCH/t7.err" &
yb=$!
psql_hung="pgrep -f '^psql .*host=$SCRATCH/hang dbname=hung' >/dev/null"
wait_for "psql never started on the silent server" "$psql_hung"
kill -TERM "$yb"
set +e
wait "$yb"
rc=$?
set -e
[ "$rc" = 143 ] || { cat "$SCRATCH/t7.err" >&2; die "yunbak stopped with $rc, not by SIGTERM"; }
grep -q "Stopped by signal 15 (Terminated): the load stopped before pg_restore ran for the next dump\. The private directory in '$SCRATCH/t7' was removed\." "$SCRATCH/t7.err" ||
        die "the stop was not said: $(cat "$SCRATCH/t7.err")"
[ -z "$(ls -A "$SCRATCH/t7")" ] || die "a stopped load left files: $(ls -A "$SCRATCH/t7")"
wait_for "psql outlived the stopped load" "! $psql_hung"
kill "$SILENT_PID"
echo "pg-load: ok"
