#!/bin/sh
# Physical base backups of clusters laid out as operators lay them out, each restored and started
# with pg_ctl: a data directory reached through a symlink (the server's data_directory setting is
# the link, as when /var/lib/postgresql/15/main points at a bigger disk) is backed up as the
# directory it points to, never as the link; a file of the cluster the agent cannot read fails the
# backup, naming it, rather than committing a base that would restore without it; a tablespace
# that leads out of the cluster (a link to a directory the server's user does not own) is
# refused.
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/pg-lib.sh"
pg_init "$SCRATCH/pg"
mkdir -p "$SCRATCH/disk"
! is_root || chown nobody:nogroup "$SCRATCH/disk"
mv "$PGDIR/data" "$SCRATCH/disk/data"
ln -s "$SCRATCH/disk/data" "$PGDIR/data"
pg_start "$PGDIR"
CONN=$(conninfo postgres)
[ "$(sql postgres "SHOW data_directory")" = "$PGDIR/data" ] ||
        die "the server's data_directory is not the symlink: $(sql postgres "SHOW data_directory")"
sql postgres "CREATE TABLE kept (id int PRIMARY KEY, note text);
        INSERT INTO kept SELECT g, md5(g::text) FROM generate_series(1, 5000) g;"
KEPT=$(sql postgres "SELECT count(*) || ' ' || md5(string_agg(note, ',' ORDER BY id)) FROM kept")

