#!/bin/sh
# Point in time from a tier-2 store: a canary file is replaced every 100 ms for 60 s with the
# time it was written in it, while the replicator commits a segment every second. Restores with
# --at at 10 random times of those 60 s give a canary written within interval + 1 s before each
# time, never one written after it, and say which segment they restored (finished at or before
# the time).
set -eu
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/replicate-lib.sh"
trap 'kill_replicator; cleanup' EXIT

INTERVAL_S=1
make_key hr
src=$SCRATCH/src
store=$SCRATCH/store
mkdir -p "$src" "$store"
echo 0 >"$src/canary"
REPL_MARK_DIR=$src
start_replicator pit --store "$store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
        --interval "${INTERVAL_S}s" --state-dir "$SCRATCH/state" "$src"
repl_wait pit 120 "L['event'] == 'scan' and L['state'] == 'done' and L['reason'] == 'start'"

# The canary: written whole beside the tree and renamed in (a reader sees one value or the next),
# every 100 ms for 60 s; canary.log keeps every value. The pace is the workload, not a wait.
python3 - "$src" "$SCRATCH" <<'PY'
import os, sys, time
src, scratch = sys.argv[1], sys.argv[2]
end = time.monotonic() + 60
with open(os.path.join(scratch, "canary.log"), "w") as log:
    while time.monotonic() < end:
        t = time.time_ns()
        tmp = os.path.join(scratch, "canary.tmp")
        with open(tmp, "w") as f:
            f.write("%d\n" % t)
        os.rename(tmp, os.path.join(src, "canary"))
        log.write("%d\n" % t)
        log.flush()
        time.sleep(0.1)
PY
repl_quiet pit 60
stop_replicator pit

# Ten times from interval + 1 s after the first write to the last one, as ISO 8601 with ns.
python3 - "$SCRATCH" "${SEED:-$$}" "$INTERVAL_S" <<'PY' >"$SCRATCH/times"
import random, sys, time
scratch, seed, interval = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
vals = [int(l) for l in open(scratch + "/canary.log")]
rng = random.Random(seed)
print("seed %d" % seed, file=sys.stderr)
for _ in range(10):
    t = rng.randrange(vals[0] + (interval + 1) * 10**9, vals[-1])
    print(t, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t // 10**9)) + ".%09dZ" % (t % 10**9))
PY
n=0
while read -r t iso; do
        n=$((n + 1))
        out=$SCRATCH/out-$n
        yunbak restore --store "$store" --system hr --key "$SCRATCH/keys/hr.key" \
                --passphrase-file "$SCRATCH/pass" --at "$iso" --target "$out" --json \
                >"$SCRATCH/restore-$n.json" || die "restore --at $iso failed"
        python3 - "$t" "$iso" "$out/src/canary" "$SCRATCH/restore-$n.json" "$SCRATCH/canary.log" \
                "$INTERVAL_S" <<'PY' || die "restore --at $iso: wrong canary"
import json, sys
t, iso, canary, rj, log, interval = sys.argv[1:]
t, interval = int(t), int(interval)
v = int(open(canary).read())
j = json.load(open(rj))
written = set(int(l) for l in open(log))
assert v in written, "canary %d at %s was never written" % (v, iso)
assert j["level"] == "segment" and j["finished_ns"] <= t, \
    "point %s (finished %s) is not a segment finished at or before %s" % (
        j["snapshot"], j.get("finished_ns"), iso)
assert v <= t, "canary written at %d is from after %s (%d)" % (v, iso, t)
lag = (t - v) / 1e9
assert lag <= interval + 1, "canary at %s is %.3f s old (more than interval + 1 s)" % (iso, lag)
print("%s: segment %s seq %d, canary %.3f s old" % (iso, j["snapshot"], j["seq"], lag))
PY
done <"$SCRATCH/times"
[ "$n" -eq 10 ] || die "only $n restores ran"
