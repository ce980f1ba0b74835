#!/bin/sh
# A backup straight to an SFTP store whose link is cut mid-backup (iptables DROP in the server's
# network namespace, after the agent has taken the lock and started the snapshot): the agent
# fails within the store's timeout (30 s) with exit 6 and a message naming the store; no
# partial snapshot is ever listed; once the link is back, the next backup succeeds (the dead
# agent's lock is stale) and the repository verifies. A host that never answers (its SYNs
# vanish) fails the store's opening within the same timeout, with exit 6. Needs root and a network namespace (the
# loopback fallback cannot cut one connection alone): skipped otherwise, saying so.
. "$TESTS/integration/lib.sh"

SSH_DIR=$SCRATCH/ssh
RULE=
AGENT_PID=
finish() {
        set +e
        [ -z "$RULE" ] || ip netns exec "$NS" iptables -D INPUT -p tcp --dport "$PORT" -j DROP
        [ -z "$AGENT_PID" ] || kill "$AGENT_PID" 2>/dev/null
        ssh_finish
        cleanup
}
trap finish EXIT
trap 'exit 1' HUP INT TERM
is_root || skip_early=1
if [ -n "${skip_early:-}" ]; then
        echo "sftp-drop: skipped: cutting a link needs root (iptables in a network namespace)" >&2
        exit 77
fi
command -v iptables >/dev/null || {
        echo "sftp-drop: skipped: no iptables (package iptables)" >&2
        exit 77
}
. "$TESTS/integration/ssh-lib.sh"
[ "$MODE" = netns ] || skip "no network namespace could be made, and on 127.0.0.1 the link cannot be cut for one connection alone"

SRC="$SCRATCH/src/app"
mkdir -p "$SRC" "$SCRATCH/store"
head -c 3000000 /dev/urandom >"$SRC/data.bin"
make_key hr
STORE="sftp://$ME@$ADDR:$PORT$SCRATCH/store"
SSHO="--ssh-key $SSH_DIR/client_key --known-hosts $SSH_DIR/known_hosts"
backup() { # NAME [MORE OPTIONS]
        name=$1
        shift
        # shellcheck disable=SC2086
        yunbak-agent backup --store "$STORE" $SSHO --system hr --public-key "$SCRATCH/keys/hr.pub" \
                --level full --json "$@" "$SRC" >"$SCRATCH/$name.json"
}
snap_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot"])' "$SCRATCH/$1.json"; }
listed() {
        # shellcheck disable=SC2086
        yunbak snapshots --store "$STORE" $SSHO --system hr | awk 'NR > 1 { print $1 }' | sort
}

backup first
FIRST=$(snap_of first)

# The stream's command says it has started (the store is open, the lock taken, the snapshot
# begun), then waits for the test to cut the link before it writes its 8 MB.
STREAM="touch '$SCRATCH/started'; i=0; while [ ! -e '$SCRATCH/go' ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i+1)); done; head -c 8000000 /dev/urandom"
set +e
backup cut --stream "_streams/dump=$STREAM" 2>"$SCRATCH/cut.err" &
AGENT_PID=$!
set -e
i=0
until [ -e "$SCRATCH/started" ]; do
        kill -0 "$AGENT_PID" 2>/dev/null || die "the agent ended before its stream started: $(cat "$SCRATCH/cut.err")"
        i=$((i + 1))
        [ $i -lt 600 ] || die "the stream did not start within 60 s"
        sleep 0.1
done
ip netns exec "$NS" iptables -I INPUT -p tcp --dport "$PORT" -j DROP
RULE=1
t0=$(date +%s)
touch "$SCRATCH/go"
set +e
wait "$AGENT_PID"
rc=$?
set -e
AGENT_PID=
t1=$(date +%s)
cat "$SCRATCH/cut.err" >&2
[ "$rc" -eq 6 ] || die "expected exit 6 for a lost store, got $rc"
# The timeout is 30 s per wait; a few waits of cleanup fail at once after the first.
[ $((t1 - t0)) -le 60 ] || die "the agent took $((t1 - t0)) s to give up on a dead link"
grep -q "connection to the store '$STORE' was lost" "$SCRATCH/cut.err" ||
        die "the message does not name the store"

ip netns exec "$NS" iptables -D INPUT -p tcp --dport "$PORT" -j DROP
RULE=
[ "$(listed)" = "$FIRST" ] || die "a partial snapshot is listed: $(listed)"
# The dead agent's lock is stale (its process is gone): the next backup takes over.
backup after
AFTER=$(snap_of after)
[ "$(listed)" = "$(printf '%s\n%s\n' "$FIRST" "$AFTER" | sort)" ] || die "after the cut: $(listed)"
# shellcheck disable=SC2086
yunbak verify --store "$STORE" $SSHO --system hr >"$SCRATCH/verify" || die "verify: $(cat "$SCRATCH/verify")"
# A host that never answers at all.
t0=$(date +%s)
expect_exit 6 yunbak snapshots --store "sftp://$ME@$DEAD:$PORT$SCRATCH/store" \
        --ssh-key "$SSH_DIR/client_key" --known-hosts "$SSH_DIR/known_hosts" --system hr
t2=$(date +%s)
expect_stderr "$DEAD:$PORT: no answer within 30s while connecting"
[ $((t2 - t0)) -le 60 ] || die "opening a store on a silent host took $((t2 - t0)) s"
echo "sftp-drop: cut after $((t1 - t0)) s with exit 6; the repository stayed valid"