mkdir -p "$SCRATCH/store"
make_key hr
backup() { yunbak-agent backup --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" --json --level "$@"; }
count() { yunbak snapshots --store "$SCRATCH/store" --system hr --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
restore_start() { # SNAPSHOT OUT: restores, starts the cluster there and checks the rows
        yunbak restore --store "$SCRATCH/store" --system hr --key "$SCRATCH/keys/hr.key" \
                --passphrase-file "$SCRATCH/pass" --snapshot "$1" --target "$2" >/dev/null
        [ -d "$2/_pg/db/data" ] && [ ! -L "$2/_pg/db/data" ] || die "_pg/db/data of $1 is not a directory"
        [ -f "$2/_pg/db/data/PG_VERSION" ] || die "_pg/db/data of $1 holds no cluster: $(ls -la "$2/_pg/db/data")"
        chmod 711 "$2" "$2/_pg" "$2/_pg/db"
        pg_start "$2/_pg/db"
        [ "$(sql_at "$2/_pg/db" postgres "SELECT count(*) || ' ' || md5(string_agg(note, ',' ORDER BY id)) FROM kept")" = "$KEPT" ] ||
                die "the cluster restored from $1 does not hold the rows"
        pg_stop "$2/_pg/db"
}

# 1. The data directory through a symlink.
expect_exit 0 backup full --postgresql "db=$CONN"
FULL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot"])' "$SCRATCH/stdout")
restore_start "$FULL" "$SCRATCH/out1"

# 2. A file of the cluster the agent cannot read (here one that root left in the data directory,
#    read by an agent that runs as the server's user): the backup fails, naming the file and the
#    fix; nothing is committed and the server's backup and slot are gone.
as_agent() { # runs the agent as the server's user, into a store and state of that user's
        mkdir -p "$SCRATCH/store-pg" "$SCRATCH/state-pg"
        ! is_root || chown nobody:nogroup "$SCRATCH/store-pg" "$SCRATCH/state-pg"
        chmod 755 "$SCRATCH/keys"
        chmod 644 "$SCRATCH/keys/hr.pub"
        as_pg env YUNBAK_AGENT_STATE_DIR="$SCRATCH/state-pg" yunbak-agent backup \
                --store "$SCRATCH/store-pg" --system hr --public-key "$SCRATCH/keys/hr.pub" --json "$@"
}
SECRET="$SCRATCH/disk/data/base/secret"
echo "not for the server's user" >"$SECRET"
chmod 000 "$SECRET"
expect_exit 1 as_agent --level full --postgresql "db=$CONN"
expect_stderr "Skipped '$SECRET': cannot read it: Permission denied\.$"
expect_stderr "Backup of system 'hr' failed, nothing was committed: PostgreSQL hook 'db': 1 entry of '$PGDIR/data' \(its data directory\) could not be read \(named above\), and a base backup without it would not restore the cluster whole\. Run the agent as a user that may read every file of the cluster \(root, or the server's user\), or remove from it what that user may not read\.$"
[ -z "$(ls "$SCRATCH/store-pg/hr/snapshots" 2>/dev/null)" ] || die "a base missing a file was committed"
[ "$(sql postgres "SELECT count(*) FROM pg_replication_slots")" = 0 ] || die "the failed backup left its slot"
rm -f "$SECRET"
expect_exit 0 as_agent --level full --postgresql "db=$CONN"

# 3. An agent whose user may not read the data directory at all (neither root nor the server's
#    user; only when the test runs as root): told before pg_backup_start forces its checkpoint.
if is_root; then
        mkdir -p "$SCRATCH/store-d" "$SCRATCH/state-d"
        chown daemon "$SCRATCH/store-d" "$SCRATCH/state-d"
        expect_exit 1 setpriv --reuid=daemon --regid=daemon --clear-groups env \
                YUNBAK_AGENT_STATE_DIR="$SCRATCH/state-d" yunbak-agent backup --store "$SCRATCH/store-d" \
                --system hr --public-key "$SCRATCH/keys/hr.pub" --level full --postgresql "db=$CONN"
        expect_stderr "Backup of system 'hr' failed, nothing was committed: PostgreSQL hook 'db': the server's data directory '$PGDIR/data' cannot be read here: Permission denied\. Run the agent on the server's host, as a user that may read the data directory \(root, or the server's user\)\.$"
        ! grep -q "backup started" "$SCRATCH/stderr" || die "the backup started before the data directory was found unreadable"
fi

# 4. The server restarted while the agent walks the data directory (held there by a test hook):
#    the agent says the connection was lost and what to do, commits nothing, and the next backup
#    succeeds.
if grep -q "^YB_FAULT_INJECTION:BOOL=ON" "$BIN/CMakeCache.txt" 2>/dev/null; then
        n=$(count)
        mkfifo "$SCRATCH/hold"
        YB_TEST_PG_HOLD="$SCRATCH/hold" backup incremental --postgresql "db=$CONN" \
                >/dev/null 2>"$SCRATCH/restart.err" &
        AGENT=$!
        [ "$(timeout 120 head -n 1 "$SCRATCH/hold")" = walking ] || {
                cat "$SCRATCH/restart.err" >&2
                die "the agent did not reach the walk of the data directory"
        }
        (cd "$PGDIR" && as_pg pg_ctl -D "$PGDIR/data" -m fast -w -t 120 restart \
                -o "-c listen_addresses='' -k $PGDIR -c fsync=off" -l "$PGDIR/server.log") >/dev/null ||
                die "the server did not restart"
        echo go >"$SCRATCH/hold"
        set +e
        wait $AGENT
        rc=$?
        set -e
        [ "$rc" = 1 ] || { cat "$SCRATCH/restart.err" >&2; die "a server restarted mid-backup: exit $rc, not 1"; }
        grep -q "PostgreSQL hook 'db': cannot stop the base backup (pg_backup_stop) (the server said: \"server closed the connection unexpectedly.*\")\. The connection was lost (the server restarted, or ended the session): the server's backup, if one was started, ended with it\. Run the backup again once the server accepts connections\.$" "$SCRATCH/restart.err" || {
                cat "$SCRATCH/restart.err" >&2
                die "a server restarted mid-backup was not said as such"
        }
        [ "$(count)" = "$n" ] || die "a backup whose server restarted was committed"
        expect_exit 0 backup incremental --postgresql "db=$CONN"
        [ "$(count)" = "$((n + 1))" ] || die "the backup after the restart was not committed"
fi

# 5. A tablespace whose location the server's user turned into a link to a directory of root's
#    (only when the test runs as root): the agent, running as root, refuses to follow it, and
#    nothing of root's directory is stored.
if is_root; then
        mkdir -p "$SCRATCH/tsp/x/ts" "$SCRATCH/rootdir/ts"
        chown -R nobody:nogroup "$SCRATCH/tsp"
        sql postgres "CREATE TABLESPACE outside LOCATION '$SCRATCH/tsp/x/ts'"
        echo "root's secret" >"$SCRATCH/rootdir/ts/secret"
        chmod -R go-rwx "$SCRATCH/rootdir"
        as_pg mv "$SCRATCH/tsp/x" "$SCRATCH/tsp/x.old"
        as_pg ln -s "$SCRATCH/rootdir" "$SCRATCH/tsp/x"
        n=$(count)
        expect_exit 1 backup incremental --postgresql "db=$CONN"
        expect_stderr "Backup of system 'hr' failed, nothing was committed: PostgreSQL hook 'db': '$SCRATCH/tsp/x/ts' \(a tablespace\) leads to '$SCRATCH/rootdir/ts', which is not owned by the data directory's owner \(uid $(id -u nobody)\), as PostgreSQL makes a cluster's directories: not backed up, so that no link leads the backup out of the cluster\. Check where the server's tablespaces are"
        [ "$(count)" = "$n" ] || die "a backup following a tablespace's link out of the cluster was committed"
fi

echo "pg-physical-paths: ok"
