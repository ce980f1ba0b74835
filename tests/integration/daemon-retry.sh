#!/bin/sh
# `yunbak backup now --wait` while a job fails and waits to retry (issue 9): each failed attempt is
# said with its error and when the next one starts, and the end counts the whole job (every
# attempt), not the last attempt alone. The job's first attempt fails for sure (its before-hook
# takes the sources away); its second waits on a FIFO until this test has seen the notice, so
# nothing here depends on timing.
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/daemon-lib.sh"
RETRIES=2 daemon_config
sed -i 's/^retry_backoff: 1min/retry_backoff: 1s/' "$D/yunbakd.yaml"
daemon_system hr-portal 人社局
mkfifo "$D/release"
cat >"$D/hook.sh" <<SH
if [ -e "$D/mark" ]; then
        mv "$D/trees/hr-portal/away" "$D/trees/hr-portal/data"
        cat "$D/release" >/dev/null
else
        touch "$D/mark"
        mv "$D/trees/hr-portal/data" "$D/trees/hr-portal/away"
fi
SH
sed -i "s|^  paths:|  hooks:\n    - name: flaky\n      type: command\n      run: sh $D/hook.sh\n      timeout: 10min\n      on_failure: abort\n  paths:|" \
        "$D/policies/hr-portal.yaml"
export YUNBAK_SOCKET="$SOCK"
trap 'kill -TERM "${YUNBAKD_PID:-}" 2>/dev/null; cleanup' EXIT
start_yunbakd

yunbak backup now --system hr-portal --wait >"$SCRATCH/wait.out" 2>"$SCRATCH/wait.err" &
cli=$!
# Bounded: the notice comes once the first attempt has failed, which it does at once.
i=0
until grep -q "attempt 1 failed" "$SCRATCH/wait.err"; do
        kill -0 "$cli" 2>/dev/null || { cat "$SCRATCH/wait.out" "$SCRATCH/wait.err" >&2; die "backup now --wait ended without saying that attempt 1 failed"; }
        i=$((i + 1))
        [ $i -lt 1200 ] || { cat "$SCRATCH/wait.err" >&2; die "no word of the failed attempt within 120 s"; }
        sleep 0.1
done
grep -Eq "^Job [0-9]+: attempt 1 failed: .*none of its sources can be read.*\. Attempt 2 (starts at .* UTC \(in .*\)|runs now)\.$" "$SCRATCH/wait.err" || {
        cat "$SCRATCH/wait.err" >&2
        die "the notice does not give the attempt, its error and the next one"
}
echo go >"$D/release"
set +e
wait "$cli"
rc=$?
set -e
[ "$rc" = 0 ] || { cat "$SCRATCH/wait.out" "$SCRATCH/wait.err" >&2; die "backup now --wait exited $rc"; }
grep -Eq "^Job [0-9]+ succeeded after .* and 2 attempts: " "$SCRATCH/wait.out" || {
        cat "$SCRATCH/wait.out" >&2
        die "the end does not count the job's two attempts"
}
# The job's start is its first attempt's: its duration covers the retry.
job=$(sed -n 's/^Job \([0-9]*\) succeeded.*/\1/p' "$SCRATCH/wait.out")
curl -sf --unix-socket "$SOCK" "http://yunbakd/v1/jobs/$job" >"$SCRATCH/job.json"
python3 - "$SCRATCH/job.json" <<'PY' || die "the job's record: $(cat "$SCRATCH/job.json")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["attempt"] == 2 and j["state"] == "succeeded", j
assert j["next_retry_usec"] is None, j
# The second attempt began at least the 1 s backoff after the first one failed.
assert j["finished_usec"] - j["started_usec"] >= 1000000, j
PY
echo "daemon-retry: ok"
