#!/bin/sh
# WAL archive without tier 2: a PostgreSQL cluster whose archive_command is
# `yunbak-agent wal-archive`. Before any base backup a WAL file is acknowledged (exit 0) with a
# message saying no backup needs it yet. After a base, pgbench's WAL (forced out by
# pg_switch_wal) lands in the base's chain, one segment per WAL file (`snapshots --segments`
# counts them), and `restore --at` the chain's last point (and a drill of it, with the recovery
# settings) gives back each file byte for byte as the server's pg_wal holds it. While a backup holds the repository lock, archiving waits and its
# files land in the new base's chain. The same file handed over again is 0; other bytes under
# that name are refused. An archiver killed mid-commit (YB_FAULT=kill:N) commits nothing and
# PostgreSQL's retry succeeds; so does its retry once a store that was away is back. `yunbak
# prune` removes a base together with its WAL chain.
#
# The postgresql.conf lines are those `yunbak policy explain` prints for the policy's physical
# hook. As root the server runs as nobody, and so does its archive_command: the store, the agent's
# state directory and the public key are nobody's (or readable by it), and the test's backups
# and prunes run as nobody too, so that everyone writes the store as one user.
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/pg-lib.sh"

STORE="$SCRATCH/store"
STATE="$YUNBAK_AGENT_STATE_DIR"
CTL="$SCRATCH/ctl" # the fault the archiver's next run takes, written by the test
mkdir -p "$STORE" "$STATE" "$CTL"
make_key hr
if is_root; then
        chown nobody:nogroup "$STORE" "$STATE" "$CTL"
        chmod 755 "$SCRATCH/keys"
        chmod 644 "$SCRATCH/keys/hr.pub"
fi
pg_init "$SCRATCH/pg"

# The settings come from `yunbak policy explain`, as an operator takes them: its three lines go
# into postgresql.conf with the placeholders filled in (the store and the key as this host has
# them), and yunbak-agent is reached through a small script that hands it a fault once when
# asked, then notes what the killed run left under the store's tmp/ (before PostgreSQL retries).
# The agent's state directory is the server's environment's ($YUNBAK_AGENT_STATE_DIR).
cat >"$SCRATCH/hr.yaml" <<EOF
version: 1
system: {id: hr, name: HR, department: HR bureau, contact: ops, classification: general}
sources:
  host: db01
  paths: [/srv/hr]
  hooks:
    - {name: db, type: postgresql, mode: physical}
tier1:
  store: local
  full: Sun *-*-* 02:00 UTC
  incremental: Mon..Sat *-*-* 02:00 UTC
objectives: {rpo: 1d, rto: 8h}
drill: {every: 1y}
EOF
yunbak policy explain "$SCRATCH/hr.yaml" >"$SCRATCH/explain.txt" || die "policy explain failed"
grep -q "archive_command = 'yunbak-agent wal-archive --store STORE_URL --system hr --public-key PUBLIC_KEY_FILE --postgresql db %p %f'" "$SCRATCH/explain.txt" ||
        die "explain does not print the archive_command: $(cat "$SCRATCH/explain.txt")"
grep -q "why archive_timeout: " "$SCRATCH/explain.txt" || die "explain does not say why archive_timeout"
yunbak policy explain "$SCRATCH/hr.yaml" --json | python3 -c '
import json, sys
hook = json.load(sys.stdin)["sources"]["hooks"][0]["wal_archive"]
assert hook["lines"][0] == "archive_mode = on" and hook["lines"][2] == "archive_timeout = 60", hook
assert "the RPO between backups is 60 s at most" in hook["why"], hook
for line in hook["lines"]:
        print(line.replace("STORE_URL", sys.argv[1]).replace("PUBLIC_KEY_FILE", sys.argv[2])
                  .replace("yunbak-agent wal-archive", sys.argv[3] + " wal-archive"))
' "$STORE" "$SCRATCH/keys/hr.pub" "$SCRATCH/archive.sh" >>"$PGDIR/data/postgresql.conf"
cat >"$SCRATCH/archive.sh" <<EOF
#!/bin/sh
fault=
if [ -f "$CTL/fault" ]; then
        fault=\$(cat "$CTL/fault")
        rm -f "$CTL/fault"
