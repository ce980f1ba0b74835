#!/bin/sh
# A file written all the time (docs/replication.md, "Files written all the time"): a writer
# rewrites 8 KiB pages of a 64 MiB file in bursts a few milliseconds apart, so that no read of it
# ever sees it still. The replicator keeps its last read each segment, flagged "changing":
# segments ship it and are not partial, every lag report stays known and within what the
# segments' own times explain (from the start of the segment before the report to the end of the
# one after it; under 3 x interval + twice the longest segment), the newest flagged
# copy restores with exit 3 naming the file (a standby following meanwhile names it, and stops
# with exit 3), and once the writer stops the restored newest point equals the source with exit
# 0 (and so does the standby).
set -eu
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/replicate-lib.sh"
WRITER_PID=
FOLLOW_PID=
stop_follow() { # SIGTERM: it stops after the segment in hand; sets FOLLOW_RC
        kill -TERM "$FOLLOW_PID"
        set +e
        wait "$FOLLOW_PID"
        FOLLOW_RC=$?
        set -e
        FOLLOW_PID=
}
kill_follow() {
        if [ -n "$FOLLOW_PID" ] && kill -0 "$FOLLOW_PID" 2>/dev/null; then
                kill -KILL "$FOLLOW_PID" 2>/dev/null || true
                wait "$FOLLOW_PID" 2>/dev/null || true
        fi
}
# A warm standby in $SCRATCH/standby, its JSON lines in follow.jsonl (read as a replicator's).
start_follow() {
        yunbak restore --follow --store "$store" --system hr --key "$SCRATCH/keys/hr.key" \
                --passphrase-file "$SCRATCH/pass" --target "$SCRATCH/standby" --interval 200ms \
                --json >>"$SCRATCH/follow.jsonl" 2>>"$SCRATCH/follow.log" &
        FOLLOW_PID=$!
}
stop_writer() {
        if [ -n "$WRITER_PID" ] && kill -0 "$WRITER_PID" 2>/dev/null; then
                kill -TERM "$WRITER_PID" 2>/dev/null || true
                wait "$WRITER_PID" 2>/dev/null || true
        fi
        WRITER_PID=
}
trap 'stop_writer; kill_follow; kill_replicator; cleanup' EXIT

INTERVAL_S=1
repl_setup
store=$SCRATCH/store
mkdir -p "$SRC/db"
head -c $((64 * 1024 * 1024)) /dev/urandom >"$SRC/db/busy.db"
start_replicator busy --store "$store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
        --interval "${INTERVAL_S}s" --state-dir "$SCRATCH/state" "$SRC"
repl_wait busy 120 "L['event'] == 'scan' and L['state'] == 'done' and L['reason'] == 'start'"

# The writer: 4 pages at random offsets, then 3 ms, until told to stop (SIGTERM); every burst
# moves the file's mtime, so a read of 64 MiB always spans several. Its pace is the workload.
python3 - "$SRC/db/busy.db" "$SCRATCH/writer-started" <<'PY' &
import os, random, signal, sys, time
path, started = sys.argv[1], sys.argv[2]
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
pages = os.path.getsize(path) // 8192
fd = os.open(path, os.O_WRONLY)
open(started, "w").write("%d\n" % time.time_ns())
while True:
    for _ in range(4):
        os.pwrite(fd, os.urandom(8192), random.randrange(pages) * 8192)
    time.sleep(0.003)
PY
WRITER_PID=$!
# A standby follows meanwhile: it names the file each time a segment brings it so.
repl_wait busy 240 "L['event'] == 'segment' and L.get('changing', 0) >= 1"
start_follow
repl_wait follow 120 "L['event'] == 'changing' and L['path'] == 'src/db/busy.db'"
# Five segments that kept the file while it was written, started after the writer started (the
# same count the check below makes: on a loaded machine the first flagged segment may have
# started before the writer's first write).
WRITER_STARTED=$(cat "$SCRATCH/writer-started")
repl_wait busy 240 "len([x for x in lines if x['event'] == 'segment' and x.get('changing', 0) >= 1 and x['started_ns'] > $WRITER_STARTED]) >= 5"
# Stopped while the file is still written, the standby's point holds it so: exit 3, said.
stop_follow
[ "$FOLLOW_RC" -eq 3 ] || die "follow stopped at a point with the busy file flagged: exit $FOLLOW_RC, not 3"
grep -q "1 file of the standby '$SCRATCH/standby' was read while being written" "$SCRATCH/follow.log" ||
        die "follow does not say that its point holds a file read while written"
