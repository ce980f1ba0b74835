#!/bin/sh
# The tier-2 store over SFTP, in a network namespace of its own (a real sshd): the replicator ships
# segments to it; then the link is black-holed by iptables DROP for a minute (until the
# replicator's own lag report passes 60 s) while the tree keeps changing. The store is reported
# unreachable, the lag unknown and growing; once the link is back the store is reported
# reachable, a reconnect scan runs, the backlog ships, and the restored newest point equals the
# source.
set -eu
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/replicate-lib.sh"

SSH_DIR=$SCRATCH/ssh
finish() {
        set +e
        kill_replicator
        [ -z "$NS" ] || ip netns exec "$NS" iptables -F INPUT 2>/dev/null
        ssh_finish
        cleanup
}
trap finish EXIT
trap 'exit 1' HUP INT TERM
. "$TESTS/integration/ssh-lib.sh"
need_link_cut

make_key hr
src=$SCRATCH/src
mkdir -p "$src/docs" "$SCRATCH/store"
for i in $(seq 1 20); do echo "doc $i" >"$src/docs/d$i.txt"; done
head -c 8M /dev/urandom >"$src/db.img"
REPL_MARK_DIR=$src
URL="sftp://$ME@$ADDR:$PORT$SCRATCH/store"
start_replicator r --store "$URL" --ssh-key "$SSH_DIR/client_key" \
        --known-hosts "$SSH_DIR/known_hosts" --store-timeout 3s --system hr \
        --public-key "$SCRATCH/keys/hr.pub" --interval 1s "$src"
repl_wait r 120 "L['event'] == 'scan' and L['state'] == 'done' and L['reason'] == 'start'"
echo "before the cut" >"$src/docs/before.txt"
repl_quiet r 60

# --- The cut: the tree changes while the store cannot be reached ------------------------------
ip netns exec "$NS" iptables -A INPUT -p tcp --dport "$PORT" -j DROP
t=$(now_ns)
echo "during the cut" >"$src/docs/during.txt"
rm "$src/docs/d1.txt"
mv "$src/docs/d2.txt" "$src/docs/renamed.txt"
printf 'page' | dd of="$src/db.img" bs=4096 seek=100 conv=notrunc 2>/dev/null
repl_wait r 60 "L['event'] == 'store' and not L['reachable'] and L['time_ns'] > $t"
mkdir "$src/made-during-the-cut"
echo "later in the cut" >"$src/made-during-the-cut/file"
# A minute without the store, measured by the replicator itself.
repl_wait r 120 "L['event'] == 'lag' and not L['known'] and L['why'] == 'store-unreachable' and L['lag_ms'] >= 60000"
# Unknown and growing all along, never reported as known.
python3 - "$SCRATCH/r.jsonl" "$t" <<'PY' || die "the lag was not reported unknown and growing during the cut"
import json, sys
t = int(sys.argv[2])
lines = [json.loads(l) for l in open(sys.argv[1]) if l.endswith("\n")]
down = next(i for i, L in enumerate(lines) if L["event"] == "store" and not L["reachable"] and L["time_ns"] > t)
lags = [L for L in lines[down + 1:] if L["event"] == "lag"]
assert len(lags) >= 50, len(lags)
assert all(not L["known"] and L["why"] == "store-unreachable" for L in lags), "known during the cut"
assert all(b["lag_ms"] >= a["lag_ms"] for a, b in zip(lags, lags[1:])), "the lag shrank"
assert not any(L["event"] == "segment" for L in lines[down + 1:]), "a segment during the cut"
PY

# --- The link is back: the backlog ships ------------------------------------------------------
ip netns exec "$NS" iptables -F INPUT
t=$(now_ns)
repl_wait r 120 "L['event'] == 'store' and L['reachable'] and L['time_ns'] > $t"
repl_wait r 120 "L['event'] == 'scan' and L['reason'] == 'reconnect' and L['state'] == 'done'"
repl_quiet r 120
stop_replicator r

yunbak restore --store "$URL" --ssh-key "$SSH_DIR/client_key" --known-hosts "$SSH_DIR/known_hosts" \
        --system hr --key "$SCRATCH/keys/hr.key" --passphrase-file "$SCRATCH/pass" \
        --target "$SCRATCH/out" >/dev/null
[ "$(tree_digest "$src")" = "$(tree_digest "$SCRATCH/out/src")" ] ||
        die "the restored newest point differs from the source"