fi
YB_FAULT=\$fault "$BIN/yunbak-agent" "\$@"
rc=\$?
[ -z "\$fault" ] || ls "$STORE/hr/tmp" >"$CTL/left"
exit \$rc
EOF
chmod 755 "$SCRATCH/archive.sh"
# wal_keep_size keeps every archived file in pg_wal, so that the test can compare them; the test
# switches WAL files itself, so archive_timeout's own switches would only blur its counts.
pg_start "$PGDIR" -c archive_timeout=0 -c wal_keep_size=1GB -c log_min_messages=info
LOG="$PGDIR/server.log"
CONN=$(conninfo postgres)

as_agent() { as_pg env YUNBAK_AGENT_STATE_DIR="$STATE" "$@"; }
backup() { # LEVEL ARGS...: a physical base backup as the archiver's user; prints its id
        level=$1
        shift
        as_agent yunbak-agent backup --store "$STORE" --system hr \
                --public-key "$SCRATCH/keys/hr.pub" --level "$level" --json \
                --postgresql "db=$CONN" "$@" >"$SCRATCH/backup.json" 2>"$SCRATCH/backup.err" || {
                cat "$SCRATCH/backup.err" >&2
                die "the $level base backup failed"
        }
        python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot"])' \
                "$SCRATCH/backup.json"
}
archiver() { sql postgres "SELECT $1 FROM pg_stat_archiver"; }
# switch_wal: writes a little, ends the current WAL file, prints its name.
switch_wal() {
        sql postgres "INSERT INTO t VALUES (1)"
        sql postgres "SELECT pg_walfile_name(pg_switch_wal())"
}
# poll WHAT CMD...: runs CMD every 50 ms until it succeeds, for a minute at most (then fails the
# test with WHAT and the server log's tail).
poll() {
        what=$1
        shift
        i=0
        until "$@"; do
                i=$((i + 1))
                [ $i -lt 1200 ] || { tail -n 30 "$LOG" >&2; die "$what"; }
                sleep 0.05
        done
}
archived() { [ "$(sql postgres "SELECT last_archived_wal >= '$1' FROM pg_stat_archiver")" = t ]; }
wait_archived() { poll "$1 was not archived" archived "$1"; }
segments() { # ROOT: how many segments its chain holds
        yunbak snapshots --store "$STORE" --system hr --segments "$1" --json |
                python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'
}
chain_of() { # WAL: the base whose chain the agent said it went into
        sed -n "s/.*Archived $1 of cluster 'db' into .* of the WAL chain of base \([^ .]*\)\..*/\1/p" \
                "$LOG" | tail -n 1
}

sql postgres "CREATE TABLE t (v int)"

# 1. No base yet: acknowledged, said why.
W0=$(switch_wal)
wait_archived "$W0"
grep -q "$W0 of cluster 'db' is not needed by any backup yet" "$LOG" ||
        die "no message that $W0 is needed by no backup yet: $(tail -n 5 "$LOG")"
[ ! -d "$STORE/hr/segments" ] || die "a WAL file was stored without a base"

# 2. A base, then pgbench's WAL: one segment per WAL file in the base's chain.
B1=$(backup full)
pgbench -h "$PGDIR" -U "$DBUSER" -i -s 2 -q postgres >"$SCRATCH/pgbench.log" 2>&1 ||
        die "pgbench -i failed: $(cat "$SCRATCH/pgbench.log")"
pgbench -h "$PGDIR" -U "$DBUSER" -t 300 -c 2 postgres >>"$SCRATCH/pgbench.log" 2>&1 ||
        die "pgbench failed: $(cat "$SCRATCH/pgbench.log")"
switch_wal >/dev/null
W1=$(switch_wal)
wait_archived "$W1"
[ "$(chain_of "$W1")" = "$B1" ] || die "$W1 did not go into the chain of base $B1"
N1=$(grep -c "of the WAL chain of base $B1" "$LOG")
[ "$N1" -ge 3 ] || die "only $N1 WAL files went into the chain of $B1"
[ "$(segments "$B1")" -eq "$N1" ] || die "chain $B1 holds $(segments "$B1") segments, the agent archived $N1 WAL files"

# The chain's last point restores every archived WAL file byte for byte.
LAST=$(yunbak snapshots --store "$STORE" --system hr --segments "$B1" --json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["finished"])')
yunbak restore --store "$STORE" --system hr --key "$SCRATCH/keys/hr.key" \
        --passphrase-file "$SCRATCH/pass" --at "$LAST" --target "$SCRATCH/out" >/dev/null 2>&1 ||
        die "restore --at $LAST failed"
