#!/bin/sh
# yunbakd and its catalog at start: the catalog and its WAL files are 0600 whatever the umask; a
# second yunbakd on the same state directory refuses and names the first; `--check` writes
# nothing to the live catalog; a damaged catalog is refused with exit 9 and what to do; a
# catalog emptied or replaced (its sealed history missing) is refused until
# --accept-new-catalog, which is audited.
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/daemon-lib.sh"

daemon_config
daemon_system alpha 人社局
CONF="$D/yunbakd.yaml"
YUNBAKD_PID=
trap 'kill "$YUNBAKD_PID" 2>/dev/null || true; cleanup' EXIT

# The catalog is private whatever the umask it is made under.
umask 000
start_yunbakd
umask 022
job=$(api POST /v1/systems/alpha/backup '{"level":"full"}' | json 'j["job"]')
[ "$(wait_job "$job")" = succeeded ] || die "the first backup did not succeed"
for f in catalog.db catalog.db-wal catalog.db-shm; do
        [ ! -e "$D/$f" ] || [ "$(stat -c %a "$D/$f")" = 600 ] ||
                die "$f is mode $(stat -c %a "$D/$f"), not 600"
done

# A second yunbakd on the same configuration refuses, names the first, and leaves it be.
expect_exit 8 yunbakd --config "$CONF" --foreground
expect_stderr "Another yunbakd \(pid $YUNBAKD_PID\)"
curl -sf --unix-socket "$SOCK" -o /dev/null http://yunbakd/v1/whoami ||
        die "the second yunbakd broke the first one's socket"
[ "$(api GET "/v1/jobs/$job" | json 'j["state"]')" = succeeded ] || die "job $job changed"

# --check only reads: a new policy it checks is not recorded as loaded.
daemon_system beta 人社局
before=$(sql "SELECT count(*) FROM audit")
expect_exit 0 yunbakd --config "$CONF" --check
[ "$(sql "SELECT count(*) FROM audit")" = "$before" ] || die "--check wrote audit records"
[ "$(sql "SELECT count(*) FROM systems WHERE id = 'beta'")" = 0 ] ||
        die "--check recorded a policy it did not put in force"
rm "$D/policies/beta.yaml"
stop_yunbakd
records=$(sql "SELECT count(*) FROM audit")
[ -s "$D/state/audit-head" ] || die "the sealed head is not kept in the state directory"
cp "$D/catalog.db" "$SCRATCH/good.db"

# A damaged catalog: exit 9, saying so and what to do; no job runs.
size=$(stat -c %s "$D/catalog.db")
head -c "$((size - 8192))" /dev/urandom |
        dd of="$D/catalog.db" bs=1 seek=4096 conv=notrunc status=none
expect_exit 9 yunbakd --config "$CONF" --foreground
expect_stderr "catalog.db is (damaged|not an SQLite database).*restore"
expect_exit 9 yunbakd --config "$CONF" --check
head -c 20000 /dev/urandom >"$D/catalog.db"
expect_exit 9 yunbakd --config "$CONF" --foreground
expect_stderr "not an SQLite database"

# A zero-byte catalog: its history is missing; refused, by --check as well.
: >"$D/catalog.db"
expect_exit 9 yunbakd --config "$CONF" --foreground
expect_stderr "does not hold the audit history yunbakd sealed last.*--accept-new-catalog"
[ ! -s "$D/catalog.db" ] || [ "$(sql "SELECT count(*) FROM audit")" = 0 ] ||
        die "the refused start wrote to the new catalog"
expect_exit 9 yunbakd --config "$CONF" --check
# An older copy of the catalog (records sealed since are missing) is refused too.
cp "$SCRATCH/good.db" "$D/catalog.db"
sql "DELETE FROM audit WHERE seq > 3; DELETE FROM audit_seals WHERE seq > 3"
expect_exit 9 yunbakd --config "$CONF" --foreground
expect_stderr "record $records is missing"

# The right catalog back: it starts.
cp "$SCRATCH/good.db" "$D/catalog.db"
start_yunbakd
stop_yunbakd

# An explicit decision: the new catalog is accepted, and the loss is the first thing on record.
sealed=$(cut -d' ' -f1 "$D/state/audit-head")
rm -f "$D/catalog.db" "$D/catalog.db-wal" "$D/catalog.db-shm"
yunbakd --config "$CONF" --foreground --accept-new-catalog >>"$D/yunbakd.log" 2>&1 &
YUNBAKD_PID=$!
i=0
until curl -s --unix-socket "$SOCK" -o /dev/null http://yunbakd/v1/whoami 2>/dev/null; do
        kill -0 "$YUNBAKD_PID" 2>/dev/null || die "yunbakd --accept-new-catalog exited"
        i=$((i + 1))
        [ "$i" -lt 3000 ] || die "yunbakd did not answer"
        sleep 0.1
done
sql "SELECT detail FROM audit WHERE action = 'catalog.accept-new'" |
        grep -q "sealed up to record $sealed" || die "the accepted loss is not audited"
stop_yunbakd
# From then on the new catalog's history is the one kept.
start_yunbakd
stop_yunbakd
echo ok
