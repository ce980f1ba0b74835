#!/bin/sh
# The catalog's file system fills up while a job runs (a hook fills it): the job's success is
# kept in memory, GET /v1/jobs/N says succeeded (not "queued"), status and metrics call the
# catalog degraded with the real cause (ENOSPC), and once there is room again the catalog
# records the success, never "cancelled". Needs root to mount a small tmpfs.
. "$TESTS/integration/lib.sh"
is_root || { echo "skipped: mounting a small tmpfs for the catalog needs root" >&2; exit 77; }
. "$TESTS/integration/daemon-lib.sh"
YUNBAKD_PID=
sql() { sqlite3 "$D/cat/catalog.db" "$1"; }
mkdir -p "$D/cat"
mount -t tmpfs -o size=4m tmpfs "$D/cat" || { echo "skipped: cannot mount tmpfs" >&2; exit 77; }
trap 'kill "$YUNBAKD_PID" 2>/dev/null || true; umount "$D/cat" 2>/dev/null || true; cleanup' EXIT

daemon_config
sed -i "s|^catalog: catalog.db|catalog: cat/catalog.db|" "$D/yunbakd.yaml"
daemon_system alpha 人社局
sed -i "s|^  paths:|  hooks:\n    - name: fill\n      type: command\n      run: dd if=/dev/zero of=$D/cat/fill bs=4k 2>/dev/null; true\n      timeout: 1min\n      on_failure: abort\n  paths:|" \
        "$D/policies/alpha.yaml"
start_yunbakd
job=$(api POST /v1/systems/alpha/backup '{"level":"full"}' | json 'j["job"]')
[ "$(wait_job "$job")" = succeeded ] || die "job $job: $(cat "$D/body")"
[ -s "$D/cat/fill" ] || die "the hook did not fill the file system"
api GET /v1/status >"$D/st"
[ "$(json 'j["daemon"]["catalog"]["state"]' <"$D/st")" = degraded ] ||
        die "status does not call the catalog degraded: $(cat "$D/st")"
json 'j["daemon"]["catalog"]["error"]' <"$D/st" | grep -q "No space left" ||
        die "status does not give the real cause: $(cat "$D/st")"
# Room again: the success is written, as it happened.
rm "$D/cat/fill"
i=0
until [ "$(sql "SELECT state FROM jobs WHERE id = $job")" = succeeded ]; do
        i=$((i + 1))
        [ "$i" -lt 600 ] || die "job $job is recorded $(sql "SELECT state FROM jobs WHERE id = $job")"
        sleep 0.1
done
stop_yunbakd
start_yunbakd
[ "$(api GET "/v1/jobs/$job" | json 'j["state"]')" = succeeded ] || die "job $job changed at restart"
stop_yunbakd
echo ok
