#!/bin/sh
# yunbakd with a policy whose postgresql hook is mode: dump, end to end: the first job stores the
# dump whole, the next (after a one-row change) stores it as a delta, so its snapshot is a small
# fraction of the first (bytes stored, from the signed headers in the store); `yunbak restore
# --load` then loads the newest snapshot's dump into a new database with the same rows.
. "$TESTS/integration/lib.sh"
command -v yunbakd >/dev/null || {
        echo "daemon-pg-dump: yunbakd is not built (configure with -DYB_DAEMON=ON): skipped"
        exit 77
}
command -v curl >/dev/null || {
        echo "daemon-pg-dump: no curl: skipped"
        exit 77
}
. "$TESTS/integration/daemon-lib.sh"
. "$TESTS/integration/pg-lib.sh"
trap 'kill -TERM "${YUNBAKD_PID:-}" 2>/dev/null || true; pg_stop_all; cleanup' EXIT
export YUNBAK_SOCKET="$SOCK"

pg_init "$SCRATCH/pg"
pg_start "$PGDIR"
sql postgres "CREATE DATABASE hr"
sql hr "CREATE TABLE staff (id int PRIMARY KEY, name text, note text);
        INSERT INTO staff SELECT g, '员工 ' || g, repeat(md5(g::text), 2) FROM generate_series(1, 40000) g"

daemon_config
daemon_system hr-portal "市人力资源和社会保障局"
sed -i "s|^  paths:|  hooks:\n    - name: hr\n      type: postgresql\n      host: $PGDIR\n      user: $DBUSER\n      database: hr\n  paths:|" \
        "$D/policies/hr-portal.yaml"
start_yunbakd

# header ID: the snapshot's signed header, as JSON.
header() { head -n 1 "$D/store/hr-portal/snapshots/$1/header"; }
# The one snapshot in the store that is not among $1 (ids sort by time only to the second: two
# jobs in one second sort by their random tails).
new_snapshot() {
        ls "$D/store/hr-portal/snapshots" | grep -vxF -e "${1:-none}" | {
                read -r id || die "the job made no snapshot"
                ! read -r more || die "more than one new snapshot: $id $more"
                echo "$id"
        }
}
expect_exit 0 yunbak backup now --system hr-portal --level full --wait
full=$(new_snapshot "")
[ -n "$full" ] || die "the full job made no snapshot"
sql hr "UPDATE staff SET note = 'promoted' WHERE id = 20000"
expect_exit 0 yunbak backup now --system hr-portal --level incremental --wait
incr=$(new_snapshot "$full")
[ -n "$incr" ] || die "the incremental job made no snapshot"
python3 - "$(header "$full")" "$(header "$incr")" <<'PY' || die "the second dump was not stored as a small delta"
import json, sys
full, incr = (json.loads(a) for a in sys.argv[1:3])
assert full["counts"]["whole"] >= 1 and incr["level"] == "incremental", (full, incr)
assert incr["counts"]["delta"] == 1, incr["counts"]
assert incr["bytes"]["stored"] * 5 < full["bytes"]["stored"], (incr["bytes"], full["bytes"])
PY

sql postgres "CREATE DATABASE hr_loaded"
expect_exit 0 yunbak restore --store "$D/store" --system hr-portal --key "$D/keys/hr-portal.key" \
        --passphrase-file "$SCRATCH/pass" --target "$SCRATCH/load" --load "$(conninfo hr_loaded)"
grep -q "^Loaded the dump '_streams/hr.pgdump' (.*) of snapshot $incr into database 'hr_loaded'" "$SCRATCH/stdout" ||
        die "the load did not say what it loaded: $(cat "$SCRATCH/stdout")"
[ "$(sql hr_loaded "SELECT count(*), md5(string_agg(s::text, ',' ORDER BY id)) FROM staff s")" = \
        "$(sql hr "SELECT count(*), md5(string_agg(s::text, ',' ORDER BY id)) FROM staff s")" ] ||
        die "the loaded database does not hold the rows of the second dump"
stop_yunbakd
echo "daemon-pg-dump: ok"
