# Sourced by the replicator's tests (after lib.sh): start and stop 'yunbak-agent replicate', and
# wait on what its JSON lines say (docs/replication.md, "Protocol"), never on the clock.
#
# start_replicator NAME ARGS...: runs 'yunbak-agent replicate ARGS...' in the background, its
#   standard input a FIFO held open by the test (closing it stops the replicator), its JSON lines
#   in $SCRATCH/NAME.jsonl, its log in $SCRATCH/NAME.log. Sets REPL_PID.
# repl_send NAME LINE: writes a command line to its standard input.
# stop_replicator NAME: {"cmd":"stop"}, waits for it, checks it said "stopped" last and exited 0.
# repl_wait NAME SECONDS PYTHON-EXPR: waits until some line L (a dict) makes EXPR true; the
#   variables `lines` (all lines so far) and `i` (L's index) are there too. Fails after SECONDS.
# repl_quiet NAME SECONDS: waits until everything changed before the call is committed: a
#   marker file is written under $REPL_MARK_DIR, then the wait is for a segment committed after
#   it, followed by lag reports spanning a second, all with the lag known and nothing pending
#   (events reach the replicator in order: once the marker is committed, so is all before it).
# now_ns: the wall clock in ns, as the replicator's time_ns.

# repl_setup: system hr's key, an empty store $SCRATCH/store, the source $SRC holding one file
#   (seed/file), where repl_quiet writes its marker.
repl_setup() {
        make_key hr
        SRC=$SCRATCH/src
        mkdir -p "$SRC/seed" "$SCRATCH/store"
        echo seed >"$SRC/seed/file"
        REPL_MARK_DIR=$SRC
}

now_ns() {
        python3 -c 'import time; print(time.time_ns())'
}

start_replicator() {
        name=$1
        shift
        rm -f "$SCRATCH/$name.in"
        mkfifo "$SCRATCH/$name.in"
        yunbak-agent replicate "$@" <"$SCRATCH/$name.in" >"$SCRATCH/$name.jsonl" \
                2>"$SCRATCH/$name.log" &
        REPL_PID=$!
        # Held open on fd 9 (one replicator at a time): its end is the replicator's stop.
        exec 9>"$SCRATCH/$name.in"
}

repl_send() {
        printf '%s\n' "$2" >&9
}

# repl_poll NAME SECONDS WHAT ARG: polls the JSON lines until WHAT ("expr": ARG is a Python
# expression on L, i and lines; "quiet": ARG is a time in ns after which a segment must come, then
# lag reports spanning a second with the lag known and nothing pending) holds; fails after SECONDS.
repl_poll() {
        python3 - "$SCRATCH/$1.jsonl" "$2" "$3" "$4" <<'PY' || {
import json, sys, time
path, limit, what, arg = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]

def holds(lines):
    if what == "expr":
        return any(eval(arg) for i, L in enumerate(lines))
    seen_segment, quiet = False, []
    for L in lines:
        if L["event"] == "segment" and L["time_ns"] > int(arg):
            seen_segment, quiet = True, []
        elif seen_segment and L["event"] == "lag":
            quiet = quiet + [L["time_ns"]] if L["known"] and L["pending"] == 0 else []
    return bool(quiet) and quiet[-1] - quiet[0] >= 10**9

deadline = time.monotonic() + limit
while True:
    with open(path) as f:
        lines = [json.loads(raw) for raw in f if raw.endswith("\n")]
    if holds(lines):
        sys.exit(0)
    if time.monotonic() > deadline:
        sys.exit(1)
    time.sleep(0.1)
PY
                tail -n 20 "$SCRATCH/$1.log" >&2
                grep -v '"lag"' "$SCRATCH/$1.jsonl" | tail -n 20 >&2
                tail -n 3 "$SCRATCH/$1.jsonl" >&2
                die "$1: within $2 s, no $3: $4"
        }
}

repl_wait() {
        repl_poll "$1" "$2" expr "$3"
}

repl_quiet() {
        t=$(now_ns)
        date +%s%N >"$REPL_MARK_DIR/.quiet-marker"
        repl_poll "$1" "$2" quiet "$t"
}

stop_replicator() {
        repl_send "$1" '{"cmd":"stop"}'
        set +e
        wait "$REPL_PID"
        rc=$?
        set -e
        exec 9>&-
        [ "$rc" -eq 0 ] || {
                tail -n 20 "$SCRATCH/$1.log" >&2
                die "$1: the replicator exited with $rc after a stop command"
        }
        tail -n 1 "$SCRATCH/$1.jsonl" | grep -q '"event":"stopped"' ||
                die "$1: its last line is not 'stopped'"
}

# kill_replicator: ends a replicator the test started, by its pid, if it still runs.
kill_replicator() {
        if [ -n "${REPL_PID:-}" ] && kill -0 "$REPL_PID" 2>/dev/null; then
                kill -KILL "$REPL_PID" 2>/dev/null || true
                wait "$REPL_PID" 2>/dev/null || true
        fi
}

# segment_bytes NAME: the bytes stored by every segment it committed.
segment_bytes() {
        python3 - "$SCRATCH/$1.jsonl" <<'PY'
import json, sys
print(sum(json.loads(l)["bytes_stored"] for l in open(sys.argv[1])
          if '"event":"segment"' in l))
PY
}

# rewrite_pages FILE N [FIRST]: N scattered 4 KiB pages of FILE rewritten in place, none before
# page FIRST (default 0).
rewrite_pages() {
        python3 - "$1" "$2" "${3:-0}" <<'PY'
import os, random, sys
path, n, first = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
size = os.path.getsize(path)
with open(path, "r+b") as f:
    for _ in range(n):
        f.seek(random.randrange(first, size // 4096) * 4096)
        f.write(os.urandom(4096))
PY
}
