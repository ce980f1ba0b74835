#!/bin/sh
# tier2.checkpoint and tier2.retention in yunbakd (issue 11): on the checkpoint calendar (here
# every 5 s) yunbakd tells the replicator to make a new chain root; after each, it applies
# tier2.retention (keep_last: 2) to the tier-2 store by whole chains: old chains go (segments,
# then root), each audited (tier2.prune), the newest ones stay with their segments, the full the
# kept checkpoints are built on stays, and the store verifies without the key afterwards.
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/daemon-lib.sh"
. "$TESTS/integration/daemon-replicate-lib.sh"

T2="$D/intracity"
mkdir -p "$T2"
finish() {
        set +e
        stop_left_yunbakd
        cleanup
}
trap finish EXIT
trap 'exit 1' HUP INT TERM

daemon_config
sed -i "s|^    url: $D/store\$|&\n  intracity:\n    url: $T2|" "$D/yunbakd.yaml"
daemon_system hr 人社局 "" "" "tier2:
  store: intracity
  max_lag: 1min
  interval: 1s
  checkpoint: \"*-*-* *:*:00/5 UTC\"
  retention:
    keep_last: 2"
DATA="$D/trees/hr/data"
start_yunbakd

pruned() { sql "SELECT count(*) FROM audit WHERE action = 'tier2.prune' AND result = 'ok'"; }
# Changes all along, so that every chain has segments; until two chains were pruned (bounded).
i=0
while [ "$(pruned)" -lt 2 ]; do
        i=$((i + 1))
        [ "$i" -lt 900 ] || {
                tail -30 "$D/yunbakd.log" >&2
                die "no two chains pruned within 90 s: $(sql "SELECT result, detail FROM audit WHERE action LIKE 'tier2%'")"
        }
        echo "$i" >"$DATA/tick.txt"
        sleep 0.1
done
grep -q "tier2.checkpoint is due: the replicator makes a new chain root" "$D/yunbakd.log" ||
        die "yunbakd did not send a checkpoint"
stop_yunbakd
YUNBAKD_PID=

[ "$(sql "SELECT count(*) FROM audit WHERE action = 'tier2.prune' AND result = 'failed'")" = 0 ] ||
        die "a prune failed: $(sql "SELECT detail FROM audit WHERE action = 'tier2.prune' AND result = 'failed'")"
# Every pruned chain is gone whole; the roots left are at most the two newest checkpoints and the
# full they are built on (the replicator may have made one more root since the last prune).
for root in $(sql "SELECT detail FROM audit WHERE action = 'tier2.prune' AND result = 'ok'" |
        sed 's/^chain \([^ ]*\) .*/\1/'); do
        [ ! -e "$T2/hr/segments/$root" ] || die "the segments of pruned chain $root are still there"
        [ ! -e "$T2/hr/snapshots/$root" ] || die "pruned root $root is still there"
done
roots=$(ls "$T2/hr/snapshots" | wc -l)
[ "$roots" -ge 2 ] && [ "$roots" -le 4 ] || die "$roots roots left in the tier-2 store: $(ls "$T2/hr/snapshots")"
yunbak snapshots --store "$T2" --system hr --json >"$D/snaps.json" ||
        die "the tier-2 store cannot be listed"
yunbak verify --store "$T2" --system hr >"$D/verify.out" 2>&1 ||
        { cat "$D/verify.out" >&2; die "the tier-2 store does not verify after the prunes"; }
exit 0