grep -q "'src/db/busy.db' was being written while segment " "$SCRATCH/follow.log" ||
        die "follow does not name the file read while written"
stop_writer

# While the file was written all the time: no segment left it out (nothing partial, no error),
# and the lag stayed known and bounded by the segments' own times.
python3 - "$SCRATCH/busy.jsonl" "$SCRATCH/writer-started" "$INTERVAL_S" "$SCRATCH/last" <<'PY' ||
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
started, interval = int(open(sys.argv[2]).read()), int(sys.argv[3]) * 10**9
errors = [L for L in lines if L["event"] == "error"]
assert not errors, "errors reported: %s" % errors
segs = [L for L in lines if L["event"] == "segment" and L["started_ns"] > started]
flagged = [s for s in segs if s["changing"] >= 1]
assert len(flagged) >= 5, "only %d segments kept the busy file" % len(flagged)
first, last = flagged[0], flagged[-1]
# The lag of a report is at most the time from the start of the last segment committed before
# it (whose read of the file began after that) to the end of the next one: two segments and the
# wait between them (at most an interval).
longest = max(s["finished_ns"] - s["started_ns"] for s in segs)
bound = 3 * interval + 2 * longest
lags = [L for L in lines if L["event"] == "lag" and first["finished_ns"] < L["time_ns"] <= last["finished_ns"]]
assert len(lags) >= 3, "only %d lag reports between the flagged segments" % len(lags)
for L in lags:
    assert L["known"], "lag unknown while the file was written: %s" % L
    # The oldest pending change is the busy file from the start of a read of the last segment
    # committed before the report, or later: never older than that segment's start. A report
    # taken in the moment between a segment's commit (its finished_ns) and the replicator
    # dropping its batch from what is pending (after the state is updated) still counts that
    # batch, whose changes were noticed after the segment before it started: on a loaded
    # machine that moment is long enough to be seen, so the bound is the earlier start then.
    done = [s for s in segs if s["finished_ns"] <= L["time_ns"]]
    prev = done[-1]
    lag_ns = L["lag_ms"] * 10**6
    if lag_ns > L["time_ns"] - prev["started_ns"] + 10**6 and len(done) >= 2:
        prev = done[-2]
    assert lag_ns <= L["time_ns"] - prev["started_ns"] + 10**6, \
        "lag %d ms at %d is older than segment %s's start" % (L["lag_ms"], L["time_ns"], prev["id"])
    nxt = [s for s in segs if s["finished_ns"] >= L["time_ns"]][0]
    assert nxt["started_ns"] - prev["finished_ns"] <= interval + 10**9, \
        "segment %s started more than an interval after %s" % (nxt["id"], prev["id"])
    assert L["lag_ms"] * 10**6 < bound, \
        "lag %d ms over 3 x interval + twice the longest segment (%d ms)" % (L["lag_ms"],
                                                                             bound // 10**6)
print("%d segments kept the busy file; lag at most %d ms (bound %d ms, longest segment %d ms)" % (
    len(flagged), max(L["lag_ms"] for L in lags), bound // 10**6, longest // 10**6))
open(sys.argv[4], "w").write("%s %s %d\n" % (last["id"], last["root"], last["finished_ns"]))
PY
        die "the replicator's reports while the file was written"
read -r last_id root last_finished <"$SCRATCH/last"

# The segments list says how many files each kept so, key-less, and none is partial.
yunbak snapshots --store "$store" --system hr --segments "$root" >"$SCRATCH/segments.txt"
grep -E "^$last_id .*\(1 read while written\)" "$SCRATCH/segments.txt" >/dev/null ||
        die "snapshots --segments does not show segment $last_id's file read while written"
if grep -q partial "$SCRATCH/segments.txt"; then die "a segment is partial"; fi
yunbak snapshots --store "$store" --system hr --segments "$root" --json >"$SCRATCH/segments.json"
python3 - "$SCRATCH/segments.json" "$last_id" <<'PY' || die "segment headers"
import json, sys
hs = {h["id"]: h for h in json.load(open(sys.argv[1]))}
assert hs[sys.argv[2]]["counts"]["changing"] == 1, hs[sys.argv[2]]["counts"]
assert not any(h["partial"] for h in hs.values())
assert all("changing" not in h["counts"] or h["counts"]["changing"] > 0 for h in hs.values())
PY

# The flagged segments verify key-less as any other.
expect_exit 0 yunbak verify --store "$store" --system hr --chain "$root"

# The newest flagged copy: restored (its hash checked), named, exit 3.
iso=$(python3 -c 'import sys, time; t = int(sys.argv[1]); print(time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t // 10**9)) + ".%09dZ" % (t % 10**9))' "$last_finished")
expect_exit 3 yunbak restore --store "$store" --system hr --key "$SCRATCH/keys/hr.key" \
        --passphrase-file "$SCRATCH/pass" --at "$iso" --target "$SCRATCH/flagged"
expect_stderr "'src/db/busy.db' was being written while segment $last_id read it: its content mixes moments between .* and .*; it is complete only as of a point where it was not being written"
grep -q "1 file restored as read while being written" "$SCRATCH/stdout" ||
        die "the restore's summary does not count the file read while written"
[ "$(stat -c %s "$SCRATCH/flagged/src/db/busy.db")" -eq $((64 * 1024 * 1024)) ] ||
        die "the flagged copy is not the 64 MiB read"
expect_exit 3 yunbak restore --store "$store" --system hr --key "$SCRATCH/keys/hr.key" \
        --passphrase-file "$SCRATCH/pass" --at "$iso" --target "$SCRATCH/flagged-json" --json
python3 - "$SCRATCH/stdout" "$last_id" <<'PY' || die "restore --json does not list the file"
import json, sys
j = json.load(open(sys.argv[1]))
c = j["changing"]
assert len(c) == 1 and c[0]["path"] == "src/db/busy.db" and c[0]["segment"] == sys.argv[2], c
assert c[0]["read_started_ns"] <= c[0]["finished_ns"], c
PY

# The writer has stopped: a stable read ships, the newest point equals the source, exit 0.
repl_quiet busy 120
stop_replicator busy
expect_exit 0 yunbak restore --store "$store" --system hr --key "$SCRATCH/keys/hr.key" \
        --passphrase-file "$SCRATCH/pass" --target "$SCRATCH/out"
if grep -q "being written" "$SCRATCH/stderr"; then die "the newest point still names the file"; fi
tree_digest "$SRC" >"$SCRATCH/want"
tree_digest "$SCRATCH/out/src" >"$SCRATCH/got"
diff "$SCRATCH/want" "$SCRATCH/got" >&2 || die "the restored newest point differs from the source"

# The standby takes up where it stopped, reaches the newest point (no file flagged): exit 0.
last=$(python3 -c 'import json, sys; print([json.loads(l) for l in open(sys.argv[1]) if "\"event\":\"segment\"" in l][-1]["id"])' "$SCRATCH/busy.jsonl")
start_follow
repl_wait follow 120 "L.get('point') == '$last' and L['event'] in ('applied', 'resumed')"
stop_follow
[ "$FOLLOW_RC" -eq 0 ] || die "follow stopped at the newest point with exit $FOLLOW_RC, not 0"
tree_digest "$SCRATCH/standby/src" >"$SCRATCH/standby-got"
diff "$SCRATCH/want" "$SCRATCH/standby-got" >&2 || die "the standby differs from the source"
