#!/bin/sh
# A tier-2 store's segment chains as `yunbak snapshots` and `yunbak verify` show them, damage
# named by segment and file, and a segment recovered by hand as docs/format.md ("Recovering a
# segment chain by hand") says, with only the key, `yunbak decrypt`, zstd and tar.
. "$TESTS/integration/lib.sh"
for t in zstd tar; do command -v $t >/dev/null || exit 77; done

make_key hr
ST="$SCRATCH/store"
mkdir -p "$ST"
# 2026-12-06T08:00:00Z: 3 hours of 20 segments, a new chain every 25 (roots: a full, then two
# differentials on it).
yb-seggen "$ST" hr "$SCRATCH/keys/hr.pub" "$SCRATCH/agent-state" 1796544000 3 20 25 >"$SCRATCH/roots"
[ "$(awk '{print $3}' "$SCRATCH/roots" | tr '\n' ' ')" = "25 25 10 " ] || die "chains: $(cat "$SCRATCH/roots")"
R1=$(sed -n 1p "$SCRATCH/roots" | awk '{print $2}')
R2=$(sed -n 2p "$SCRATCH/roots" | awk '{print $2}')
R3=$(sed -n 3p "$SCRATCH/roots" | awk '{print $2}')

# The listing: the roots as snapshots, then one line per chain.
expect_exit 0 yunbak snapshots --store "$ST" --system hr
[ "$(grep -c -E '^2026[0-9T]+Z-[0-9a-f]+ +(full|differential) ' "$SCRATCH/stdout")" -eq 3 ] || die "roots: $(cat "$SCRATCH/stdout")"
grep -Eq "^$R1 +25 +2026-12-06 08:00:01\.[0-9]{3} +2026-12-06 09:"  "$SCRATCH/stdout" || die "chain 1: $(cat "$SCRATCH/stdout")"
grep -Eq "^$R3 +10 +2026-12-06 10:" "$SCRATCH/stdout" || die "chain 3: $(cat "$SCRATCH/stdout")"
expect_exit 0 yunbak snapshots --store "$ST" --system hr --json
python3 - "$SCRATCH/stdout" "$R1" "$R2" "$R3" <<'PY' || die "snapshots --json"
import json, sys
snaps = json.load(open(sys.argv[1]))
assert [s["id"] for s in snaps] == sys.argv[2:5], snaps
for s, n in zip(snaps, (25, 25, 10)):
    c = s["chain"]
    assert c["type"] == "yunbak-segment-chain" and c["root"] == s["id"], c
    assert c["segments"] == n and c["first_seq"] == 1 and c["last_seq"] == n, c
    assert c["first_ns"] < c["last_ns"] and c["last"].startswith("2026-12-06T") and not c["damaged"], c
PY

# One chain's segments.
expect_exit 0 yunbak snapshots --store "$ST" --system hr --segments "$R2"
[ "$(grep -c -E '^2026.* +[0-9]+ +2026-12-06 ' "$SCRATCH/stdout")" -eq 25 ] || die "segments: $(cat "$SCRATCH/stdout")"
grep -Eq '^2026[^ ]+ +20 +2026-12-06 [0-9:.]+ +1 +1 ' "$SCRATCH/stdout" || die "seq 20 (one change, one deletion): $(cat "$SCRATCH/stdout")"
expect_exit 0 yunbak snapshots --store "$ST" --system hr --segments "$R2" --json
python3 - "$SCRATCH/stdout" "$R2" <<'PY' || die "snapshots --segments --json"
import json, sys
segs = json.load(open(sys.argv[1]))
assert [s["seq"] for s in segs] == list(range(1, 26)), segs
assert all(s["level"] == "segment" and s["base"] == sys.argv[2] for s in segs)
assert segs[0]["parent"] == sys.argv[2] and all(segs[i]["parent"] == segs[i - 1]["id"] for i in range(1, 25))
PY
expect_exit 1 yunbak snapshots --store "$ST" --system hr --segments 20261206T000000Z-000000
expect_stderr "has no segment chain 20261206T000000Z-000000"

# Verify: the roots, then every segment of every chain.
expect_exit 0 yunbak verify --store "$ST" --system hr
grep -q "^60 segments checked in 3 chains, 0 damaged" "$SCRATCH/stdout" || die "verify: $(cat "$SCRATCH/stdout")"
expect_exit 0 yunbak verify --store "$ST" --system hr --chain "$R2" --since-seq 20 --json
python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); assert o["segments_checked"]==6 and o["segments_damaged"]==0 and o["chains"][0]["sound_through_seq"]==25, o' "$SCRATCH/stdout" || die "verify --since-seq"

# --trust-agent: segments signed by another agent than the trusted one are named.
me=$(yunbak-agent identity --state-dir "$SCRATCH/agent-state")
other=$(yunbak-agent identity --state-dir "$SCRATCH/another-agent")
expect_exit 0 yunbak verify --store "$ST" --system hr --chain "$R2" --trust-agent "$me"
expect_exit 5 yunbak verify --store "$ST" --system hr --chain "$R2" --since-seq 24 --trust-agent "$other"
[ "$(grep -c "^DAMAGED  segment .*/header: signed by agent $me (host seggen), which is not trusted" "$SCRATCH/stdout")" -eq 2 ] || die "untrusted segments: $(cat "$SCRATCH/stdout")"