n=0
for w in $(grep -o "Archived [0-9A-F]\{24\} of cluster 'db' into .* of the WAL chain of base $B1" "$LOG" |
        cut -d' ' -f2); do
        cmp "$SCRATCH/out/_pg/db/wal/$w" "$PGDIR/data/pg_wal/$w" || die "restored $w differs from the server's"
        n=$((n + 1))
done
[ "$n" -eq "$N1" ] || die "compared $n WAL files of $N1"
yunbak verify --store "$STORE" --system hr >/dev/null || die "the store does not verify"
# A drill of that point (tier 1 with its WAL archive) lays out what the restore did: the base
# with every archived WAL file and the recovery settings, so that its cluster recovers to the
# point, not to the base.
expect_exit 0 yunbak drill --no-record --store "$STORE" --system hr --key "$SCRATCH/keys/hr.key" \
        --passphrase-file "$SCRATCH/pass" --sandbox "$SCRATCH/drill-sb" --keep
for w in $(grep -o "Archived [0-9A-F]\{24\} of cluster 'db' into .* of the WAL chain of base $B1" "$LOG" |
        cut -d' ' -f2); do
        cmp "$SCRATCH/drill-sb/_pg/db/wal/$w" "$PGDIR/data/pg_wal/$w" || die "the drill's $w differs from the server's"
done
[ -f "$SCRATCH/drill-sb/_pg/db/data/recovery.signal" ] || die "the drill's base has no recovery.signal"
grep -q "^restore_command = .*$SCRATCH/drill-sb/_pg/db/wal" "$SCRATCH/drill-sb/_pg/db/data/postgresql.auto.conf" ||
        die "the drill's base does not restore its WAL from the sandbox: $(tail -n 8 "$SCRATCH/drill-sb/_pg/db/data/postgresql.auto.conf")"
rm -rf "$SCRATCH/drill-sb"

# 3. The same file again: 0; other bytes under its name: refused, saying so.
cd "$PGDIR/data"
expect_exit 0 as_agent yunbak-agent wal-archive --store "$STORE" --system hr \
        --public-key "$SCRATCH/keys/hr.pub" --postgresql db "pg_wal/$W1" "$W1"
expect_stderr "$W1 of cluster 'db' was archived before with the same bytes"
cp "pg_wal/$W1" "$SCRATCH/other"
flip_byte "$SCRATCH/other" 100000
chmod 644 "$SCRATCH/other"
expect_exit 1 as_agent yunbak-agent wal-archive --store "$STORE" --system hr \
        --public-key "$SCRATCH/keys/hr.pub" --postgresql db "$SCRATCH/other" "$W1"
expect_stderr "$W1 of cluster 'db' was archived before with other bytes"
expect_stderr "PostgreSQL keeps it in pg_wal"
cd "$SCRATCH"
[ "$(segments "$B1")" -eq "$N1" ] || die "a file handed over again was stored again"
# A base backup's history file is acknowledged, not stored; a timeline history file is stored in
# the chain of the newest base on that timeline or an earlier one.
grep -q "$(sed -n 1p "$STORE/hr/snapshots/$B1/header" | python3 -c \
        'import json,sys; print(json.load(sys.stdin)["postgresql"][0]["start_wal"])')\.[0-9A-F]*\.backup is a backup history file: acknowledged without storing it" "$LOG" ||
        die "the base's .backup file was not acknowledged as such"
printf '1\t0/9000000\tno recovery target specified\n' >"$SCRATCH/00000002.history"
chmod 644 "$SCRATCH/00000002.history"
expect_exit 0 as_agent yunbak-agent wal-archive --store "$STORE" --system hr \
        --public-key "$SCRATCH/keys/hr.pub" --postgresql db "$SCRATCH/00000002.history" 00000002.history
expect_stderr "Archived 00000002.history of cluster 'db' into .* of the WAL chain of base $B1\."
N1=$((N1 + 1))
[ "$(segments "$B1")" -eq "$N1" ] || die "the history file is not a segment of the chain of $B1"

# 4. A backup holds the lock (its stream waits for the test): archiving waits, and the WAL
# after the new base's start goes into the new base's chain.
FAILED0=$(archiver failed_count)
as_agent yunbak-agent backup --store "$STORE" --system hr --public-key "$SCRATCH/keys/hr.pub" \
        --level full --json --postgresql "db=$CONN" \
        --stream "_streams/wait=while [ ! -e $CTL/go ]; do sleep 0.05; done; echo ok" \
        >"$SCRATCH/backup2.json" 2>"$SCRATCH/backup2.err" &
