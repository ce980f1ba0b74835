#!/bin/sh
# An inotify queue of 64 events (fs.inotify.max_queued_events, global: the old value is put back
# on exit) and 100,000 new files (one in ten with content): the queue overflows, the replicator
# says so, runs a rescan with the lag unknown meanwhile, and after quiet the restored newest point
# equals the source.
set -eu
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/replicate-lib.sh"
is_root || { echo "needs root to set fs.inotify.max_queued_events"; exit 77; }
old=$(cat /proc/sys/fs/inotify/max_queued_events)
trap 'kill_replicator; echo "$old" >/proc/sys/fs/inotify/max_queued_events; cleanup' EXIT

repl_setup
src=$SRC
# The limit holds for inotify instances made after it is set: the replicator's.
echo 64 >/proc/sys/fs/inotify/max_queued_events
start_replicator r --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
        --capture inotify --interval 1s "$src"
repl_wait r 60 "L['event'] == 'scan' and L['state'] == 'done' and L['reason'] == 'start'"
echo "$old" >/proc/sys/fs/inotify/max_queued_events

python3 - "$src" <<'PY'
import os, sys
for d in range(100):
    dirname = os.path.join(sys.argv[1], "d%03d" % d)
    os.mkdir(dirname)
    dfd = os.open(dirname, os.O_RDONLY | os.O_DIRECTORY)
    for f in range(1000):
        fd = os.open("f%04d" % f, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=dfd)
        if f % 10 == 0:
            os.write(fd, b"%d/%d\n" % (d, f))
        os.close(fd)
    os.close(dfd)
PY
repl_wait r 120 "L['event'] == 'scan' and L['state'] == 'running' and L['reason'] == 'overflow'"
# Meanwhile the lag is unknown, and said to be because of the rescan.
repl_wait r 120 "L['event'] == 'lag' and not L['known'] and L['why'] == 'rescan' and any(
        M['event'] == 'scan' and M['reason'] == 'overflow' and M['state'] == 'running'
        for M in lines[:i])"
grep -q '"event":"error".*overflowed' "$SCRATCH/r.jsonl" || die "the overflow was not reported"
repl_quiet r 300
stop_replicator r

yunbak restore --store "$SCRATCH/store" --system hr --key "$SCRATCH/keys/hr.key" \
        --passphrase-file "$SCRATCH/pass" --target "$SCRATCH/out" >/dev/null
[ "$(find "$SCRATCH/out/src" -type f | wc -l)" -eq 100002 ] ||
        die "the restored tree does not hold the 100,000 new files"
[ "$(tree_digest "$src")" = "$(tree_digest "$SCRATCH/out/src")" ] ||
        die "the restored newest point differs from the source"
