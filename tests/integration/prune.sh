#!/bin/sh
# yunbak prune on a real chain: full, incrementals, a differential, another full. What is kept
# still verifies and restores byte for byte, what is pruned is gone, a dry run and lock_until
# change nothing, a held lock stops it, and a broken chain is reported.
. "$TESTS/integration/lib.sh"

SYS=hr-portal
STORE="$SCRATCH/store"
SRC="$SCRATCH/src/srv"
mkdir -p "$SRC/db" "$STORE" "$SCRATCH/digests"
make_key $SYS

# backup NAME LEVEL: a backup of $SRC; $SCRATCH/ids/NAME holds its id, and the digest of the
# tree it holds is kept under that id.
backup() {
        yunbak-agent backup --store "$STORE" --system $SYS --public-key "$SCRATCH/keys/$SYS.pub" \
                --level "$2" --json "$SRC" >"$SCRATCH/$1.json"
        id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot"])' "$SCRATCH/$1.json")
        mkdir -p "$SCRATCH/ids"
        echo "$id" >"$SCRATCH/ids/$1"
        tree_digest "$SRC" >"$SCRATCH/digests/$id"
}
sid() { cat "$SCRATCH/ids/$1"; }
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$SCRATCH/$1.json" "$2"; }
change() { # a new version of some files, so that every snapshot holds something of its own
        head -c 200000 /dev/urandom >"$SRC/db/data-$1.bin"
        printf 'version %s\n' "$1" >"$SRC/app.conf"
        seq 1 "$((1000 * $2))" >"$SRC/db/numbers.txt"
}
# state: every file of the store with its size and hash, to prove that nothing changed.
state() { (cd "$STORE" && find . -print0 | sort -z | xargs -0 sh -c 'for f; do
        if [ -f "$f" ]; then printf "%s %s\n" "$f" "$(sha256sum <"$f" | cut -c1-64)"; else echo "$f"; fi
        done' sh) | grep -v '/lock$'; }
listed() { yunbak snapshots --store "$STORE" --system $SYS --json |
        python3 -c 'import json,sys; print(" ".join(s["id"] for s in json.load(sys.stdin)))'; }
prune() { yunbak prune --store "$STORE" --system $SYS "$@"; }
# restore_all: every listed snapshot restores to the tree it was made from, and verify passes.
restore_all() {
        yunbak verify --store "$STORE" --system $SYS >/dev/null || die "verify failed after pruning"
        for s in $(listed); do
                rm -rf "$SCRATCH/out"
                yunbak restore --store "$STORE" --system $SYS --key "$SCRATCH/keys/$SYS.key" \
                        --passphrase-file "$SCRATCH/pass" --snapshot "$s" --target "$SCRATCH/out" \
                        >/dev/null || die "snapshot $s does not restore"
                [ "$(tree_digest "$SCRATCH/out/srv")" = "$(cat "$SCRATCH/digests/$s")" ] ||
                        die "snapshot $s restores to another tree than it was made from"
        done
}

change 0 1 && backup f1 full
change 1 2 && backup i1 incremental
change 2 3 && backup i2 incremental
change 3 4 && backup d1 differential
change 4 5 && backup i3 incremental
change 5 6 && backup f2 full
change 6 7 && backup i4 incremental
all="$(sid f1) $(sid i1) $(sid i2) $(sid d1) $(sid i3) $(sid f2) $(sid i4)"
[ "$(listed)" = "$all" ] || die "the chain is not what was backed up: $(listed)"
[ "$(field d1 parent)" = "$(sid f1)" ] || die "the differential's parent is not the full"

# A dry run plans, prints, and changes nothing (not even the lock).
before=$(state)
expect_exit 0 prune --keep-last 3 --dry-run --json
python3 - "$SCRATCH/stdout" "$(sid f1)" "$(sid d1)" "$(sid i3)" "$(sid f2)" "$(sid i4)" <<'PY' || die "the dry run's plan is wrong: $(cat "$SCRATCH/stdout")"
import json, sys
d = json.load(open(sys.argv[1]))
got = {s["id"]: (s["keep"], s["reason"], s["pruned"]) for s in d["snapshots"]}
f1, d1, i3, f2, i4 = sys.argv[2:]
want_kept = {f1: "chain", d1: "chain", i3: "last", f2: "last", i4: "last"}
for sid, (keep, reason, pruned) in got.items():
    assert not pruned, sid
    if sid in want_kept:
        assert keep and reason == want_kept[sid], (sid, keep, reason)
    else:
        assert not keep and reason is None, (sid, keep, reason)
assert d["dry_run"] is True and d["pruned"] == 0 and len(got) == 7, d
PY
[ "$(state)" = "$before" ] || die "a dry run changed the store"

# lock_until: a policy locked until 2199 keeps everything, even with keep_last: 1.
cat >"$SCRATCH/policy.yaml" <<'EOF'
version: 1
system:
  id: hr-portal
  name: 人事门户网站
  department: 市人力资源和社会保障局
  contact: 王芳 <wangfang@rsj.example.gov.cn>
  classification: general
sources:
  host: web-03
  paths: [/srv/hr-portal]
tier1:
  store: nas-main
  full: Sun *-*-* 02:00 Asia/Shanghai
  incremental: Mon..Sat *-*-* 02:00 Asia/Shanghai
  retention:
    keep_last: 1
  lock_until: 2199-12-31
objectives:
  rpo: 1d
  rto: 8h
drill:
  every: 1y
EOF
expect_exit 0 prune --policy "$SCRATCH/policy.yaml"
expect_stderr "locks system 'hr-portal' until 2199-12-3"
[ "$(grep -c '^keep  *locked ' "$SCRATCH/stdout")" = 7 ] || die "lock_until did not keep all seven"
[ "$(state)" = "$before" ] || die "a prune before lock_until removed something"
# The policy of another system is refused.
expect_exit 2 prune --system other-system --policy "$SCRATCH/policy.yaml" --dry-run
expect_stderr "is for system 'hr-portal', not 'other-system'"

# While a backup holds the lock, nothing is pruned (the lock names this shell, which is alive).
printf '%s %s' "$(uname -n)" "$$" >"$STORE/$SYS/lock"
expect_exit 8 prune --keep-last 1
expect_stderr "locked by"
rm "$STORE/$SYS/lock"
[ "$(state)" = "$before" ] || die "a prune that could not lock changed the store"

# keep_last 3: the newest three, the differential's full and the differential itself; the two
# incrementals that only the differential's predecessors needed go.
expect_exit 0 prune --keep-last 3
grep -q "^pruned .*$(sid i1)" "$SCRATCH/stdout" || die "i1 was not pruned: $(cat "$SCRATCH/stdout")"
[ "$(listed)" = "$(sid f1) $(sid d1) $(sid i3) $(sid f2) $(sid i4)" ] || die "left after keep-last 3: $(listed)"
[ ! -e "$STORE/$SYS/snapshots/$(sid i1)" ] && [ ! -e "$STORE/$SYS/snapshots/$(sid i2)" ] ||
        die "a pruned snapshot's directory is still there"
[ -z "$(ls -A "$STORE/$SYS/tmp")" ] || die "a prune left something under tmp/"
[ ! -e "$STORE/$SYS/lock" ] || die "prune did not release the lock"
restore_all

# The same rules from a policy (no lock) give the same plan.
sed -e 's/keep_last: 1/keep_last: 3/' -e '/lock_until/d' "$SCRATCH/policy.yaml" >"$SCRATCH/policy3.yaml"
expect_exit 0 prune --policy "$SCRATCH/policy3.yaml" --dry-run
grep -q "would prune" "$SCRATCH/stdout" && die "keep_last 3 from a policy would prune more"

# keep_last 1: only the newest full's chain stays. An incremental made after it builds on it.
expect_exit 0 prune --keep-last 1 --json
[ "$(listed)" = "$(sid f2) $(sid i4)" ] || die "left after keep-last 1: $(listed)"
change 7 8 && backup i5 incremental
[ "$(field i5 parent)" = "$(sid i4)" ] || die "the next incremental did not build on i4"
restore_all

# One snapshot by name (--snapshot): refused while another is built on it, removed once not.
change 7a 8 && backup q1 incremental
change 7b 8 && backup q2 incremental
expect_exit 1 prune --snapshot "$(sid q1)"
expect_stderr "Snapshot $(sid q1) was not pruned: snapshot $(sid q2) still needs it"
[ -d "$STORE/$SYS/snapshots/$(sid q1)" ] || die "a needed snapshot was pruned"
expect_exit 0 prune --snapshot "$(sid q2)" --json
[ "$(cat "$SCRATCH/stdout")" = "{\"system\": \"$SYS\", \"pruned\": [\"$(sid q2)\"]}" ] ||
        die "prune --snapshot --json: $(cat "$SCRATCH/stdout")"
expect_exit 0 prune --snapshot "$(sid q1)"
grep -q "^Pruned snapshot $(sid q1) of system '$SYS'\.$" "$SCRATCH/stdout" || die "prune --snapshot said: $(cat "$SCRATCH/stdout")"
case " $(listed) " in *" $(sid q1) "* | *" $(sid q2) "*) die "pruned snapshots are still listed" ;; esac
expect_exit 1 prune --snapshot "$(sid q1)"
expect_stderr "has no snapshot $(sid q1)"
expect_exit 2 prune --snapshot "$(sid q1)" --keep-last 1

# A damaged snapshot is left alone, and so is what its header names: its header might yet be
# repaired from a copy. Here i5's signature is altered; a new full makes i4 and f2 prunable.
change 8 9 && backup f3 full
python3 - "$STORE/$SYS/snapshots/$(sid i5)/header" <<'PY'
import sys
p = sys.argv[1]
lines = open(p, "rb").read().split(b"\n")
sig = bytearray(lines[1])
sig[10] = ord("A") if sig[10] != ord("A") else ord("B")
lines[1] = bytes(sig)
open(p, "wb").write(b"\n".join(lines))
PY
expect_exit 5 prune --keep-last 1
expect_stderr "Snapshot $(sid i5) is damaged"
expect_stderr "Snapshot $(sid i4) was not pruned: snapshot $(sid i5) still needs it"
grep -q "^NOT pruned .*$(sid f2)" "$SCRATCH/stdout" || die "f2 should have been refused: $(cat "$SCRATCH/stdout")"
[ -d "$STORE/$SYS/snapshots/$(sid i4)" ] && [ -d "$STORE/$SYS/snapshots/$(sid f2)" ] ||
        die "what a damaged snapshot names was pruned"

# A broken chain (its full removed by hand) is named, and the exit status says so.
rm -rf "$STORE/$SYS/snapshots/$(sid f2)"
expect_exit 5 prune --keep-last 1 --dry-run
expect_stderr "Snapshot $(sid i4) cannot be restored: its chain needs snapshot $(sid f2)"
# Bad rules are usage errors.
expect_exit 2 prune --keep-daily -1
expect_exit 2 prune --keep-within 3
expect_exit 2 prune --keep-last 1 --tz Asia/Nowhere --dry-run
expect_exit 2 prune
echo "prune: ok"
