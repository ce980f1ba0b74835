#!/bin/sh
# A PostgreSQL dump streamed into a backup (yunbak-agent --stream), as yunbakd passes a postgresql
# hook: pg_dump's output is stored as a file of the snapshot and pg_restore brings the same rows
# back; after a small change the next dump is stored as a small delta against the last one and
# restores byte for byte as pg_dump wrote it; while the dump is spooled the agent's state directory holds only ciphertext (a marker in
# the data never shows up there, nor in the store), and an altered spool is caught; a failing
# dump fails the backup naming the stream and commits nothing; a stream cannot take a source's
# name; a full spool file system is exit 7; every chunk boundary of the spool round-trips.
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/pg-lib.sh"
pg_init "$SCRATCH/pg"
pg_start "$PGDIR"

# The database name has a space, so the connection string quotes it: the command line below
# must carry those quotes through the shell intact.
DB="hr data"
CONN=$(conninfo "$DB")

MARKER=MARKER-plaintext-5e0c9a
sql postgres "CREATE DATABASE \"$DB\""
sql "$DB" "CREATE TABLE staff (id int PRIMARY KEY, name text NOT NULL, note text);
        INSERT INTO staff SELECT g, '员工 ' || g, '$MARKER ' || repeat(md5(g::text), 3)
                FROM generate_series(1, 40000) g;
        CREATE TABLE salary (staff_id int REFERENCES staff, month date, amount numeric(10,2));
        INSERT INTO salary SELECT g % 40000 + 1, date '2026-01-01' + (g % 12) * interval '1 month',
                (g * 37 % 100000) / 7.0 FROM generate_series(1, 20000) g;"
rows() { # DATABASE: every row of every table, in a stable order
        sql "$1" "SELECT * FROM staff ORDER BY id" && sql "$1" "SELECT * FROM salary ORDER BY 1, 2, 3"
}
rows "$DB" >"$SCRATCH/rows.orig"
[ "$(wc -l <"$SCRATCH/rows.orig")" -eq 60000 ] || die "the test database does not hold its rows"

# Without compression the marker is in pg_dump's output in the clear (so that finding it nowhere
# below means something); the size tells how much of it the spool must hold before we look.
PLAIN_DUMP="pg_dump --format=custom --compress=0 --dbname=$(shquote "$CONN")"
DUMP_SIZE=$(sh -c "$PLAIN_DUMP" | wc -c)
sh -c "$PLAIN_DUMP" | grep -a -q "$MARKER" || die "the uncompressed dump does not show the marker"
[ "$DUMP_SIZE" -gt 3000000 ] || die "the dump is too small ($DUMP_SIZE bytes) to span spool chunks"

