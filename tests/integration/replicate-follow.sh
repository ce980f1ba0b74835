#!/bin/sh
# A warm standby: 'yunbak restore --follow' applies the replicator's segments to a tree of its
# own. After quiet the standby equals the source (tree digest) while the source changes in
# every way (renames, directory moves, deletes, hard links, rewrites in place, pages of a big
# file); SIGKILLed in the middle of applying a segment, it finishes that segment when started
# again; a file changed, removed or added by hand in the standby is reported and put right,
# whether a segment builds on it or not; a new chain root (the replicator restarted) is
# followed; SIGTERM stops it.
set -eu
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/replicate-lib.sh"
FOLLOW_PID=
kill_follow() {
        if [ -n "$FOLLOW_PID" ] && kill -0 "$FOLLOW_PID" 2>/dev/null; then
                kill -KILL "$FOLLOW_PID" 2>/dev/null || true
                wait "$FOLLOW_PID" 2>/dev/null || true
        fi
        FOLLOW_PID=
}
trap 'kill_follow; kill_replicator; cleanup' EXIT

make_key hr
src=$SCRATCH/src
store=$SCRATCH/store
standby=$SCRATCH/standby
mkdir -p "$store"
make_rich_tree "$src"
head -c 16M /dev/urandom >"$src/data/big.db"

start_repl() {
        REPL_MARK_DIR=$src
        start_replicator "$1" --store "$store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
                --interval 1s --state-dir "$SCRATCH/state" "$src"
        repl_wait "$1" 120 "L['event'] == 'root' and L['state'] == 'done'"
}

# The standby's JSON lines go to follow.jsonl (repl_wait reads them as it reads a replicator's).
start_follow() {
        yunbak restore --follow --store "$store" --system hr --key "$SCRATCH/keys/hr.key" \
                --passphrase-file "$SCRATCH/pass" --target "$standby" --interval 200ms --json \
                >>"$SCRATCH/follow.jsonl" 2>>"$SCRATCH/follow.log" &
        FOLLOW_PID=$!
}

# caught_up REPL: the replicator is quiet and the standby holds its newest segment (or root),
# and then equals the source.
caught_up() {
        repl_quiet "$1" 90
        last=$(python3 - "$SCRATCH/$1.jsonl" <<'PY'
import json, sys
last = None
for raw in open(sys.argv[1]):
    L = json.loads(raw)
    if L["event"] == "segment" or (L["event"] == "root" and L["state"] == "done"):
        last = L["id"]
print(last)
PY
)
        repl_wait follow 90 "L.get('point') == '$last' and L['event'] in ('applied', 'switched', 'restored', 'resumed')"
        [ "$(tree_digest "$src")" = "$(tree_digest "$standby/src")" ] || {
                tree_digest "$src" >"$SCRATCH/d-src"
                tree_digest "$standby/src" >"$SCRATCH/d-standby"
                diff "$SCRATCH/d-src" "$SCRATCH/d-standby" | head -n 20 >&2
                die "the standby differs from the source at $last"
        }
}

start_repl fol
start_follow
repl_wait follow 120 "L['event'] == 'restored'"
caught_up fol

echo "== renames, moves, deletes, hard links, rewrites"
mkdir -p "$src/tree/a/b"
echo leaf >"$src/tree/a/b/leaf"
ln "$src/tree/a/b/leaf" "$src/tree/a/leaf-link"
for i in $(seq 1 30); do
        echo "file $i" >"$src/tree/f$i"
done
mv "$src/etc/app.yaml" "$src/etc/app-renamed.yaml"
rm -r "$src/data/nested"
mv "$src/empty-dir" "$src/moved-dir"
printf 'REWRITTEN' | dd of="$src/data/numbers.txt" bs=1 seek=100 conv=notrunc 2>/dev/null
rewrite_pages "$src/data/big.db" 10
caught_up fol
mv "$src/tree" "$src/tree-moved"
rm "$src"/tree-moved/f1*
echo "again" >>"$src/tree-moved/a/b/leaf"
ln -s tree-moved/a "$src/new-link"
rm "$src/dangling"
mkdir "$src/dangling"
echo inside >"$src/dangling/inside"
caught_up fol

