#!/usr/bin/env bash
# bench/segments.sh - tier-2 segments at scale (issue 11): listing, point-in-time lookup, key-less
# verification of the new segments and pruning a chain, at 14 days of 2-second segments.
#
#   BUILD=build-release bench/segments.sh        # ROUNDS=3, WORK=/tmp/segbench by default
#
# Builds two local stores with yb-seggen (tests/integration/seg-gen.c: the ordinary writer, a
# clock of its own, each hour's index written as the replicator writes it), unless WORK already
# holds them:
#   real   REAL_HOURS (34) x PER_HOUR (1800) real segments on disk, chains of MAX_CHAIN (43200,
#          a day at 2 s): every segment is committed as the replicator commits one (fsyncs and
#          all), which is what limits how many can be built here;
#   index  INDEX_HOURS (336: 14 days) x PER_HOUR segments, written on tmpfs, where each hour's
#          directory is removed once its index is written (YB_SEGGEN_DROP_INDEXED), then copied
#          to disk: the indexes of 604,800 segments, which is all that listing and lookup read;
#          only the last (open) hour keeps its segments.
# Then ROUNDS rounds, each timing (wall, ms) on each store:
#   list         yunbak snapshots --store S --system hr      (roots, then one line per chain)
#   find-point   the newest point at or before a time in the middle of the stored span
#   find         the same, with the chain loaded up to it (what a restore replays)
#   verify-new   yunbak verify --chain LAST --since-seq N    (the last 30 segments: one minute)
#   prune-chain  the oldest chain's segments, then its root  (one chain per round); also its
#                two parts: the rename under the lock, and the removal of the files after it
# With COLD=1 (needs root), `sync; echo 3 >/proc/sys/vm/drop_caches` before each step; with
# PRUNE=0, no chain is pruned (so that the stores serve another run).
# Output: $WORK/segments[-cold].tsv (store, segments, round, step, ms), a table of medians on
# standard output, and the build times in $WORK/build.txt.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
BUILD="${BUILD:-$ROOT/build}"
WORK="${WORK:-/tmp/segbench}"
TMPFS="${TMPFS:-/dev/shm}"
ROUNDS="${ROUNDS:-3}"
PER_HOUR="${PER_HOUR:-1800}"
REAL_HOURS="${REAL_HOURS:-34}"
INDEX_HOURS="${INDEX_HOURS:-336}"
MAX_CHAIN="${MAX_CHAIN:-43200}"
START=1795305600 # 2026-11-22T00:00:00Z
PATH="$BUILD:$PATH"
export YUNBAK_KDF=interactive
for p in yunbak yb-seggen; do command -v $p >/dev/null || { echo "no $p in $BUILD" >&2; exit 1; }; done
mkdir -p "$WORK"
OUT="$WORK/segments$([ "${COLD:-0}" = 1 ] && echo -cold || true).tsv"

now_ms() { date +%s%3N; }

keys() {
        [ -f "$WORK/keys/hr.pub" ] && return
        printf 'bench\n' >"$WORK/pass"
        yunbak key init --system hr --out "$WORK/keys" --passphrase-file "$WORK/pass" >/dev/null
}

build_real() {
        [ -f "$WORK/real/done" ] && return
        rm -rf "$WORK/real"
        mkdir -p "$WORK/real/store"
        t0=$(now_ms)
        yb-seggen "$WORK/real/store" hr "$WORK/keys/hr.pub" "$WORK/real/state" $START \
                "$REAL_HOURS" "$PER_HOUR" "$MAX_CHAIN" >"$WORK/real/roots"
        t1=$(now_ms)
        echo "real: $((REAL_HOURS * PER_HOUR)) segments built in $(( (t1 - t0) / 1000 )) s," \
                "$(du -sh "$WORK/real/store" | cut -f1), $(find "$WORK/real/store" | wc -l) files" \
                >>"$WORK/build.txt"
        touch "$WORK/real/done"
}

