#!/bin/sh
# `yunbak catalog rebuild` against a store that suddenly shows nothing (an unmounted share):
# the catalog keeps what it knew, the command names each snapshot it would forget and exits 3,
# and the audit log gets a warning; only --forget-missing forgets them, and says so.
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/daemon-lib.sh"
YUNBAKD_PID=
trap 'kill "$YUNBAKD_PID" 2>/dev/null || true; cleanup' EXIT

daemon_config
daemon_system alpha 人社局
start_yunbakd
job=$(api POST /v1/systems/alpha/backup '{"level":"full"}' | json 'j["job"]')
[ "$(wait_job "$job")" = succeeded ] || die "the backup did not succeed"
snap=$(sql "SELECT id FROM snapshots WHERE system = 'alpha'")
[ -n "$snap" ] || die "no snapshot recorded"

# The share is "unmounted": the store's directory is there, and empty.
mv "$D/store" "$D/store.away"
mkdir "$D/store"
expect_exit 3 yunbak catalog rebuild --socket "$SOCK"
grep -q "alpha: snapshot $snap in store 'local'" "$SCRATCH/stdout" ||
        die "the rebuild did not name the snapshot it kept: $(cat "$SCRATCH/stdout")"
grep -q -- "--forget-missing" "$SCRATCH/stdout" || die "the rebuild did not say how to forget"
[ "$(sql "SELECT count(*) FROM snapshots WHERE system = 'alpha'")" = 1 ] ||
        die "the rebuild forgot a snapshot without --forget-missing"
sql "SELECT result || ' ' || detail FROM audit WHERE action = 'snapshot.missing'" |
        grep -q "^warning .*$snap" || die "no audit warning for the missing snapshot"

# The share back: nothing is missing, nothing changes.
rmdir "$D/store"
mv "$D/store.away" "$D/store"
expect_exit 0 yunbak catalog rebuild --socket "$SOCK"

# Truly gone, and said so: forgotten, and on record.
mv "$D/store" "$D/store.away"
mkdir "$D/store"
expect_exit 0 yunbak catalog rebuild --forget-missing --socket "$SOCK"
[ "$(sql "SELECT count(*) FROM snapshots WHERE system = 'alpha'")" = 0 ] ||
        die "--forget-missing did not forget"
sql "SELECT detail FROM audit WHERE action = 'snapshot.forget'" | grep -q "$snap" ||
        die "the forgotten snapshot is not in the audit log"
stop_yunbakd
echo ok
