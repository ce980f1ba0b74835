#!/bin/sh
# A backup killed with SIGKILL at many points (the Nth write or fsync, N spread over the whole
# run): no partial snapshot is ever listed, every earlier snapshot still verifies and restores,
# and the next backup succeeds.
. "$TESTS/integration/lib.sh"

SRC="$SCRATCH/src/data"
mkdir -p "$SRC" "$SCRATCH/store"
for i in $(seq 1 30); do head -c $((i * 7001)) /dev/urandom >"$SRC/f$i"; done
head -c 2000000 /dev/urandom >"$SRC/big"
make_key hr
backup() {
        yunbak-agent backup --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
                --level "$1" --threads 0 "$SRC" >/dev/null
}
backup full
tree_digest "$SRC" >"$SCRATCH/v1.digest"
first=$(yunbak snapshots --store "$SCRATCH/store" --system hr --json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')

change() {
        printf 'change %s' "$1" | dd of="$SRC/big" bs=4096 seek=$(($1 % 400)) conv=notrunc 2>/dev/null
        head -c 5000 /dev/urandom >"$SRC/new$1"
}

# What killed backups left: under tmp/, or on an object store (YUNBAK_TEST_STORE_OBJECTS=1, the
# local store's test hook) their files in place without a header, which verify names incomplete
# (and not damaged: it exits 0).
leftovers_now() {
        if [ "${YUNBAK_TEST_STORE_OBJECTS:-}" = 1 ]; then
                grep 'incomplete (no header)' "$SCRATCH/verify.out" || true
        else
                ls "$SCRATCH/store/hr/tmp" 2>/dev/null || true
        fi
}

# Kill the incremental at its 1st write or fsync, then its 2nd, and so on, until a run gets
# through: every point where a crash can happen, in order.
change 0
leftovers=""
kills=0
n=1
while :; do
        set +e
        YB_FAULT="kill:$n" yunbak-agent backup --store "$SCRATCH/store" --system hr \
                --public-key "$SCRATCH/keys/hr.pub" --level incremental --threads 0 "$SRC" >/dev/null 2>&1
        rc=$?
        set -e
        [ "$rc" -eq 137 ] || [ "$rc" -eq 0 ] || die "kill at write $n: exit $rc"
        # Whatever happened, every listed snapshot is whole.
        yunbak verify --store "$SCRATCH/store" --system hr >"$SCRATCH/verify.out" 2>&1 ||
                { cat "$SCRATCH/verify.out" >&2; die "after a kill at write $n the repository does not verify"; }
        [ "$rc" -eq 0 ] && break
        kills=$((kills + 1))
        leftovers="$leftovers$(leftovers_now)"
        n=$((n + 1))
        [ "$n" -lt 500 ] || die "the backup never got through"
done
[ -n "$leftovers" ] || die "no killed backup left anything (the test does not exercise kills)"
[ "$kills" -ge 10 ] || die "only $kills runs were killed"

# The next backup (without faults) succeeds, cleans tmp/, and every snapshot restores.
change 99
backup incremental
[ -z "$(ls "$SCRATCH/store/hr/tmp" 2>/dev/null)" ] || die "leftovers of killed backups were not removed"
yunbak verify --store "$SCRATCH/store" --system hr >"$SCRATCH/verify.out" 2>&1 ||
        die "the repository does not verify after the crashes"
[ -z "$(leftovers_now)" ] || die "incomplete snapshots of killed backups were not removed"
tree_digest "$SRC" >"$SCRATCH/v2.digest"
for pair in "$first:v1" "latest:v2"; do
        id=${pair%%:*}
        rm -rf "$SCRATCH/out"
        if [ "$id" = latest ]; then sel=""; else sel="--snapshot $id"; fi
        # shellcheck disable=SC2086
        yunbak restore --store "$SCRATCH/store" --system hr --key "$SCRATCH/keys/hr.key" \
                --passphrase-file "$SCRATCH/pass" $sel --target "$SCRATCH/out" >/dev/null
        tree_digest "$SCRATCH/out/data" | diff -q "$SCRATCH/${pair#*:}.digest" - >/dev/null ||
                die "snapshot $id does not restore after the crashes"
done
yunbak verify --store "$SCRATCH/store" --system hr --deep --key "$SCRATCH/keys/hr.key" \
        --passphrase-file "$SCRATCH/pass" >/dev/null || die "deep verify failed after the crashes"
echo "crash: $kills kills, ok"
