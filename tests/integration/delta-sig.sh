#!/bin/sh
# A changed file stored as a delta has its new signature made in the same pass as the delta
# (core/codec/deltagen.h). Under the test hook YUNBAK_TEST_SIG_CHECK the agent also computes
# each signature on its own and fails when the two differ; here pages are
# rewritten in place (some ending in zeros, among zero pages), files grow, are cut short and
# have bytes inserted and removed, over a chain of incrementals, each restored and compared.
. "$TESTS/integration/lib.sh"
export YUNBAK_TEST_SIG_CHECK=1

SRC="$SCRATCH/src/srv"
mkdir -p "$SRC" "$SCRATCH/store"
make_key hr
python3 - "$SRC" <<'PY'
import os, random, sys
d = sys.argv[1]
rng = random.Random(7)
def rand(n): return rng.randbytes(n)
open(f"{d}/rand.db", "wb").write(rand(8 << 20))
zero = bytearray(6 << 20)
for p in rng.sample(range(len(zero) // 4096), 200):
    zero[p * 4096:(p + 1) * 4096] = rand(4096)
open(f"{d}/zero.db", "wb").write(zero)
open(f"{d}/grow.log", "wb").write(rand((5 << 20) + 123))
open(f"{d}/trunc.bin", "wb").write(rand(5 << 20))
open(f"{d}/shift.bin", "wb").write(rand((5 << 20) + 777))
PY
age_recent "$SRC"
backup() {
        yunbak-agent backup --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
                --level "$1" --json "$SRC" >"$SCRATCH/$2.json"
}
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$SCRATCH/$1.json" "$2"; }
backup full full

for round in 1 2 3; do
        python3 - "$SRC" "$round" <<'PY'
import os, random, sys
d, rnd = sys.argv[1], int(sys.argv[2])
rng = random.Random(100 + rnd)
def rand(n): return rng.randbytes(n)
def rewrite(path, pages, tail_zeros=0):
    fd = os.open(path, os.O_WRONLY)
    n = os.path.getsize(path) // 4096
    for p in rng.sample(range(n), pages):
        os.pwrite(fd, rand(4096 - tail_zeros) + bytes(tail_zeros), p * 4096)
    os.close(fd)
rewrite(f"{d}/rand.db", 20)
rewrite(f"{d}/zero.db", 10, tail_zeros=rng.randrange(1, 3000))
with open(f"{d}/grow.log", "ab") as f: f.write(rand(rng.randrange(1, 300000)))
os.truncate(f"{d}/trunc.bin", os.path.getsize(f"{d}/trunc.bin") - rng.randrange(1, 200000))
b = open(f"{d}/shift.bin", "rb").read()
at, cut = rng.randrange(len(b) // 2), rng.randrange(len(b) // 2, len(b) - 5000)
b = b[:at] + rand(rng.randrange(1, 9000)) + b[at:cut] + b[cut + rng.randrange(1, 5000):]
open(f"{d}/shift.bin", "wb").write(b)
PY
        age_recent "$SRC"
        backup incremental "incr$round"
        [ "$(field "incr$round" delta)" = 5 ] ||
                die "round $round: $(field "incr$round" delta) of 5 changed files stored as deltas"
        rm -rf "$SCRATCH/out"
        yunbak restore --store "$SCRATCH/store" --system hr --key "$SCRATCH/keys/hr.key" \
                --passphrase-file "$SCRATCH/pass" --target "$SCRATCH/out" --json >"$SCRATCH/r.json"
        # Every delta of the chain is applied; those that only write over the old file where it
        # changed (rand.db, grow.log, trunc.bin) in place, shift.bin's never. Those in place are
        # read early from the incrementals' volumes, which are counted apart, and once each.
        python3 - "$SCRATCH/r.json" "$round" <<'PY' || die "round $round: deltas applied: $(cat "$SCRATCH/r.json")"
import json, sys
j, n = json.load(open(sys.argv[1])), int(sys.argv[2])
assert j["deltas_applied"] == 5 * n, j["deltas_applied"]
assert 3 * n <= j["deltas_in_place"] <= 4 * n, j["deltas_in_place"]
assert 1 <= j["volumes_read_early"] <= n, j["volumes_read_early"]
assert j["volumes_read_early"] < j["volumes_read"], j
PY
        for f in rand.db zero.db grow.log trunc.bin shift.bin; do
                cmp -s "$SRC/$f" "$SCRATCH/out/srv/$f" || die "round $round: $f restored wrong"
        done
done
echo "delta-sig: ok"
