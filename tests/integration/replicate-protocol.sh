#!/bin/sh
# The replicator's protocol and exit statuses (docs/replication.md): a second replicator of the
# system exits 8 naming the first one's pid; an unknown command is an error event, not a stop;
# it stops cleanly, "stopped" last with status 0, on {"cmd":"stop"}, SIGTERM, SIGINT and the end
# of its standard input; a store unreachable for longer than --start-timeout is exit 6; usage
# errors are exit 2.
set -eu
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/replicate-lib.sh"
trap 'kill_replicator; cleanup' EXIT

repl_setup
src=$SRC
args="--store $SCRATCH/store --system hr --public-key $SCRATCH/keys/hr.pub --interval 500ms"

# stopped_by NAME REASON: its last line says it stopped for REASON with status 0.
stopped_by() {
        tail -n 1 "$SCRATCH/$1.jsonl" | python3 -c '
import json, sys
L = json.loads(sys.stdin.read())
assert L["event"] == "stopped" and L["reason"] == sys.argv[1] and L["status"] == 0, L' "$2" ||
                die "$1: did not stop for '$2' with status 0"
}

# shellcheck disable=SC2086 # $args is split on purpose
start_replicator first $args "$src"
repl_wait first 60 "L['event'] == 'started' and L['pid'] > 0"
repl_wait first 60 "L['event'] == 'root' and L['state'] == 'done'"
# shellcheck disable=SC2086
expect_exit 8 yunbak-agent replicate $args "$src"
expect_stderr "Another replicator of system 'hr' runs on this host \\(pid $REPL_PID"
repl_send first '{"cmd":"dance"}'
repl_wait first 30 "L['event'] == 'error' and 'Unknown command' in L['message']"
kill -0 "$REPL_PID" || die "an unknown command stopped the replicator"
echo two >"$src/two"
repl_quiet first 60
stop_replicator first
stopped_by first "stop command"

for sig in TERM INT; do
        # shellcheck disable=SC2086
        start_replicator "sig$sig" $args "$src"
        repl_wait "sig$sig" 60 "L['event'] == 'root' and L['state'] == 'done'"
        kill -s "$sig" "$REPL_PID"
        wait "$REPL_PID" || die "SIG$sig: exit status $?"
        exec 9>&-
        stopped_by "sig$sig" "SIG$sig"
done

# shellcheck disable=SC2086
start_replicator eof $args "$src"
repl_wait eof 60 "L['event'] == 'root' and L['state'] == 'done'"
exec 9>&-
wait "$REPL_PID" || die "end of standard input: exit status $?"
stopped_by eof "standard input closed"

# Every stop left a store that verifies; every start made a root.
yunbak verify --store "$SCRATCH/store" --system hr >/dev/null || die "the store does not verify"
[ "$(cat "$SCRATCH"/*.jsonl | grep -c '"event":"root".*"state":"done"')" -eq 4 ] ||
        die "four starts did not make four roots"

# Its standard input a FIFO it holds open itself: it never ends.
mkfifo "$SCRATCH/held"
expect_exit 6 sh -c 'exec yunbak-agent replicate "$@" 0<>"$0"' "$SCRATCH/held" \
        --store "$SCRATCH/no-such-store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
        --start-timeout 2s "$src"
grep -q '"event":"store","time_ns":[0-9]*,"reachable":false' "$SCRATCH/stdout" ||
        die "the unreachable store was not reported"
expect_exit 2 yunbak-agent replicate --store "$SCRATCH/store" --system hr \
        --public-key "$SCRATCH/keys/hr.pub" --interval 2 "$src"
expect_stderr "--interval must be a duration"
expect_exit 2 yunbak-agent replicate --store "$SCRATCH/store" --system hr \
        --public-key "$SCRATCH/keys/hr.pub" --capture magic "$src"
