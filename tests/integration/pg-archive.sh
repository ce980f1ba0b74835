#!/bin/sh
# WAL archive without tier 2: a PostgreSQL cluster whose archive_command is
# `yunbak-agent wal-archive`. Before any base backup a WAL file is acknowledged (exit 0) with a
# message saying no backup needs it yet. After a base, pgbench's WAL (forced out by
# pg_switch_wal) lands in the base's chain, one segment per WAL file (`snapshots --segments`
# counts them), and `restore --at` the chain's last point gives back each file byte for byte as
# the server's pg_wal holds it. While a backup holds the repository lock, archiving waits and its
# files land in the new base's chain. The same file handed over again is 0; other bytes under
# that name are refused. An archiver killed mid-commit (YB_FAULT=kill:N) commits nothing and
# PostgreSQL's retry succeeds. `yunbak prune` removes a base together with its WAL chain.
#
# As root the server runs as nobody, and so does its archive_command: the store, the agent's
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

# archive_command: the agent, through a small script that hands it a fault once when asked and
# then notes what the killed run left under the store's tmp/ (before PostgreSQL's retry).
cat >"$SCRATCH/archive.sh" <<EOF
#!/bin/sh
fault=
if [ -f "$CTL/fault" ]; then
        fault=\$(cat "$CTL/fault")
        rm -f "$CTL/fault"
fi
YB_FAULT=\$fault "$BIN/yunbak-agent" wal-archive --store "$STORE" --system hr \\
        --public-key "$SCRATCH/keys/hr.pub" --postgresql db --state-dir "$STATE" "\$1" "\$2"
rc=\$?
[ -z "\$fault" ] || ls "$STORE/hr/tmp" >"$CTL/left"
exit \$rc
EOF
chmod 755 "$SCRATCH/archive.sh"
# wal_keep_size keeps every archived file in pg_wal, so that the test can compare them.
pg_start "$PGDIR" -c archive_mode=on -c "archive_command='$SCRATCH/archive.sh %p %f'" \
        -c wal_keep_size=1GB -c log_min_messages=info
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
# wait_archived WAL: polls pg_stat_archiver (bounded) until WAL is archived.
wait_archived() {
        i=0
        until [ "$(sql postgres "SELECT last_archived_wal >= '$1' FROM pg_stat_archiver")" = t ]; do
                i=$((i + 1))
                [ $i -lt 1200 ] || { tail -n 30 "$LOG" >&2; die "$1 was not archived"; }
                sleep 0.05
        done
}
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

# 3. The same file again: 0; other bytes under its name: refused, saying so.
cd "$PGDIR/data"
expect_exit 0 as_agent yunbak-agent wal-archive --store "$STORE" --system hr \
        --public-key "$SCRATCH/keys/hr.pub" --postgresql db "pg_wal/$W1" "$W1"
expect_stderr "$W1 of cluster 'db' was archived before with the same bytes"
cp "pg_wal/$W1" "$SCRATCH/other"
printf 'X' | dd of="$SCRATCH/other" bs=1 seek=100000 conv=notrunc 2>/dev/null
chmod 644 "$SCRATCH/other"
expect_exit 1 as_agent yunbak-agent wal-archive --store "$STORE" --system hr \
        --public-key "$SCRATCH/keys/hr.pub" --postgresql db "$SCRATCH/other" "$W1"
expect_stderr "$W1 of cluster 'db' was archived before with other bytes"
expect_stderr "PostgreSQL keeps it in pg_wal"
cd "$SCRATCH"
[ "$(segments "$B1")" -eq "$N1" ] || die "a file handed over again was stored again"

# 4. A backup holds the lock (its stream waits for the test): archiving waits, and the WAL
# after the new base's start goes into the new base's chain.
FAILED0=$(archiver failed_count)
as_agent yunbak-agent backup --store "$STORE" --system hr --public-key "$SCRATCH/keys/hr.pub" \
        --level full --json --postgresql "db=$CONN" \
        --stream "_streams/wait=while [ ! -e $CTL/go ]; do sleep 0.05; done; echo ok" \
        >"$SCRATCH/backup2.json" 2>"$SCRATCH/backup2.err" &
BACKUP=$!
i=0
until [ -e "$STORE/hr/lock" ]; do
        i=$((i + 1))
        [ $i -lt 600 ] || die "the backup did not take the lock"
        sleep 0.05
done
W2=$(switch_wal)
i=0
until grep -q "$W2 of cluster 'db' waits for the repository lock" "$LOG"; do
        i=$((i + 1))
        [ $i -lt 600 ] || { tail -n 20 "$LOG" >&2; die "archiving $W2 did not wait for the lock"; }
        sleep 0.05
done
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

# 6. Prune: the older base goes with its WAL chain; the newer keeps its own.
as_agent yunbak prune --store "$STORE" --system hr --keep-last 1 >"$SCRATCH/prune.out" 2>&1 || {
        cat "$SCRATCH/prune.out" >&2
        die "prune failed"
}
[ ! -d "$STORE/hr/snapshots/$B1" ] && [ ! -d "$STORE/hr/segments/$B1" ] ||
        die "base $B1 or its WAL chain was not pruned: $(cat "$SCRATCH/prune.out")"
[ -d "$STORE/hr/snapshots/$B2" ] && [ "$(segments "$B2")" -eq $((N2 + 1)) ] ||
        die "prune touched the kept base $B2 or its chain"
[ -z "$(ls "$STORE/hr/tmp")" ] || die "prune left $(ls "$STORE/hr/tmp") in tmp/"
yunbak verify --store "$STORE" --system hr >/dev/null || die "the store does not verify after the prune"
echo "pg-archive: ok"
