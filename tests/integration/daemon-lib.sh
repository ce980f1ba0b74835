# Sourced by the yunbakd tests after lib.sh: a daemon set-up under $SCRATCH/d with a catalog,
# a store, keys, policies and trees, and helpers to start it and call its API with curl.
D="$SCRATCH/d"
mkdir -p "$D/policies" "$D/keys" "$D/store" "$D/state" "$D/trees" "$D/agent-state"
ME=$(id -un)

# daemon_config [EXTRA_YAML]: yunbakd.yaml with the current user as operator; EXTRA_YAML is
# appended under `people:` (more people), $EXTRA_HOSTS under `hosts:` (after `here`).
daemon_config() {
        cat >"$D/yunbakd.yaml" <<YAML
catalog: catalog.db
socket: yunbakd.sock
policies: policies
keys: keys
state: state
max_jobs: ${MAX_JOBS:-2}
retries: ${RETRIES:-0}
retry_backoff: 1min
job_timeout: 10min
stores:
  local:
    url: $D/store
hosts:
  here:
    local: true
    state_dir: $D/agent-state
${EXTRA_HOSTS:-}
people:
  - user: $ME
    role: operator
${1:-}
YAML
}

# daemon_system ID DEPARTMENT [FULL] [INCREMENTAL] [RETENTION_YAML]: a general system with a
# small tree, its key, and its policy; on host $HOST (default here, the local one).
daemon_system() {
        id=$1
        mkdir -p "$D/trees/$id/data"
        seq 1 2000 >"$D/trees/$id/data/numbers.txt"
        printf '%s\n' "$id" >"$D/trees/$id/data/name.txt"
        [ -f "$D/keys/$id.pub" ] || {
                yunbak key init --system "$id" --out "$D/keys" --passphrase-file "$SCRATCH/pass" \
                        >/dev/null
        }
        cat >"$D/policies/$id.yaml" <<YAML
version: 1
system:
  id: $id
  name: 测试系统 $id
  department: $2
  contact: 测试 <test@example.gov.cn>
  classification: general
sources:
  host: ${HOST:-here}
  paths:
    - $D/trees/$id/data
tier1:
  store: local
  full: "${3:-Sun *-*-* 02:00 UTC}"
  incremental: "${4:-Mon..Sat *-*-* 02:00 UTC}"
${5:-}
objectives:
  rpo: 1d
  rto: 8h
drill:
  every: 1y
  check: test -s data/name.txt
YAML
}
[ -f "$SCRATCH/pass" ] || printf 'correct horse battery staple\n' >"$SCRATCH/pass"

SOCK="$D/yunbakd.sock"

# start_yunbakd: in the background, until its API answers (bounded wait: it is either ready or
# has exited with its reason on stderr). $YUNBAKD, if set, is the command that runs yunbakd.
# It gets SIGTERM when the test's shell ends, however it ends (a test that fails, or is killed
# by ctest's timeout, leaves no daemon behind).
start_yunbakd() {
        rm -f "$SOCK"
        setpriv --pdeathsig TERM ${YUNBAKD:-yunbakd} --config "$D/yunbakd.yaml" --foreground \
                >>"$D/yunbakd.log" 2>&1 &
        YUNBAKD_PID=$!
        i=0
        until curl -s --unix-socket "$SOCK" -o /dev/null http://yunbakd/v1/whoami 2>/dev/null; do
                kill -0 "$YUNBAKD_PID" 2>/dev/null || {
                        cat "$D/yunbakd.log" >&2
                        die "yunbakd exited at start"
                }
                i=$((i + 1))
                [ "$i" -lt 3000 ] || die "yunbakd did not answer within 300 s"
                sleep 0.1
        done
}

stop_yunbakd() {
        kill -TERM "$YUNBAKD_PID" 2>/dev/null || true
        wait "$YUNBAKD_PID" || die "yunbakd exited $? on SIGTERM"
}

# api METHOD PATH [BODY]: the response body on stdout; the status in $D/status.
api() {
        curl -s --unix-socket "$SOCK" -X "$1" -o "$D/body" -w '%{http_code}' \
                ${3:+-H 'Content-Type: application/json' --data "$3"} "http://yunbakd$2" \
                >"$D/status"
        cat "$D/body"
}

api_status() { cat "$D/status"; }

# json EXPR: evaluates a Python expression over the JSON on stdin (bound to j).
json() {
        python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"
}

# wait_job ID: until the job has ended (bounded); prints its final state.
wait_job() {
        i=0
        while :; do
                st=$(api GET "/v1/jobs/$1" | json 'j["state"]')
                case $st in queued | running) ;; *) break ;; esac
                i=$((i + 1))
                [ "$i" -lt 6000 ] || die "job $1 did not end within 600 s"
                sleep 0.1
        done
        echo "$st"
}

sql() { sqlite3 "$D/catalog.db" "$1"; }

# minute_windows: waits (bounded: a minute and a half) for the first 15 seconds of a minute, then
# sets w1 to a store window of that minute, w2 to one two minutes later, and reopen to when w2
# opens (seconds since the epoch): windows of whole minutes, for tests on the real clock.
minute_windows() {
        i=0
        until [ "$(date -u +%S | sed 's/^0//')" -lt 15 ]; do
                i=$((i + 1))
                [ $i -lt 900 ] || die "the clock did not reach the start of a minute"
                sleep 0.1
        done
        t0=$(($(date -u +%s) / 60 * 60))
        w1="$(date -u -d "@$t0" +%H:%M)-$(date -u -d "@$((t0 + 60))" +%H:%M) UTC"
        w2="$(date -u -d "@$((t0 + 120))" +%H:%M)-$(date -u -d "@$((t0 + 180))" +%H:%M) UTC"
        reopen=$((t0 + 120))
}