BACKUP=$!
poll "the backup did not take the lock" test -e "$STORE/hr/lock"
W2=$(switch_wal)
poll "archiving $W2 did not wait for the lock" \
        grep -q "$W2 of cluster 'db' waits for the repository lock" "$LOG"
[ "$(sql postgres "SELECT coalesce(last_archived_wal, '') < '$W2' FROM pg_stat_archiver")" = t ] ||
        die "$W2 was archived while a backup held the lock"
touch "$CTL/go"
wait $BACKUP || { cat "$SCRATCH/backup2.err" >&2; die "the backup that held the lock failed"; }
B2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot"])' "$SCRATCH/backup2.json")
STOP2=$(sed -n 1p "$STORE/hr/snapshots/$B2/header" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["postgresql"][0]["stop_wal"])')
wait_archived "$STOP2"
[ "$(chain_of "$W2")" = "$B1" ] || die "$W2 (before the new base's start) left the chain of $B1"
[ "$(chain_of "$STOP2")" = "$B2" ] || die "$STOP2 (the new base's stop) is not in the chain of $B2"
[ "$(archiver failed_count)" -eq "$FAILED0" ] || die "archiving failed while it waited for the lock"

# 5. An archiver killed mid-commit: nothing committed; PostgreSQL's retry succeeds.
N2=$(segments "$B2")
echo kill:6 >"$CTL/fault"
! is_root || chown nobody "$CTL/fault"
W3=$(switch_wal)
wait_archived "$W3"
# (PostgreSQL's archiver exits when its command dies by a signal, which the shell reports as
# status 137; the postmaster starts it again.)
grep -Eq "archive command (was terminated by signal 9|failed with exit code 137)" "$LOG" ||
        { tail -n 30 "$LOG" >&2; die "PostgreSQL did not see its archive_command killed"; }
[ -s "$CTL/left" ] || die "the archiver was not killed mid-commit: it left nothing under tmp/"
[ "$(segments "$B2")" -eq $((N2 + 1)) ] || die "chain $B2 holds $(segments "$B2") segments after one WAL file, not $((N2 + 1))"
[ "$(chain_of "$W3")" = "$B2" ] || die "$W3 did not go into the chain of $B2"
[ -z "$(ls "$STORE/hr/tmp")" ] || die "the retry left the killed run's leftovers: $(ls "$STORE/hr/tmp")"
yunbak verify --store "$STORE" --system hr >/dev/null || die "the store does not verify after the kill"

# 6. The store away: the command fails, saying which file and store; PostgreSQL keeps the file
# and, once the store is back, its retry archives it.
FAILED1=$(archiver failed_count)
mv "$STORE" "$STORE.away"
W4=$(switch_wal)
failed_since() { [ "$(archiver failed_count)" -gt "$1" ]; }
poll "archiving $W4 did not fail while the store was away" failed_since "$FAILED1"
grep -q "$W4 of cluster 'db' was not archived into store '$STORE' (system 'hr'): PostgreSQL keeps it" "$LOG" ||
        { tail -n 10 "$LOG" >&2; die "no message that $W4 was not archived"; }
archived "$W4" && die "$W4 counts as archived while the store was away"
[ -e "$PGDIR/data/pg_wal/archive_status/$W4.ready" ] || die "PostgreSQL does not keep $W4 for a retry"
mv "$STORE.away" "$STORE"
W5=$(switch_wal) # wakes the archiver, which retries the oldest file first
wait_archived "$W5"
[ "$(chain_of "$W4")" = "$B2" ] || die "$W4 did not go into the chain of $B2 once the store was back"
N2=$(segments "$B2")

# 7. Prune: the older base goes with its WAL chain; the newer keeps its own.
as_agent yunbak prune --store "$STORE" --system hr --keep-last 1 >"$SCRATCH/prune.out" 2>&1 || {
        cat "$SCRATCH/prune.out" >&2
        die "prune failed"
}
[ ! -d "$STORE/hr/snapshots/$B1" ] && [ ! -d "$STORE/hr/segments/$B1" ] ||
        die "base $B1 or its WAL chain was not pruned: $(cat "$SCRATCH/prune.out")"
[ -d "$STORE/hr/snapshots/$B2" ] && [ "$(segments "$B2")" -eq "$N2" ] ||
        die "prune touched the kept base $B2 or its chain"
[ -z "$(ls "$STORE/hr/tmp")" ] || die "prune left $(ls "$STORE/hr/tmp") in tmp/"
yunbak verify --store "$STORE" --system hr >/dev/null || die "the store does not verify after the prune"
echo "pg-archive: ok"
