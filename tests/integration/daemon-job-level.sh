#!/bin/sh
# A job lists the level it made, not only the one asked: a first backup asked as incremental is
# made as a full (no parent to build on), and the catalog's jobs, GET /v1/jobs/N, 'yunbak jobs',
# 'backup now --wait' and the audit record say full, with the level asked and why they differ.
# The next incremental is one, and says nothing more.
. "$TESTS/integration/lib.sh"
command -v yunbakd >/dev/null || {
        echo "daemon-job-level: yunbakd is not built (configure with -DYB_DAEMON=ON): skipped"
        exit 77
}
for tool in curl sqlite3 python3; do
        command -v "$tool" >/dev/null || {
                echo "daemon-job-level: no $tool: skipped"
                exit 77
        }
done
. "$TESTS/integration/daemon-lib.sh"
trap 'kill -TERM "${YUNBAKD_PID:-}" 2>/dev/null || true; cleanup' EXIT
export YUNBAK_SOCKET="$SOCK"

daemon_config
daemon_system hr-portal "市人力资源和社会保障局"
start_yunbakd

# The first backup, asked as incremental (the default).
expect_exit 0 yunbak backup now --system hr-portal --wait
grep -q "^Job 1 succeeded after .*: full snapshot " "$SCRATCH/stdout" || {
        cat "$SCRATCH/stdout" >&2
        die "backup now --wait does not say a full was made"
}
grep -q "^Its level: asked as incremental, made as full: there was no parent snapshot" \
        "$SCRATCH/stdout" || die "backup now --wait does not say why a full was made"

[ "$(sql "SELECT level, requested_level FROM jobs WHERE id = 1")" = "full|incremental" ] ||
        die "catalog: job 1 is $(sql "SELECT level, requested_level FROM jobs WHERE id = 1")"
case $(sql "SELECT level_note FROM jobs WHERE id = 1") in
"asked as incremental, made as full: there was no parent snapshot to build on"*) ;;
*) die "catalog: job 1's level note is '$(sql "SELECT level_note FROM jobs WHERE id = 1")'" ;;
esac

api GET /v1/jobs/1 >"$D/job1"
[ "$(json 'j["level"], j["requested_level"]' <"$D/job1")" = "full incremental" ] || {
        cat "$D/job1" >&2
        die "GET /v1/jobs/1 does not show the level made"
}
json 'j["level_note"]' <"$D/job1" | grep -q "no parent snapshot" || die "GET /v1/jobs/1: no note"

expect_exit 0 yunbak jobs
grep -q "hr-portal .*full (asked incremental)" "$SCRATCH/stdout" || {
        cat "$SCRATCH/stdout" >&2
        die "yunbak jobs does not show the level made"
}

audit=$(sql "SELECT detail FROM audit WHERE action = 'job.end' AND detail LIKE 'job 1 %'")
case $audit in
"job 1 full (asked as incremental, made as full: "*" snapshot "*) ;;
*) die "audit: job.end of job 1 reads '$audit'" ;;
esac

# The second one builds on the first: made as asked, nothing to explain.
echo more >>"$D/trees/hr-portal/data/name.txt"
expect_exit 0 yunbak backup now --system hr-portal --wait
grep -q "^Its level" "$SCRATCH/stdout" && die "an incremental made as asked is explained"
[ "$(sql "SELECT level, requested_level, level_note IS NULL FROM jobs WHERE id = 2")" = \
        "incremental|incremental|1" ] || die "catalog: job 2 is not an incremental made as asked"
api GET /v1/jobs/2 | json 'j["level"], j["requested_level"], j["level_note"]' |
        grep -qx "incremental incremental None" || die "GET /v1/jobs/2"

stop_yunbakd
