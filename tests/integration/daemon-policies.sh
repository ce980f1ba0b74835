#!/bin/sh
# One department's broken policy file never stops another's backups: yunbakd starts with the
# valid files, leaves the broken one out and reports it (status, metrics, audit); a reload keeps
# the broken file's last good version in force, and so does a restart (from the catalog).
# `yunbakd --check` reads only files: it works before the state directory exists, reports every
# error and exits 3 for a broken policy file, 78 only for yunbakd.yaml itself.
. "$TESTS/integration/lib.sh"
command -v yunbakd >/dev/null || {
        echo "daemon-policies: yunbakd is not built: skipped"
        exit 77
}
for tool in curl python3; do
        command -v "$tool" >/dev/null || {
                echo "daemon-policies: no $tool: skipped"
                exit 77
        }
done
. "$TESTS/integration/daemon-lib.sh"
trap 'kill -TERM "${YUNBAKD_PID:-}" 2>/dev/null || true; cleanup' EXIT

daemon_config
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo "metrics_listen: 127.0.0.1:$PORT" >>"$D/yunbakd.yaml"
daemon_system hr-portal "市人力资源和社会保障局"
daemon_system tax-db "市税务局"
rmdir "$D/state"

# --check before the first start: no state directory, no catalog; both stay absent.
expect_exit 0 yunbakd --config "$D/yunbakd.yaml" --check
grep -q "and its 2 policies are valid" "$SCRATCH/stdout" || die "--check: no summary"
[ ! -e "$D/state" ] && [ ! -e "$D/catalog.db" ] || die "--check wrote the state or the catalog"

# A typo in one department's file: --check names it and exits 3, not 78.
cp "$D/policies/tax-db.yaml" "$SCRATCH/tax-db.good"
sed -i 's/^  rpo: 1d/  rpo: soon/' "$D/policies/tax-db.yaml"
expect_exit 3 yunbakd --config "$D/yunbakd.yaml" --check
expect_stderr "^yunbakd: error: $D/policies/tax-db.yaml:[0-9]+:[0-9]+: .*rpo"
expect_stderr "tax-db.yaml: not loaded, and no earlier version"
grep -q "1 policy file has errors.*1 policy would be in force" "$SCRATCH/stdout" ||
        die "--check: no summary of what would load"
# yunbakd.yaml itself broken: 78.
cp "$D/yunbakd.yaml" "$SCRATCH/yunbakd.good"
echo "max_jobs: many" >>"$D/yunbakd.yaml"
expect_exit 78 yunbakd --config "$D/yunbakd.yaml" --check
expect_stderr "^yunbakd: error: .*yunbakd.yaml:[0-9]+:[0-9]+: "
cp "$SCRATCH/yunbakd.good" "$D/yunbakd.yaml"

# The daemon starts anyway, with hr-portal in force and tax-db reported.
start_yunbakd
st=$(api GET /v1/status)
echo "$st" | json '[s["id"] for s in j["systems"]]' | grep -qx "\['hr-portal'\]" ||
        die "not only hr-portal in force: $st"
echo "$st" | json '"\n".join(j["daemon"]["policy_errors"])' | grep -q 'tax-db.yaml:[0-9]*:[0-9]*: .*rpo' ||
        die "status does not name the broken file: $st"
curl -sf "http://127.0.0.1:$PORT/metrics" | grep -qx 'yunbak_policy_files_broken 1' ||
        die "metrics do not count the broken file"
api GET '/v1/audit?limit=1000' | json '[r for r in j["records"] if r["action"] == "policy.load" and r["result"] == "failed" and r["object"].endswith("tax-db.yaml")][0]["detail"]' |
        grep -q "rpo" || die "no audit record for the broken file"

# Fixed and reloaded: both in force. Broken again: the last good version stays.
cp "$SCRATCH/tax-db.good" "$D/policies/tax-db.yaml"
api POST /v1/reload | json 'j["ok"]' | grep -qx True || die "the fixed file did not load"
sed -i 's/^  rpo: 1d/  rpo: soon/' "$D/policies/tax-db.yaml"
api POST /v1/reload | json 'j["ok"], j["policies"]' | grep -qx "False 2" ||
        die "a broken file dropped its last good version"
api GET /v1/status | json '"\n".join(j["daemon"]["policy_errors"])' |
        grep -q "tax-db.yaml: not loaded; its last good version .* stays in force" ||
        die "status does not say the last good version stays"
stop_yunbakd

# A restart with the file still broken takes the last good version from the catalog.
start_yunbakd
[ "$(api GET /v1/status | json 'len(j["systems"])')" = 2 ] ||
        die "after a restart, the last good version of tax-db is not in force"
stop_yunbakd

