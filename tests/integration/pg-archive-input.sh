#!/bin/sh
# yunbak-agent wal-archive fed what PostgreSQL never hands it, and run where it may not write:
# a "history file" that is not one (binary junk, timelines out of order) is refused, so that it
# can neither stop a recovery that reads it nor take the name of the true file; a true one is
# archived. A WAL file of another cluster than the hook's bases is told apart, with what to do.
# A hook name starting with '.' is refused by the policy and the backup, as wal-archive does.
# A store or a state directory the server's user may not write is said with who runs
# archive_command and what to give it.
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/pg-lib.sh"
pg_init "$SCRATCH/pg"
pg_start "$PGDIR"
mkdir -p "$SCRATCH/store"
make_key hr
yunbak-agent backup --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
        --level full --postgresql "db=$(conninfo postgres)" >/dev/null 2>&1 || die "the base backup failed"
wa() { # PATH NAME
        yunbak-agent wal-archive --store "$SCRATCH/store" --system hr \
                --public-key "$SCRATCH/keys/hr.pub" --postgresql db "$@"
}
segments() { find "$SCRATCH/store/hr" -name header | wc -l; }

# 1. History files.
printf '1\t0/3000158\tno recovery target specified\n' >"$SCRATCH/h2"
expect_exit 0 wa "$SCRATCH/h2" 00000002.history
expect_stderr "Archived 00000002.history of cluster 'db'"
n=$(segments)
printf '\000\001\002 junk' >"$SCRATCH/junk"
expect_exit 5 wa "$SCRATCH/junk" 00000003.history
expect_stderr "'$SCRATCH/junk' is not timeline history file 00000003.history: it is not text \(it holds a NUL byte\)\.$"
expect_stderr "00000003.history of cluster 'db' was not archived into store '$SCRATCH/store' \(system 'hr'\): PostgreSQL keeps it in pg_wal and runs archive_command again\.$"
printf '# comment\n\n2\t0/4000000\tlater\n1\t0/3000158\tearlier\n' >"$SCRATCH/h3"
expect_exit 5 wa "$SCRATCH/h3" 00000003.history
expect_stderr "'$SCRATCH/h3' is not timeline history file 00000003.history: its line 4 is not '<parent timeline, rising, below 3><tab><switch LSN><tab><reason>'\.$"
printf '1\t0/3000158\tok\n3\t0/5000000\tits own timeline\n' >"$SCRATCH/h3"
expect_exit 5 wa "$SCRATCH/h3" 00000003.history
[ "$(segments)" = "$n" ] || die "a refused history file was committed"
printf '1\t0/3000158\tok\n\n2\t0/5000000\tsecond\n' >"$SCRATCH/h3"
expect_exit 0 wa "$SCRATCH/h3" 00000003.history

# 2. A WAL file of another cluster handed over as the same hook: acknowledged (no base needs it),
#    with a warning naming both clusters and what to do.
pg_init "$SCRATCH/other"
OTHER=$(cd "$SCRATCH/other/data/pg_wal" && ls | grep -v archive_status | sort | head -n 1)
OSYS=$(pg_controldata "$SCRATCH/other/data" | sed -n 's/^Database system identifier: *//p')
SYS=$(pg_controldata "$SCRATCH/pg/data" | sed -n 's/^Database system identifier: *//p')
n=$(segments)
expect_exit 0 wa "$SCRATCH/other/data/pg_wal/$OTHER" "$OTHER"
expect_stderr "warning: $OTHER is of the cluster with system identifier $OSYS, but the newest base backup of hook 'db' in store '$SCRATCH/store' \(system 'hr', snapshot [0-9TZ-]+[0-9a-f]+\) is of the cluster $SYS\. Not archived \(exit 0: no base backup needs it; PostgreSQL may recycle it\)\. If this is a new cluster \(pg_upgrade, initdb\), its archive starts with its first base backup: take one now\. If two clusters archive as hook 'db', give each its own --postgresql NAME\.$"
[ "$(segments)" = "$n" ] || die "another cluster's WAL file was committed"
PGDIR="$SCRATCH/pg"

# 3. A hook name starting with '.' (which a snapshot's header refuses, and wal-archive too) is
#    refused by the policy and by the backup, before anything is written.
sed 's/- name: si-db/- name: .si-db/' "$TESTS/../policies/examples/social-insurance.yaml" >"$SCRATCH/dot.yaml"
grep -q "name: \.si-db" "$SCRATCH/dot.yaml" || die "the example policy has no hook si-db"
expect_exit 78 yunbak policy check "$SCRATCH/dot.yaml"
grep -q "name of a physical hook must be 1 to 63 of A-Z, a-z, 0-9, '_', '\.' and '-', not starting with '\.', not '\.si-db'" "$SCRATCH/stdout" "$SCRATCH/stderr" ||
        die "policy check did not refuse the hook .si-db: $(cat "$SCRATCH/stdout" "$SCRATCH/stderr")"
mkdir -p "$SCRATCH/store-dot"
expect_exit 2 yunbak-agent backup --store "$SCRATCH/store-dot" --system hr --public-key "$SCRATCH/keys/hr.pub" \
        --level full --postgresql ".db=$(conninfo postgres)"
expect_stderr "'\.db' is not a valid hook name; use 1 to 63 of A-Z, a-z, 0-9, '_', '\.' and '-', not starting with '\.'\.$"
[ -z "$(ls "$SCRATCH/store-dot")" ] || die "a backup of hook .db wrote into the store"

# 4. Where the server's user may not write: the state directory, then the store.
WAL=$(cd "$PGDIR/data/pg_wal" && ls | grep -v archive_status | sort | head -n 1)
mkdir -p "$SCRATCH/ro-state"
chmod 555 "$SCRATCH/ro-state"
chmod 755 "$SCRATCH/keys"
chmod 644 "$SCRATCH/keys/hr.pub"
expect_exit 1 as_pg env YUNBAK_AGENT_STATE_DIR="$SCRATCH/ro-state/x" yunbak-agent wal-archive \
        --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" --postgresql db \
        "$PGDIR/data/pg_wal/$WAL" "$WAL"
expect_stderr "archive_command runs as the PostgreSQL server's user \('$DBUSER'\), which must be able to write the store '$SCRATCH/store' and the state directory '$SCRATCH/ro-state/x': give it that access, or give --state-dir a directory of its own\.$"
mkdir -p "$SCRATCH/pg-state"
! is_root || chown nobody:nogroup "$SCRATCH/pg-state"
chmod -R a-w "$SCRATCH/store"
expect_exit 1 as_pg env YUNBAK_AGENT_STATE_DIR="$SCRATCH/pg-state" yunbak-agent wal-archive \
        --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" --postgresql db \
        "$PGDIR/data/pg_wal/$WAL" "$WAL"
expect_stderr "store '$SCRATCH/store'.*Permission denied\. archive_command runs as the PostgreSQL server's user \('$DBUSER'\), which must be able to write the store '$SCRATCH/store' and the state directory '$SCRATCH/pg-state': give it that access"
echo "pg-archive-input: ok"
