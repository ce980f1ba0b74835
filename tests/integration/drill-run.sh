#!/bin/sh
# yunbak drill, the run (docs/drills.md, "A drill's run"), on a tier-1 store of files:
# - --no-record: a drill of a sound store passes with exact phase times (the stopwatch's test
#   hook), the sandbox holds exactly the source tree while it is kept (--keep) and is gone after
#   without --keep; a non-empty --sandbox is refused; a damaged volume fails the drill at verify,
#   naming the path, and the check phase does not run; nothing claims to be recorded;
# - without yunbakd the drill is refused (exit 6), and --no-record needs --store.
set -eu
. "$TESTS/integration/lib.sh"
command -v python3 >/dev/null || { echo "no python3: tree_digest needs it"; exit 77; }
cd "$SCRATCH"

SRC="$SCRATCH/src/data"
mkdir -p "$SRC/sub" store
make_key hr
seq 1 5000 >"$SRC/numbers.txt"
head -c 200000 /dev/urandom >"$SRC/sub/blob"
echo hello >"$SRC/sub/hello"
ln -s hello "$SRC/sub/link"
ln "$SRC/numbers.txt" "$SRC/same-numbers.txt"
age_recent "$SRC"
yunbak-agent backup --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
        --level full "$SRC" >/dev/null
snap=$(ls store/hr/snapshots)
cp -a store pristine

export YUNBAK_TEST_STOPWATCH_MS=7
export TMPDIR="$SCRATCH/tmp"
mkdir -p "$TMPDIR"
drill() {
        yunbak drill --system hr --key "$SCRATCH/keys/hr.key" --passphrase-file "$SCRATCH/pass" \
                "$@"
}

# 1. --no-record, sound store, the sandbox kept: passes; the sandbox is the source tree.
expect_exit 0 drill --no-record --store "$SCRATCH/store" --sandbox "$SCRATCH/sb" --keep; cp "$SCRATCH/stdout" out
grep -q "not recorded: PASSED" out || die "the drill did not pass: $(cat out)"
grep -q "Point: snapshot $snap (full)" out || die "the point is not $snap: $(cat out)"
# point, restore, verify, check: 4 phases of exactly 7 ms each
for p in point restore verify check; do
        grep -Eq "^  $p +7 ms  ok" out || die "phase $p is not 7 ms and ok: $(cat out)"
done
grep -q "RTO achieved: .* (28 ms)" out || die "the RTO is not the phases' sum, 28 ms: $(cat out)"
grep -Eq "^  (restore|verify) .*  3 files, 218.7 KiB" out || die "the counts are not 3 files, 218.7 KiB: $(cat out)"
grep -q "Nothing was recorded (--no-record)" out || die "the run did not say nothing was recorded"
grep -q "objectives are unknown" out || die "the run did not say the objectives are unknown"
[ "$(tree_digest "$SRC")" = "$(tree_digest "$SCRATCH/sb/data")" ] ||
        die "the kept sandbox is not the source tree"

# 2. The sandbox given is not empty: refused, and left as it was.
expect_exit 1 drill --no-record --store "$SCRATCH/store" --sandbox "$SCRATCH/sb"
expect_stderr "The drill's sandbox '$SCRATCH/sb' is not empty"
[ -f "$SCRATCH/sb/data/numbers.txt" ] || die "a refused drill changed its sandbox"
rm -rf "$SCRATCH/sb"

# 3. Without --keep, the default sandbox (under $TMPDIR) is removed after.
expect_exit 0 drill --no-record --store "$SCRATCH/store"; cp "$SCRATCH/stdout" out
sb=$(sed -n 's/.*; sandbox \(.*\)\.$/\1/p' out)
case $sb in "$TMPDIR"/yunbak-drill-hr-*) ;; *) die "the sandbox '$sb' is not under \$TMPDIR" ;; esac
[ ! -e "$sb" ] || die "the sandbox $sb was not removed"

# 4. A damaged volume: the drill fails at verify, naming the path; check does not run; the
# sandbox is removed all the same.
vol=$(ls store/hr/snapshots/"$snap"/vol-* | head -1)
size=$(stat -c %s "$vol")
printf 'X' | dd of="$vol" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
expect_exit 10 drill --no-record --store "$SCRATCH/store"; cp "$SCRATCH/stdout" out
grep -q "not recorded: FAILED" out || die "the damaged drill did not fail: $(cat out)"
grep -Eq "^  verify +7 ms  FAILED" out || die "verify did not fail: $(cat out)"
grep -q "Failed at the phase verify: .*do not match snapshot $snap: .*data/" out ||
        die "the failure does not name the snapshot and a path: $(cat out)"
grep -q "damaged or unreadable" out || die "the failure does not say the store is damaged"
! grep -Eq "^  check " out || die "the check phase ran after verify failed: $(cat out)"
grep -q "RTO: not achieved" out || die "a failed drill claimed an RTO: $(cat out)"
expect_stderr "Not restored in the drill's sandbox: 'data/"
sb=$(sed -n 's/.*; sandbox \(.*\)\.$/\1/p' out)
[ ! -e "$sb" ] || die "the sandbox $sb of a failed drill was not removed"
rm -rf store
cp -a pristine store

# 5. No yunbakd: refused (a drill that leaves no record is not a drill); --no-record needs
# --store (only yunbakd knows the tier's store).
expect_exit 6 env YUNBAK_SOCKET="$SCRATCH/no-such.sock" yunbak drill --system hr \
        --key "$SCRATCH/keys/hr.key" --passphrase-file "$SCRATCH/pass"
expect_stderr "Nothing was drilled"
expect_stderr "--no-record"
[ -z "$(ls "$TMPDIR")" ] || die "a refused drill left a sandbox: $(ls "$TMPDIR")"
expect_exit 2 drill --no-record
expect_stderr "give the store with --store LOCATION"
echo "drill-run: ok"