# A damaged volume of seq 22 of chain 2: named, with the segment and the file.
SEG22=$(yunbak snapshots --store "$ST" --system hr --segments "$R2" | awk '$2 == 22 {print $1}')
VOL=$(find "$ST/hr/segments/$R2" -path "*/$SEG22/vol-000001")
[ -f "$VOL" ] || die "no volume for segment $SEG22"
flip_byte "$VOL" 60
expect_exit 5 yunbak verify --store "$ST" --system hr
grep -q "^DAMAGED  segment $SEG22/vol-000001: content does not match" "$SCRATCH/stdout" || die "verify: $(cat "$SCRATCH/stdout")"
grep -q "^DAMAGED  chain $R2  sound through seq 21 only" "$SCRATCH/stdout" || die "verify: $(cat "$SCRATCH/stdout")"
expect_exit 5 yunbak verify --store "$ST" --system hr --chain "$R2" --since-seq 20
grep -q "$SEG22/vol-000001" "$SCRATCH/stdout" || die "verify --since-seq 20: $(cat "$SCRATCH/stdout")"
expect_exit 0 yunbak verify --store "$ST" --system hr --chain "$R2" --since-seq 23
expect_exit 2 yunbak verify --store "$ST" --system hr --since-seq 3

# A segment gone from the open hour: the chain breaks there, and says so.
LAST=$(find "$ST/hr/segments/$R3" -mindepth 2 -maxdepth 2 -type d | sort | sed -n 5p)
rm -rf "$LAST"
expect_exit 5 yunbak snapshots --store "$ST" --system hr --segments "$R3"
expect_stderr "Segment chain $R3 breaks after seq 4: segment seq 5 of chain $R3 is missing"

# Segments are the replicator's: no backup makes one.
mkdir -p "$SCRATCH/src"
echo data >"$SCRATCH/src/f"
expect_exit 2 yunbak-agent backup --store "$ST" --system hr --public-key "$SCRATCH/keys/hr.pub" --level segment "$SCRATCH/src"
expect_stderr "level must be full, differential or incremental, not 'segment'"

# By hand: the layout, the hour's index, a segment's header, manifest and volume.
H=$(ls "$ST/hr/segments/$R1" | grep -v index | head -n 1)
head -n 1 "$ST/hr/segments/$R1/$H.index" | grep -Eq "^YBSEGIX1 [0-9]+ 1 [0-9]+ [0-9]+ [0-9]+$" || die "index summary"
SEG10=$(yunbak snapshots --store "$ST" --system hr --segments "$R1" | awk '$2 == 10 {print $1}')
D="$ST/hr/segments/$R1/$(echo "$SEG10" | cut -c1-11)/$SEG10"
head -n 1 "$D/header" | python3 -c 'import json,sys; h=json.load(sys.stdin); assert h["level"]=="segment" and h["seq"]==10 and h["base"]==sys.argv[1], h' "$R1" || die "header"
grep -qF "$(cat "$D/header")" "$ST/hr/segments/$R1/$(echo "$SEG10" | cut -c1-11).index" || die "the index lacks the header"
export YUNBAK_PASSPHRASE_FILE="$SCRATCH/pass"
cd "$SCRATCH"
mkdir by-hand
yunbak decrypt --key keys/hr.key "$D/vol-000001" | zstd -d | tar -x -C by-hand
[ "$(cat by-hand/tree/a.txt)" = "a.txt at seq 10" ] || die "a.txt by hand: $(cat by-hand/tree/a.txt)"
yunbak decrypt --key keys/hr.key "$D/manifest" | zstd -d >manifest.bin
python3 - manifest.bin <<'PY' || die "the deletion record"
import sys
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"YBMANIF1"
# The first record: type 8 (deleted), then the path, length-prefixed (a varint).
assert data[8] == 8 and data[9] == len(b"old/10") and data[10:16] == b"old/10", data[:20]
PY
# A chain whose root has gone: named, and in --json an object of its own.
rm -rf "$ST/hr/snapshots/$R3"
expect_exit 5 yunbak snapshots --store "$ST" --system hr --json
expect_stderr "Segment chain $R3 has no root: snapshot $R3 is missing or damaged"
python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))[-1]; assert c["type"]=="yunbak-segment-chain" and c["root"]==sys.argv[2] and c["root_missing"], c' "$SCRATCH/stdout" "$R3" || die "orphan chain in --json"
expect_exit 5 yunbak verify --store "$ST" --system hr --chain "$R3"
grep -q "^DAMAGED  snapshots/$R3: the chain's root snapshot $R3 is missing" "$SCRATCH/stdout" || die "verify of an orphan chain: $(cat "$SCRATCH/stdout")"
echo "segments: ok"
