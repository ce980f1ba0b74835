#!/bin/sh
# A big changed file's delta is made on a worker thread (agents/delta-worker.c): the incremental
# stores it as one delta that restores byte for byte, with pages changed in both halves and in
# the middle, also with every new signature checked against one made on its own
# (YUNBAK_TEST_SIG_CHECK). A file mostly changed throughout makes the worker give up, and
# the file is stored whole.
. "$TESTS/integration/lib.sh"

SRC="$SCRATCH/src/srv"
mkdir -p "$SRC" "$SCRATCH/store"
make_key hr
python3 - "$SRC" <<'PY'
import random, sys
open(f"{sys.argv[1]}/big.db", "wb").write(random.Random(16).randbytes(96 << 20))
PY
backup() {
        yunbak-agent backup --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
                --level "$1" --json "$SRC"
}
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$SCRATCH/stdout" "$1"; }
restore() {
        rm -rf "$SCRATCH/out"
        yunbak restore --store "$SCRATCH/store" --system hr --key "$SCRATCH/keys/hr.key" \
                --passphrase-file "$SCRATCH/pass" --target "$SCRATCH/out" >/dev/null
}
# Rewrites 8 pages in each half of big.db and the page that starts at its middle.
change() {
        python3 - "$SRC/big.db" "$1" <<'PY'
import os, random, sys
path, rnd = sys.argv[1], int(sys.argv[2])
rng = random.Random(100 + rnd)
pages = os.path.getsize(path) // 4096
fd = os.open(path, os.O_WRONLY)
for p in rng.sample(range(pages // 2), 8) + rng.sample(range(pages // 2, pages), 8) + [pages // 2]:
    os.pwrite(fd, rng.randbytes(4096), p * 4096)
os.close(fd)
PY
        age_recent "$SRC"
}
# incremental ROUND: an incremental after round ROUND's changes, stored as one delta made on the
# worker, restored byte for byte.
incremental() {
        change "$1"
        expect_exit 0 backup incremental
        expect_stderr "The delta of 'srv/big.db' is made on a worker thread."
        [ "$(field delta)" = 1 ] || die "round $1: big.db was not stored as a delta"
        [ "$(field bytes_stored)" -lt $((2 << 20)) ] || die "round $1: $(field bytes_stored) bytes stored"
        restore
        cmp "$SRC/big.db" "$SCRATCH/out/srv/big.db" || die "round $1: big.db restored wrong"
}
export YB_LOG_LEVEL=debug
expect_exit 0 backup full

incremental 1
export YUNBAK_TEST_SIG_CHECK=1
incremental 2

# Its last three quarters changed throughout: the worker gives up (its probe: over half of what
# it was given is new) and the file is stored whole, and right.
python3 - "$SRC/big.db" <<'PY'
import os, random, sys
size = os.path.getsize(sys.argv[1])
fd = os.open(sys.argv[1], os.O_WRONLY)
os.pwrite(fd, random.Random(5).randbytes(size - size // 4), size // 4)
os.close(fd)
PY
age_recent "$SRC"
expect_exit 0 backup incremental
expect_stderr "The delta's worker gave up"
[ "$(field whole)" = 1 ] || die "big.db changed throughout was not stored whole"
restore
cmp "$SRC/big.db" "$SCRATCH/out/srv/big.db" || die "big.db restored wrong after it was stored whole"
echo "delta-worker: ok"
