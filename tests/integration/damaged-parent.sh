#!/bin/sh
# A snapshot whose own files are sound but which is built on a damaged one cannot be restored:
# key-less verify says so and names the damaged ancestor. The agent does not build a new
# incremental on such a chain: it makes a full backup and says why.
. "$TESTS/integration/lib.sh"

SRC="$SCRATCH/src/data"
S="$SCRATCH/store/hr/snapshots"
mkdir -p "$SRC" "$SCRATCH/store"
seq 1 20000 >"$SRC/numbers"
make_key hr
backup() { # level
        yunbak-agent backup --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
                --level "$1" --json "$SRC" >"$SCRATCH/backup.json"
}
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$SCRATCH/backup.json" "$1"; }
backup full
full=$(field snapshot)
echo more >>"$SRC/numbers"
backup incremental
i1=$(field snapshot)
echo again >>"$SRC/numbers"
backup incremental
i2=$(field snapshot)
cp -a "$SCRATCH/store" "$SCRATCH/pristine"

# One byte of the full's volume altered: the full is damaged, and both incrementals with it.
python3 - "$S/$full/vol-000001" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[len(b) // 2] ^= 1
open(sys.argv[1], "wb").write(bytes(b))
PY
expect_exit 5 yunbak verify --store "$SCRATCH/store" --system hr
grep -q "DAMAGED  $full/vol-000001" "$SCRATCH/stdout" || die "the full was not named: $(cat "$SCRATCH/stdout")"
for s in "$i1" "$i2"; do
        grep -q "DAMAGED  $s: cannot be restored: snapshot $full, which it is built on, is damaged" \
                "$SCRATCH/stdout" || die "$s was not reported unrestorable: $(cat "$SCRATCH/stdout")"
        ! grep -q "^ok  *$s" "$SCRATCH/stdout" || die "$s was called ok: $(cat "$SCRATCH/stdout")"
done
grep -q "3 snapshots checked, 3 damaged" "$SCRATCH/stdout" || die "wrong summary: $(cat "$SCRATCH/stdout")"
# One snapshot asked for: its ancestors are checked too, and only it is reported.
expect_exit 5 yunbak verify --store "$SCRATCH/store" --system hr --snapshot "$i2"
grep -q "DAMAGED  $i2: cannot be restored: snapshot $full" "$SCRATCH/stdout" || die "--snapshot: $(cat "$SCRATCH/stdout")"
grep -q "1 snapshot checked, 1 damaged" "$SCRATCH/stdout" || die "--snapshot summary: $(cat "$SCRATCH/stdout")"

# The full's volume cut short: the next incremental would be built on a chain that cannot be
# restored. The agent makes a full backup instead, and says so.
rm -rf "$SCRATCH/store"
cp -a "$SCRATCH/pristine" "$SCRATCH/store"
truncate -s -1 "$S/$full/vol-000001"
echo last >>"$SRC/numbers"
expect_exit 0 backup incremental
expect_stderr "Snapshot $full of system 'hr', which this incremental backup would build on, is damaged \(its file vol-000001 is not of the size its header signs\); making a full backup instead"
new=$(field snapshot)
head -n 1 "$S/$new/header" | python3 -c 'import json,sys; h=json.load(sys.stdin); assert h["level"]=="full" and not h["parent"], h' ||
        die "the new snapshot is not a full one"
yunbak verify --store "$SCRATCH/store" --system hr --snapshot "$new" >/dev/null || die "the new full does not verify"
echo "damaged-parent: ok"
