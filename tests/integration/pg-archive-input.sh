#!/bin/sh
# yunbak-agent wal-archive fed what PostgreSQL never hands it, and run where it may not write:
# a "history file" that is not one (binary junk, timelines out of order) is refused, so that it
# can neither stop a recovery that reads it nor take the name of the true file; a true one is
# archived.
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

echo "pg-archive-input: ok"
