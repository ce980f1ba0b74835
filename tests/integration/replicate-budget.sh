#!/bin/sh
# Backpressure in bounded memory: while another writer holds the repository's lock (a lock of
# another host), segments wait (the lag shows it, nothing is lost); 10,000 new files outgrow a
# 64 KiB --memory-budget, so the pending paths collapse into their directories (far fewer than
# 10,000 pending) marked for a rescan. Once the lock is gone the rescan ships everything, and the
# restored newest point equals the source.
set -eu
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/replicate-lib.sh"
trap 'kill_replicator; cleanup' EXIT

repl_setup
src=$SRC
mkdir "$src/x"
start_replicator r --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
        --memory-budget 64K --interval 500ms "$src"
repl_wait r 60 "L['event'] == 'scan' and L['state'] == 'done' and L['reason'] == 'start'"

# Another writer's lock (another host's: never taken for stale).
printf 'elsewhere 1' >"$SCRATCH/store/hr/lock"
t=$(now_ns)
python3 - "$src" <<'PY'
import os, sys
for d in range(10):
    os.mkdir(os.path.join(sys.argv[1], "x", "d%d" % d))
    for f in range(1000):
        with open(os.path.join(sys.argv[1], "x", "d%d" % d, "f%d" % f), "w") as out:
            out.write("%d %d\n" % (d, f))
PY
repl_wait r 60 "L['event'] == 'scan' and L['reason'] == 'budget' and L['state'] == 'running' and L['time_ns'] > $t"
# Waiting for the lock: nothing committed, the lag unknown (a rescan is due) and growing, the
# pending paths collapsed.
repl_wait r 60 "L['event'] == 'lag' and L['time_ns'] > $t and not L['known'] and L['why'] == 'rescan' and L['lag_ms'] >= 2000"
python3 - "$SCRATCH/r.jsonl" "$t" <<'PY' || die "the dirty set did not stay collapsed while waiting"
import json, sys
t = int(sys.argv[2])
lines = [json.loads(l) for l in open(sys.argv[1]) if l.endswith("\n")]
collapsed = next(i for i, L in enumerate(lines) if L["event"] == "scan" and L["reason"] == "budget")
assert not any(L["event"] == "segment" and L["time_ns"] > t for L in lines), "committed under a lock"
lags = [L for L in lines[collapsed:] if L["event"] == "lag"]
assert lags and all(0 < L["pending"] < 1000 for L in lags), [L["pending"] for L in lags]
PY
rm "$SCRATCH/store/hr/lock"
repl_wait r 60 "L['event'] == 'scan' and L['reason'] == 'budget' and L['state'] == 'done' and L['entries'] >= 10000"
repl_quiet r 60
stop_replicator r

yunbak restore --store "$SCRATCH/store" --system hr --key "$SCRATCH/keys/hr.key" \
        --passphrase-file "$SCRATCH/pass" --target "$SCRATCH/out" >/dev/null
[ "$(tree_digest "$src")" = "$(tree_digest "$SCRATCH/out/src")" ] ||
        die "the restored newest point differs from the source"