echo "== SIGKILL in the middle of a segment"
killed_mid=0
for round in 1 2 3; do
        rewrite_pages "$src/data/big.db" 200
        for i in $(seq 1 20); do
                echo "round $round $i" >"$src/tree-moved/r$i"
                mv "$src/tree-moved/r$i" "$src/tree-moved/s$i"
        done
        # Until the standby says it is applying a segment (its state file), then SIGKILL; a
        # segment applied whole before that is a kill between segments.
        if python3 - "$standby/.yunbak-follow/state" "$FOLLOW_PID" <<'PY'; then
import json, os, signal, sys, time
path, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        s = json.load(open(path))
    except (OSError, ValueError):
        s = {}
    if s.get("applying"):
        os.kill(pid, signal.SIGKILL)
        sys.exit(0)
    time.sleep(0.002)
os.kill(pid, signal.SIGKILL)
sys.exit(1)
PY
                killed_mid=$((killed_mid + 1))
        fi
        wait "$FOLLOW_PID" 2>/dev/null || true
        FOLLOW_PID=
        start_follow
        repl_wait follow 60 "L['event'] == 'resumed' and sum(1 for M in lines if M['event'] == 'resumed') >= $round"
done
echo "killed while applying a segment: $killed_mid of 3"
caught_up fol
left=$(find "$standby" -maxdepth 1 -name '.yunbak-restore-*')
[ -z "$left" ] || die "staging left behind by the killed runs: $left"
grep -q 'Finishing segment seq' "$SCRATCH/follow.log" ||
        [ "$killed_mid" -eq 0 ] || die "a run killed while applying did not finish that segment"

echo "== files changed by hand in the standby"
echo tampered >"$standby/src/data/numbers.txt"
rm "$standby/src/tree-moved/s3"
mkdir "$standby/src/by-hand"
echo added >"$standby/src/by-hand/file"
repl_wait follow 60 "L['event'] == 'problem' and L['path'] == 'src/data/numbers.txt'"
repl_wait follow 60 "L['event'] == 'problem' and L['path'] == 'src/by-hand'"
repl_wait follow 60 "L['event'] == 'problem' and L['path'] == 'src/tree-moved/s3'"
caught_up fol
# a copy that the next segment's delta builds on: reported when the segment lands. The pages
# rewritten in the source are away from the one changed by hand, so that the delta copies that
# page from the standby's copy (a rewrite of that very page would put it right unnoticed).
printf 'by hand' | dd of="$standby/src/data/big.db" bs=1 seek=8192 conv=notrunc 2>/dev/null
touch -r "$src/data/big.db" "$standby/src/data/big.db"
segs_before=$(grep -c '"event":"segment"' "$SCRATCH/fol.jsonl")
rewrite_pages "$src/data/big.db" 5 16
repl_wait fol 60 "sum(1 for M in lines if M['event'] == 'segment') > $segs_before"
stored=$(python3 - "$SCRATCH/fol.jsonl" "$segs_before" <<'PY'
import json, sys
segs = [L for L in map(json.loads, open(sys.argv[1])) if L["event"] == "segment"]
print(segs[int(sys.argv[2])]["bytes_stored"])
PY
)
[ "$stored" -lt 4194304 ] ||
        die "the segment after the rewrite stored $stored bytes: big.db went whole, not as a delta on the standby's copy, which is what this step tests"
repl_wait follow 60 "L['event'] == 'problem' and L['path'] == 'src/data/big.db'"
caught_up fol

echo "== a new chain root"
stop_replicator fol
echo "while no replicator ran" >"$src/offline"
rm -r "$src/moved-dir"
start_repl fol2
repl_wait follow 90 "L['event'] == 'switched'"
echo after >"$src/after-switch"
caught_up fol2

echo "== SIGTERM"
kill -TERM "$FOLLOW_PID"
set +e
wait "$FOLLOW_PID"
rc=$?
set -e
FOLLOW_PID=
[ "$rc" -eq 0 ] || die "follow exited with $rc on SIGTERM"
stop_replicator fol2