build_index() {
        [ -f "$WORK/index/done" ] && return
        rm -rf "$WORK/index" "$TMPFS/segbench-index"
        mkdir -p "$TMPFS/segbench-index/store" "$WORK/index"
        t0=$(now_ms)
        YB_SEGGEN_DROP_INDEXED=1 yb-seggen "$TMPFS/segbench-index/store" hr "$WORK/keys/hr.pub" \
                "$TMPFS/segbench-index/state" $START "$INDEX_HOURS" "$PER_HOUR" "$MAX_CHAIN" \
                >/dev/null
        t1=$(now_ms)
        cp -a "$TMPFS/segbench-index/store" "$WORK/index/store"
        rm -rf "$TMPFS/segbench-index"
        sync
        echo "index: $((INDEX_HOURS * PER_HOUR)) segments built on tmpfs in" \
                "$(( (t1 - t0) / 1000 )) s; on disk: $(du -sh "$WORK/index/store" | cut -f1)," \
                "$(ls "$WORK/index/store/hr/segments"/*/ | grep -c '\.index$') hour indexes" \
                >>"$WORK/build.txt"
        touch "$WORK/index/done"
}

cold() {
        if [ "${COLD:-0}" = 1 ]; then
                sync
                echo 3 >/proc/sys/vm/drop_caches
        fi
}

# step NAME STORE_KIND SEGMENTS ROUND CMD...: times CMD (its output to a log), appends a row.
step() {
        name=$1 kind=$2 n=$3 round=$4
        shift 4
        cold
        t0=$(now_ms)
        "$@" >"$WORK/last.out" 2>"$WORK/last.err" || { cat "$WORK/last.err" >&2; echo "$name failed" >&2; exit 1; }
        t1=$(now_ms)
        printf '%s\t%s\t%s\t%s\t%s\n' "$kind" "$n" "$round" "$name" "$((t1 - t0))" >>"$OUT"
}

# chains STORE: "<root> <segments> <last seq>" per chain, oldest first.
chains() {
        yunbak snapshots --store "$1" --system hr --json | python3 -c '
import json, sys
for s in json.load(sys.stdin):
    c = s.get("chain")
    if c:
        print(c["root"], c["segments"], c["last_seq"])'
}

measure() {
        kind=$1
        S="$WORK/$kind/store"
        chains "$S" >"$WORK/$kind/chains"
        n=$(awk '{n += $2} END {print n}' "$WORK/$kind/chains")
        read -r last _ last_seq < <(tail -n 1 "$WORK/$kind/chains")
        # Around the middle of the stored span (at 17:00 of a day: mid-chain).
        at=$(( START + n / PER_HOUR / 48 * 86400 + 17 * 3600 ))
        for round in $(seq 1 "$ROUNDS"); do
                step list "$kind" "$n" "$round" yunbak snapshots --store "$S" --system hr
                step find-point "$kind" "$n" "$round" yb-seggen find-point "$S" hr $((at + round * 600))
                step find "$kind" "$n" "$round" yb-seggen find "$S" hr $((at + round * 600))
                step verify-new "$kind" "$n" "$round" yunbak verify --store "$S" --system hr \
                        --chain "$last" --since-seq $((last_seq - 29))
        done
        # Pruning takes a chain away for good: one chain per round, oldest first, while a newer
        # one remains. (The first chain's root is the full, which the checkpoints are built on:
        # its segments go, the root stays.)
        for round in $(seq 1 "$ROUNDS"); do
                [ "${PRUNE:-1}" = 1 ] && [ "$(wc -l <"$WORK/$kind/chains")" -gt 1 ] || break
                read -r oldest _ < <(head -n 1 "$WORK/$kind/chains")
                step prune-chain "$kind" "$n" "$round" yb-seggen prune-chain "$S" hr "$oldest"
                # Its two parts: the rename under the lock, the removal after it.
                awk -v k="$kind" -v n="$n" -v r="$round" '$1 == "detach_ms" {
                        printf "%s\t%s\t%s\tprune-detach (locked)\t%s\n", k, n, r, $2
                        printf "%s\t%s\t%s\tprune-remove (unlocked)\t%s\n", k, n, r, $4 }' \
                        "$WORK/last.out" >>"$OUT"
                sed -i 1d "$WORK/$kind/chains"
        done
}

keys
build_real
build_index
: >"$OUT"
measure real
measure index
python3 - "$OUT" <<'PY'
import collections, sys
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    kind, n, rnd, step, ms = line.split("\t")
    rows[(kind, int(n), step)].append(int(ms))
print("| store | segments | step | rounds (ms) | median ms |")
print("|---|---|---|---|---|")
for (kind, n, step), v in rows.items():
    print(f"| {kind} | {n:,} | {step} | {', '.join(map(str, v))} | {sorted(v)[len(v) // 2]} |")
PY
cat "$WORK/build.txt"
