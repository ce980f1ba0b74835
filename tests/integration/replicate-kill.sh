#!/bin/sh
# SIGKILL of the replicator 20 times, at random points (while it makes its root, right after, while
# it writes segments), with a writer changing the tree all along. Every restart makes a root; no
# partial segment is ever listed (yunbak verify passes after each kill); after quiet the restored
# newest point equals the source: nothing is lost.
set -eu
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/replicate-lib.sh"
WRITER_PID=
trap 'kill_replicator; [ -z "$WRITER_PID" ] || kill "$WRITER_PID" 2>/dev/null || true; cleanup' EXIT

make_key hr
src=$SCRATCH/src
mkdir -p "$src/a" "$src/b" "$SCRATCH/store"
head -c 4M /dev/urandom >"$src/a/big"
REPL_MARK_DIR=$src

# The writer: creates, rewrites, renames and deletes files until told to stop.
touch "$SCRATCH/writing"
(
        i=0
        while [ -e "$SCRATCH/writing" ]; do
                i=$((i + 1))
                echo "$i" >"$src/a/f$((i % 50))"
                mv "$src/a/f$((i % 50))" "$src/b/g$((i % 30))"
                [ $((i % 7)) -ne 0 ] || rm -f "$src/b/g$((i % 11))"
                [ $((i % 13)) -ne 0 ] || printf '%s' "$i" |
                        dd of="$src/a/big" bs=1 seek=$((i * 4099 % 4000000)) conv=notrunc 2>/dev/null
                [ $((i % 17)) -ne 0 ] || { mkdir -p "$src/c$((i % 3))" && mv "$src/c$((i % 3))" "$src/b/c$i"; }
        done
) &
WRITER_PID=$!

for k in $(seq 1 20); do
        start_replicator r$k --store "$SCRATCH/store" --system hr \
                --public-key "$SCRATCH/keys/hr.pub" --interval 200ms "$src"
        # Every restart makes a root.
        repl_wait r$k 60 "L['event'] == 'root' and L['state'] == 'running' and L['reason'] == 'start'"
        case $((k % 4)) in
        0) ;; # while the root is being made
        1) repl_wait r$k 60 "L['event'] == 'root' and L['state'] == 'done'" ;;
        *) repl_wait r$k 60 "L['event'] == 'segment' and L['seq'] >= $((k % 3 + 1))" ;;
        esac
        # And a random moment after that point.
        python3 -c 'import random, time; time.sleep(random.random() * 0.3)'
        kill -KILL "$REPL_PID"
        wait "$REPL_PID" 2>/dev/null || true
        exec 9>&-
        yunbak verify --store "$SCRATCH/store" --system hr >"$SCRATCH/verify.out" 2>&1 || {
                cat "$SCRATCH/verify.out" >&2
                die "kill $k: the store does not verify"
        }
done

rm "$SCRATCH/writing"
wait "$WRITER_PID"
WRITER_PID=
start_replicator last --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
        --interval 200ms "$src"
repl_wait last 60 "L['event'] == 'root' and L['state'] == 'done'"
repl_quiet last 60
stop_replicator last
yunbak verify --store "$SCRATCH/store" --system hr >/dev/null || die "the store does not verify"
roots=$(cat "$SCRATCH"/r*.jsonl "$SCRATCH/last.jsonl" | grep -c '"event":"root","time_ns":[0-9]*,"state":"running"')
[ "$roots" -eq 21 ] || die "21 starts made $roots roots"

yunbak restore --store "$SCRATCH/store" --system hr --key "$SCRATCH/keys/hr.key" \
        --passphrase-file "$SCRATCH/pass" --target "$SCRATCH/out" >/dev/null
[ "$(tree_digest "$src")" = "$(tree_digest "$SCRATCH/out/src")" ] ||
        die "the restored newest point differs from the source"
