#!/bin/sh
# The repository of format 1 in tests/data/ still verifies (with and without the key) and
# restores to the tree it was made from.
. "$TESTS/integration/lib.sh"

G="$TESTS/data/format-v1"
cp -a "$G/store" "$SCRATCH/store"
export YUNBAK_PASSPHRASE_FILE="$G/keys/passphrase"
yunbak verify --store "$SCRATCH/store" --system golden >/dev/null || die "key-less verify failed"
yunbak verify --store "$SCRATCH/store" --system golden --deep --key "$G/keys/golden.key" >/dev/null ||
        die "deep verify failed"
yunbak restore --store "$SCRATCH/store" --system golden --key "$G/keys/golden.key" \
        --target "$SCRATCH/out" >/dev/null
tree_digest "$SCRATCH/out/golden" | sed -E 's/ uid=[0-9]+ gid=[0-9]+//' >"$SCRATCH/got.digest"
diff -u "$G/expected.digest" "$SCRATCH/got.digest" >&2 || die "the golden repository restores differently"
[ "$(yunbak snapshots --store "$SCRATCH/store" --system golden --json |
        python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 2 ] || die "expected 2 snapshots"
echo "golden-repo: ok"