SRC="$SCRATCH/src/app"
mkdir -p "$SRC/etc" "$SCRATCH/store"
printf 'listen: 8443\n' >"$SRC/etc/app.yaml"
head -c 100000 /dev/urandom >"$SRC/blob"
age_recent "$SRC"
make_key hr
STATE="$YUNBAK_AGENT_STATE_DIR"
yunbak-agent identity >/dev/null # creates the state directory and the agent's key
backup() { # LEVEL ARGS...
        level=$1
        shift
        yunbak-agent backup --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
                --level "$level" "$@"
}
count() { yunbak snapshots --store "$SCRATCH/store" --system hr --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
restore() { # TARGET [PATH...]
        t=$1
        shift
        rm -rf "$t"
        yunbak restore --store "$SCRATCH/store" --system hr --key "$SCRATCH/keys/hr.key" \
                --passphrase-file "$SCRATCH/pass" --target "$t" "$@" >/dev/null
}

# spool.sh AGENT-PID MIN-BYTES copy|tamper OUT: waits (bounded) until the agent's spool, an
# unnamed file in its state directory, holds MIN-BYTES, then copies it to OUT, or flips a bit of
# its byte 5000 (so that it differs whatever it was). Run by a stream's command once its dump
# is written, while the agent still spools.
cat >"$SCRATCH/spool.sh" <<EOF
agent=\$1 want=\$2 action=\$3 out=\$4 i=0
while :; do
        for f in /proc/\$agent/fd/*; do
                case \$(readlink "\$f" 2>/dev/null) in
                "$STATE"/*" (deleted)") ;;
                *) continue ;;
                esac
                [ "\$(stat -L -c %s "\$f")" -ge "\$want" ] || continue
                if [ "\$action" = copy ]; then
                        cat "\$f" >"\$out"
                else
                        python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
b = os.pread(fd, 1, 5000)
os.pwrite(fd, bytes([b[0] ^ 1]), 5000)' "\$f"
                fi
                exit 0
        done
        i=\$((i + 1))
        [ \$i -lt 1200 ] || { echo "no spool of \$want bytes under $STATE" >&2; exit 1; }
        sleep 0.05
done
EOF

# 1. A full backup: the stream exactly as yunbakd passes a postgresql hook, a dump whose spool is
#    copied while it is written, and a normal path.
HOOK_DUMP="pg_dump --format=custom --compress=0 --dbname=$(shquote "$CONN")"
# Everything but the last spool chunk (1 MiB) is on disk once pg_dump is done.
WANT=$((DUMP_SIZE - 1100000))
t0=$(date +%s)
backup full --json --stream "_streams/hr-db.pgdump=$HOOK_DUMP" \
        --stream "_streams/plain.pgdump=$PLAIN_DUMP && sh $SCRATCH/spool.sh \$PPID $WANT copy $SCRATCH/spool.copy" \
        "$SRC" >"$SCRATCH/full.json" 2>"$SCRATCH/full.err" || {
        cat "$SCRATCH/full.err" >&2
        die "the backup with streams failed"
}
t1=$(date +%s)
python3 - "$SCRATCH/full.json" <<'PY' || die "the JSON summary does not account for the streams"
import json, sys
d = json.load(open(sys.argv[1]))
names = [s["name"] for s in d["streams"]]
assert names == ["_streams/hr-db.pgdump", "_streams/plain.pgdump"], d
assert all(s["bytes"] > 0 for s in d["streams"]), d
assert d["files"] == 4 and d["whole"] == 4 and d["errors"] == 0, d
PY

# What the agent had on disk while the dump was spooled: ciphertext, no marker.
[ -f "$SCRATCH/spool.copy" ] || die "the spool was not found"
[ "$(stat -c %s "$SCRATCH/spool.copy")" -ge "$WANT" ] || die "the spool copy is short"
! grep -a -q "$MARKER" "$SCRATCH/spool.copy" || die "the spool holds the dump in the clear"
! grep -a -q "PGDMP" "$SCRATCH/spool.copy" || die "the spool holds a pg_dump header in the clear"
# And nothing of it is left, in the state directory or the store.
! grep -r -a -l "$MARKER" "$STATE" "$SCRATCH/store" || die "the marker is on disk in the clear"
leftover=$(find "$STATE" -type f ! -name agent.key ! -path "$STATE/cache/*")
[ -z "$leftover" ] || die "the agent left files in its state directory: $leftover"

restore "$SCRATCH/out"
tree_digest "$SRC" >"$SCRATCH/src.digest"
tree_digest "$SCRATCH/out/app" | diff -u "$SCRATCH/src.digest" - >&2 || die "the path did not restore"
F="$SCRATCH/out/_streams/hr-db.pgdump"
[ -f "$F" ] || die "the stream was not restored as a file"
[ "$(stat -c %a "$F")" = 600 ] || die "the stream's mode is $(stat -c %a "$F"), not 600"
m=$(stat -c %Y "$F")
[ "$m" -ge "$t0" ] && [ "$m" -le "$t1" ] || die "the stream's mtime $m is not the time of the dump"
[ "$(stat -c %a "$SCRATCH/out/_streams")" = 700 ] || die "the streams' directory is not 0700"
grep -a -q "$MARKER" "$SCRATCH/out/_streams/plain.pgdump" || die "the uncompressed dump lost its rows"
sql postgres "CREATE DATABASE \"hr restored\""
pg_restore --exit-on-error --dbname="$(conninfo "hr restored")" "$F" ||
        die "pg_restore of the restored dump failed"
rows "hr restored" >"$SCRATCH/rows.restored"
cmp -s "$SCRATCH/rows.orig" "$SCRATCH/rows.restored" || die "the restored database has other rows"
yunbak verify --store "$SCRATCH/store" --system hr --deep --key "$SCRATCH/keys/hr.key" \
        --passphrase-file "$SCRATCH/pass" >/dev/null || die "deep verify failed"

# 2. After a small change, an incremental stores the dump as a delta against the full's: a
#    small fraction of the dump (bytes stored, as the summary counts them after compression),
#    restored byte for byte as pg_dump wrote it (the stream's command keeps a copy of its
#    output), with the new rows; and again on top of that delta.
day=2
for change in "INSERT INTO staff VALUES (40001, 'new hire', 'day two'); DELETE FROM salary WHERE staff_id = 7;" \
        "UPDATE staff SET note = 'promoted' WHERE id = 20000; INSERT INTO salary VALUES (40001, '2026-02-01', 1234.5);"; do
        sql "$DB" "$change"
        rows "$DB" >"$SCRATCH/rows.day$day"
        backup incremental --json --stream "_streams/hr-db.pgdump=$HOOK_DUMP | tee $SCRATCH/own$day.pgdump" \
                "$SRC" >"$SCRATCH/incr.json" 2>"$SCRATCH/incr.err" || {
                cat "$SCRATCH/incr.err" >&2
                die "the incremental with a stream failed"
        }
        python3 - "$SCRATCH/incr.json" "$day" <<'PY' || die "day $day: the dump was not stored as a small delta: $(cat "$SCRATCH/incr.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["level"] == "incremental" and d["whole"] == 0 and d["delta"] == 1, d
assert d["unchanged"] == 2, d
s = d["streams"][0]
assert s["delta"] is True and s["bytes"] > 3000000, s
# A row or two changed in a dump of 60000: the delta holds a few 4 KiB blocks, not the dump.
assert s["stored"] < s["bytes"] // 20 and d["bytes_stored"] < s["bytes"] // 20, (s, d["bytes_stored"])
print("day %s: dump %d bytes, delta %d bytes, %d bytes stored" % (sys.argv[2], s["bytes"], s["stored"], d["bytes_stored"]), file=sys.stderr)
PY
        grep -q "Stream '_streams/hr-db.pgdump': .*, stored as a delta of .* against snapshot " "$SCRATCH/incr.err" ||
                die "the agent did not say the dump was stored as a delta: $(cat "$SCRATCH/incr.err")"
        restore "$SCRATCH/out$day" _streams
        [ ! -e "$SCRATCH/out$day/app" ] || die "restoring _streams restored the source too"
        cmp "$SCRATCH/own$day.pgdump" "$SCRATCH/out$day/_streams/hr-db.pgdump" ||
                die "day $day: the dump restored from its delta is not what pg_dump wrote"
        sql postgres "CREATE DATABASE \"hr day$day\""
        pg_restore --exit-on-error --dbname="$(conninfo "hr day$day")" "$SCRATCH/out$day/_streams/hr-db.pgdump" ||
                die "pg_restore of the incremental's dump failed"
        rows "hr day$day" | cmp -s "$SCRATCH/rows.day$day" - || die "the incremental's dump has other rows"
        day=$((day + 1))
done
yunbak verify --store "$SCRATCH/store" --system hr --deep --key "$SCRATCH/keys/hr.key" \
        --passphrase-file "$SCRATCH/pass" >/dev/null || die "deep verify of the dumps' deltas failed"

# 3. A failing dump fails the backup, names the stream and why, and commits nothing.
n=$(count)
expect_exit 1 backup incremental --stream "_streams/bad.pgdump=echo half a dump; echo 'dump failed: disk on fire' >&2; exit 3" "$SRC"
expect_stderr "_streams/bad.pgdump: dump failed: disk on fire"
expect_stderr "Stream '_streams/bad.pgdump' failed: its command exited with status 3 .*nothing was committed"
expect_exit 1 backup incremental --stream "_streams/gone.pgdump=pg_dump --format=custom --dbname=$(shquote "$(conninfo no-such-db)")" "$SRC"
expect_stderr "Stream '_streams/gone.pgdump' failed: its command exited with status 1 \(it said: .*no-such-db.*does not exist"
# pg_dump says what went wrong over several lines, libpq indenting the last with a tab: the
# message keeps them all, on the one line yunbakd records (the agent's last), tabs as spaces.
expect_exit 1 backup incremental --stream "_streams/down.pgdump=pg_dump --format=custom --dbname=$(shquote "host=$SCRATCH/nowhere dbname=x")" "$SRC"
expect_stderr "Stream '_streams/down.pgdump' failed: its command exited with status 1 \(it said: \"pg_dump: error: connection to server on socket \"[^ ]*/nowhere/\.s\.PGSQL\.5432\" failed: No such file or directory \| Is the server running locally and accepting connections on that socket\?\"\)"
tail -n 1 "$SCRATCH/stderr" | grep -q "failed: No such file or directory | Is the server running" ||
        die "the agent's last line does not hold pg_dump's whole message: $(tail -n 1 "$SCRATCH/stderr")"
# A command that says more than the message holds (1 KiB): its last lines, the oldest dropped.
expect_exit 1 backup incremental --stream "_streams/noisy=i=0; while [ \$i -lt 200 ]; do echo \"progress \$i\" >&2; i=\$((i + 1)); done; echo 'the real error' >&2; exit 2" "$SRC"
expect_stderr "Stream '_streams/noisy' failed: its command exited with status 2 \(it said: \"\.\.\. \| (progress [0-9]+ \| )+progress 199 \| the real error\"\)"
[ "$(tail -n 1 "$SCRATCH/stderr" | wc -c)" -lt 1200 ] || die "a noisy command's message was not capped"
expect_exit 1 backup incremental --stream "_streams/killed=kill -KILL \$\$" "$SRC"
expect_stderr "Stream '_streams/killed' failed: its command was killed by signal 9"
[ "$(count)" = "$n" ] || die "a failed stream committed a snapshot"

# 3b. An optional stream (on_failure: continue) that fails is left out; the rest is committed,
# partial, with the stream named among the skipped entries; a good stream beside it is kept.
expect_exit 3 backup incremental --json \
        --stream-optional "_streams/bad.pgdump=echo half a dump; echo 'dump failed: disk on fire' >&2; exit 3" \
        --stream-optional "_streams/good.txt=echo fine" "$SRC"
expect_stderr "Skipped '_streams/bad.pgdump': stream: its command exited with status 3 \(it said: \"dump failed: disk on fire\"\)"
python3 - "$SCRATCH/stdout" <<'PY' || die "the partial backup's summary: $(cat "$SCRATCH/stdout")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["partial"] is True and s["errors"] == 1, s
assert s["skipped"] == [{"path": "_streams/bad.pgdump", "error": 'stream: its command exited with status 3 (it said: "dump failed: disk on fire")'}], s["skipped"]
assert [x["name"] for x in s["streams"]] == ["_streams/good.txt"], s["streams"]
PY
[ "$(count)" = "$((n + 1))" ] || die "the partial backup with an optional stream was not committed"
partial_snap=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot"])' "$SCRATCH/stdout")
cp "$SCRATCH/stdout" "$SCRATCH/partial.json"
expect_exit 3 yunbak restore --store "$SCRATCH/store" --system hr --snapshot "$partial_snap" --key "$SCRATCH/keys/hr.key" \
        --passphrase-file "$SCRATCH/pass" --target "$SCRATCH/out-partial"
expect_stderr "lacks _streams/bad.pgdump: stream: its command exited with status 3"
[ "$(cat "$SCRATCH/out-partial/_streams/good.txt")" = fine ] || die "the good optional stream is not in the snapshot"
[ ! -e "$SCRATCH/out-partial/_streams/bad.pgdump" ] || die "the failed optional stream is in the snapshot"
# The directory above the streams is recorded even though the first stream under it failed: as
# many directories as a backup with the good stream alone.
expect_exit 0 backup incremental --json --stream-optional "_streams/good.txt=echo fine" "$SRC"
python3 - "$SCRATCH/partial.json" "$SCRATCH/stdout" <<'PY' || die "the partial backup lost the _streams directory"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
assert a["dirs"] == b["dirs"], (a["dirs"], b["dirs"])
PY
n=$(count)
[ -z "$(ls "$SCRATCH/store/hr/tmp" 2>/dev/null)" ] || die "a failed stream left files in the store"

# An agent stopped while a stream runs (yunbakd's timeout) stops what the command started too,
# and commits nothing.
yunbak-agent backup --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
        --level incremental --stream "_streams/slow=sleep 600 & echo \$! >$SCRATCH/slow.pid; wait" \
        "$SRC" >/dev/null 2>&1 &
agent=$!
i=0
until [ -s "$SCRATCH/slow.pid" ]; do
        i=$((i + 1))
        [ $i -lt 1200 ] || die "the slow stream did not start"
        sleep 0.05
done
kill -TERM "$agent"
set +e
wait "$agent"
rc=$?
set -e
[ "$rc" = 143 ] || die "the agent stopped with $rc, not by SIGTERM"
# The sleep by its command line, not its number alone: with pid_max 32768 and a busy machine
# the number may be another process's within the minute (another test's server as nobody).
slow_alive() {
        tr '\0' ' ' <"/proc/$(cat "$SCRATCH/slow.pid")/cmdline" 2>/dev/null | grep -q '^sleep 600 $'
}
i=0
while slow_alive; do
        i=$((i + 1))
        [ $i -lt 1200 ] || die "the stream's command outlived the agent: $(ps -o pid,user,etime,args -p "$(cat "$SCRATCH/slow.pid")")"
        sleep 0.05
done
[ "$(count)" = "$n" ] || die "a stopped agent committed a snapshot"

# 4. An altered spool is caught when it is read back.
head -c 3000000 /dev/urandom >"$SCRATCH/rand.bin"
expect_exit 1 backup incremental --stream "_streams/x=cat $SCRATCH/rand.bin && sh $SCRATCH/spool.sh \$PPID 10000 tamper -" "$SRC"
expect_stderr "spool of stream '_streams/x' .* did not read back as it was written"
[ "$(count)" = "$n" ] || die "a snapshot was committed from an altered spool"

# 5. Names: a stream may not take a source's name or lie below it, nor climb out.
for name in app app/db.pgdump ../db.pgdump /db.pgdump _streams//x; do
        expect_exit 2 backup incremental --stream "$name=echo x" "$SRC"
done
expect_exit 2 backup incremental --stream "app=echo x" "$SRC"
expect_stderr "Stream 'app' collides with source '.*/app'"
expect_exit 2 backup incremental --stream "_s/a=echo" --stream "_s/a/b=echo" "$SRC"
expect_stderr "collide"
[ "$(count)" = "$n" ] || die "a refused stream committed a snapshot"

# 6. The spool's chunk boundaries: every size around chunks of 1, 2, 3 and 7 bytes (fault-
#    injection builds honour YB_TEST_SPOOL_CHUNK; others use 1 MiB chunks), streams only.
head -c 40 /dev/urandom >"$SCRATCH/small.bin"
for chunk in 1 2 3 7 1048576; do
        set --
        for size in 0 1 2 3 6 7 8 13 14 15 40; do
                set -- "$@" --stream "s$size.bin=head -c $size $SCRATCH/small.bin"
        done
        YB_TEST_SPOOL_CHUNK=$chunk backup incremental "$@" >/dev/null 2>"$SCRATCH/stderr" || {
                cat "$SCRATCH/stderr" >&2
                die "streams with $chunk-byte spool chunks failed"
        }
        restore "$SCRATCH/out3"
        for size in 0 1 2 3 6 7 8 13 14 15 40; do
                head -c "$size" "$SCRATCH/small.bin" | cmp -s - "$SCRATCH/out3/s$size.bin" ||
                        die "a $size-byte stream with $chunk-byte chunks did not round-trip"
        done
done

# 7. A spool that does not fit: exit 7, the stream and the place named, nothing committed.
n=$(count)
head -c 300000 /dev/urandom >"$SCRATCH/rand-small.bin"
found=""
i=1
while [ $i -lt 100 ]; do
        set +e
        YB_FAULT=write:$i YB_TEST_SPOOL_CHUNK=65536 backup incremental \
                --stream "_streams/x=cat $SCRATCH/rand-small.bin" "$SRC" >/dev/null 2>"$SCRATCH/stderr"
        rc=$?
        set -e
        [ "$rc" = 0 ] && break
        [ "$rc" = 7 ] || { cat "$SCRATCH/stderr" >&2; die "write:$i: exit $rc, not 7"; }
        [ "$(count)" = "$n" ] || die "write:$i: a snapshot was committed"
        grep -q "stream '_streams/x' does not fit in '$STATE'" "$SCRATCH/stderr" && found=yes
        i=$((i + 1))
done
if grep -q "^YB_FAULT_INJECTION:BOOL=ON" "$BIN/CMakeCache.txt" 2>/dev/null; then
        [ -n "$found" ] || die "no failed spool write was reported as such"
fi
n=$(count) # the loop ended with a backup that went through
if is_root && mkdir "$SCRATCH/small-state" && mount -t tmpfs -o size=2m tmpfs "$SCRATCH/small-state" 2>/dev/null; then
        trap 'umount "$SCRATCH/small-state" 2>/dev/null || true; pg_stop_all; cleanup' EXIT
        expect_exit 7 backup incremental --state-dir "$SCRATCH/small-state" \
                --stream "_streams/x=cat $SCRATCH/rand.bin" "$SRC"
        expect_stderr "stream '_streams/x' does not fit in '$SCRATCH/small-state'.*Free space there"
        [ "$(count)" = "$n" ] || die "a snapshot was committed with a full spool"
        [ -z "$(find "$SCRATCH/small-state" -type f ! -name agent.key)" ] || die "a full spool left files"
        umount "$SCRATCH/small-state"
fi
echo "pg-stream: ok"
