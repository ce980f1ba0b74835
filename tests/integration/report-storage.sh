#!/bin/sh
# The storage a report shows at a period's end is current: yunbakd samples at its start (before
# the catalog lists any snapshot the store holds 0 of the system), again after each job's end
# (the first backup's snapshot is counted, and `yunbak report` shows it), and after a catalog
# rebuild (a snapshot the catalog had forgotten, found again in the store).
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/daemon-lib.sh"

daemon_config
NEVER="*-02-29 02:00 UTC"
daemon_system alpha 人社局 "$NEVER" "$NEVER"
YUNBAKD_PID=
trap 'kill "$YUNBAKD_PID" 2>/dev/null || true; cleanup' EXIT

# sample: the newest tier-1 sample of alpha as "bytes snapshots".
sample() {
        sql "SELECT bytes || ' ' || snapshots FROM storage_usage WHERE system = 'alpha' AND tier = 1 ORDER BY day_usec DESC LIMIT 1"
}
# until_sample WANT WHAT: polls (bounded) until the newest sample is WANT.
until_sample() {
        i=0
        until [ "$(sample)" = "$1" ]; do
                i=$((i + 1))
                [ "$i" -lt 300 ] || die "$2: the sample says '$(sample)', not '$1'"
                sleep 0.1
        done
}
listed() {
        sql "SELECT SUM(bytes_stored) || ' ' || count(*) FROM snapshots WHERE system = 'alpha' AND store = 'local'"
}

start_yunbakd
until_sample "0 0" "at start, with nothing in the store"
job=$(api POST /v1/systems/alpha/backup '{"level":"full"}' | json 'j["job"]')
[ "$(wait_job "$job")" = succeeded ] || die "the first backup did not succeed"
want=$(listed)
[ "${want#* }" = 1 ] || die "the catalog lists '$want' of alpha after one backup"
until_sample "$want" "after the first backup's end"
yunbak report --month "$(date -u +%Y-%m)" --tz UTC --json --socket "$SOCK" >"$SCRATCH/r.json" ||
        die "yunbak report failed"
got=$(json '" ".join(str(j["departments"][0]["systems"][0]["storage"][0]["end"][k]) for k in ("bytes", "snapshots"))' <"$SCRATCH/r.json")
[ "$got" = "$want" ] || die "the report's storage at the period's end is '$got', the store holds '$want'"

# The catalog forgets the snapshot while yunbakd is stopped (as one restored from before the
# backup would): at start it samples 0; a rebuild finds the snapshot and samples it again.
stop_yunbakd
sql "DELETE FROM snapshots WHERE system = 'alpha'"
start_yunbakd
until_sample "0 0" "at start, with the snapshot forgotten"
api POST /v1/catalog/rebuild '{}' >/dev/null
[ "$(api_status)" = 200 ] || die "the rebuild was answered $(api_status): $(cat "$D/body" 2>/dev/null)"
want=$(listed)
[ "${want#* }" = 1 ] || die "the rebuild did not find alpha's snapshot: '$want'"
until_sample "$want" "after the catalog's rebuild"
