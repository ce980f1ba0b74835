#!/bin/sh
# yunbakd with a policy whose postgresql hook is mode: physical: 'yunbak backup now' makes a
# tier-1 backup whose snapshot is a base backup of the cluster (its header's postgresql array,
# _pg/NAME/data restored with the cluster's PG_VERSION); the hook's host, port, user and
# database reach the agent as one libpq connection string (yb_hook_conninfo), and the policy's
# sources.live_postgresql reaches it too: a running cluster's directory among the paths fails
# the job under error and is copied, with the agent's warning, under warn.
. "$TESTS/integration/lib.sh"
command -v yunbakd >/dev/null || {
        echo "daemon-pg-physical: yunbakd is not built (configure with -DYB_DAEMON=ON): skipped"
        exit 77
}
for tool in curl sqlite3 python3; do
        command -v "$tool" >/dev/null || {
                echo "daemon-pg-physical: no $tool: skipped"
                exit 77
        }
done
. "$TESTS/integration/daemon-lib.sh"
. "$TESTS/integration/pg-lib.sh"
trap 'kill -TERM "${YUNBAKD_PID:-}" 2>/dev/null || true; pg_stop_all; cleanup' EXIT
export YUNBAK_SOCKET="$SOCK"
catalog() { sqlite3 "$D/catalog.db" "$1"; } # pg-lib.sh's sql is PostgreSQL's

pg_init "$SCRATCH/pg"
pg_start "$PGDIR"
sql postgres "CREATE TABLE kept (id int PRIMARY KEY); INSERT INTO kept SELECT generate_series(1, 1000)"

daemon_config
daemon_system hr-portal "市人力资源和社会保障局"
POLICY="$D/policies/hr-portal.yaml"
# The hook as a person writes it for a local cluster: the Unix socket's directory as host, the
# role, the default database (postgres).
sed -i "s|^  paths:|  hooks:\n    - name: db\n      type: postgresql\n      mode: physical\n      host: $PGDIR\n      user: $DBUSER\n  paths:|" "$POLICY"
yunbak policy check "$POLICY" >/dev/null || die "the policy with a physical hook does not check"
start_yunbakd

expect_exit 0 yunbak backup now --system hr-portal --wait
snap=$(catalog "SELECT id FROM snapshots WHERE system = 'hr-portal' ORDER BY id DESC LIMIT 1")
[ -n "$snap" ] || die "the job's snapshot is not in the catalog"
head -n 1 "$D/store/hr-portal/snapshots/$snap/header" >"$SCRATCH/header"
python3 - "$SCRATCH/header" "$PGDIR/data" <<'PY' || die "the job's snapshot is not a base backup: $(cat "$SCRATCH/header")"
import json, sys
h = json.load(open(sys.argv[1]))
pg = h["postgresql"]
assert [b["name"] for b in pg] == ["db"], pg
assert pg[0]["data_directory"] == sys.argv[2] and pg[0]["version"] >= 150000, pg
assert pg[0]["started_ns"] <= pg[0]["stopped_ns"], pg
assert h["partial"] is False, h
PY
yunbak restore --store "$D/store" --system hr-portal --key "$D/keys/hr-portal.key" \
        --passphrase-file "$SCRATCH/pass" --snapshot "$snap" --target "$SCRATCH/out" >/dev/null ||
        die "the job's snapshot does not restore"
cmp -s "$PGDIR/data/PG_VERSION" "$SCRATCH/out/_pg/db/data/PG_VERSION" || die "_pg/db/data is not the cluster"
grep -q "^LABEL: yunbak hr-portal $snap\$" "$SCRATCH/out/_pg/db/data/backup_label" ||
        die "the snapshot's backup_label is not the job's"
[ -f "$SCRATCH/out/data/numbers.txt" ] || die "the policy's path is not in the snapshot"
# Without tablespaces (an empty tablespace_map), the restored data directory starts as it is.
[ -f "$SCRATCH/out/_pg/db/data/tablespace_map" ] && [ ! -s "$SCRATCH/out/_pg/db/data/tablespace_map" ] ||
        die "the snapshot's tablespace_map is not the empty one pg_backup_stop gave"
chmod 711 "$SCRATCH/out" "$SCRATCH/out/_pg" "$SCRATCH/out/_pg/db"
pg_start "$SCRATCH/out/_pg/db"
[ "$(sql_at "$SCRATCH/out/_pg/db" postgres "SELECT count(*) FROM kept")" = 1000 ] ||
        die "the restored cluster does not hold the rows"
pg_stop "$SCRATCH/out/_pg/db"

# sources.live_postgresql: the running cluster's directory among the paths.
sed -i "s|^  paths:|  paths:\n    - $SCRATCH/pg|" "$POLICY"
sed -i "s|^      mode: physical|      mode: dump\n      database: postgres|" "$POLICY"
api POST /v1/reload >/dev/null
[ "$(api_status)" = 200 ] || die "reload: $(cat "$D/body")"
expect_exit 1 yunbak backup now --system hr-portal --wait
job=$(catalog "SELECT max(id) FROM jobs")
catalog "SELECT error FROM jobs WHERE id = $job" | grep -q "'$SCRATCH/pg/data' is the data directory of a running PostgreSQL server (pid [0-9]*, postmaster.pid).*Add a postgresql hook with mode: physical for it" ||
        die "job $job's error does not name the running cluster: $(catalog "SELECT error FROM jobs WHERE id = $job")"
sed -i "s|^  hooks:|  live_postgresql: warn\n  hooks:|" "$POLICY"
api POST /v1/reload >/dev/null
[ "$(api_status)" = 200 ] || die "reload: $(cat "$D/body")"
set +e
yunbak backup now --system hr-portal --wait >"$SCRATCH/stdout" 2>&1
rc=$?
set -e
[ "$rc" = 0 ] || [ "$rc" = 3 ] || { cat "$SCRATCH/stdout" >&2; die "the job under live_postgresql: warn: exit $rc"; }
stop_yunbakd
echo "daemon-pg-physical: ok"
