#!/bin/sh
# yunbak drill, the run (docs/drills.md, "A drill's run"), on a tier-1 store of files:
# - --no-record: a drill of a sound store passes with exact phase times (the stopwatch's test
#   hook), the sandbox holds exactly the source tree while it is kept (--keep) and is gone after
#   without --keep; a non-empty --sandbox is refused; a damaged volume fails the drill at verify,
#   naming the path, and the check phase does not run; nothing claims to be recorded;
# - without yunbakd the drill is refused (exit 6), and --no-record needs --store;
# - with yunbakd (held on its test clock): a passing drill is recorded and signed with the RTO
#   exactly the phases' sum and the RPO exactly the point's age at yunbakd's start; a check that
#   exits 3 is recorded failed at check with its exit code and output (the sandbox kept with
#   --keep); a damaged volume is recorded failed at verify, the path named, the check not run;
#   SIGINT during the check stops its process group, removes the sandbox, is recorded failed
#   ("interrupted") and exits 130.
set -eu
. "$TESTS/integration/lib.sh"
command -v python3 >/dev/null || { echo "no python3: tree_digest needs it"; exit 77; }
grep -q "^YB_FAULT_INJECTION:BOOL=ON" "$BIN/CMakeCache.txt" 2>/dev/null || {
        echo "drill-run: the stopwatch's test hook is in test builds only (-DYB_FAULT_INJECTION=ON): skipped"
        exit 77
}
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
# where the default sandboxes go (yunbak drill's TMPDIR only)
SBDIR="$SCRATCH/tmp"
mkdir -p "$SBDIR"
drill() {
        TMPDIR="$SBDIR" yunbak drill --system hr --key "$SCRATCH/keys/hr.key" --passphrase-file "$SCRATCH/pass" \
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
grep -q "^RTO achieved: 28 ms\.$" out || die "the RTO is not the phases' sum, 28 ms: $(cat out)"
grep -Eq "^  (restore|verify) .*  3 files, 218.7 KiB" out || die "the counts are not 3 files, 218.7 KiB: $(cat out)"
grep -q "Nothing was recorded (--no-record)" out || die "the run did not say nothing was recorded"
grep -q "objectives are unknown" out || die "the run did not say the objectives are unknown"
grep -Eq "^  check .*\(nothing was run: without yunbakd the policy's checks are unknown\)" out ||
        die "the check phase of an unrecorded drill does not say the checks are unknown: $(cat out)"
! grep -q "the policy has no drill.check" out || die "an unrecorded drill claims to know the policy: $(cat out)"
[ "$(tree_digest "$SRC")" = "$(tree_digest "$SCRATCH/sb/data")" ] ||
        die "the kept sandbox is not the source tree"

# 2. The sandbox given is not empty: refused, and left as it was.
expect_exit 1 drill --no-record --store "$SCRATCH/store" --sandbox "$SCRATCH/sb"
expect_stderr "The drill's sandbox '$SCRATCH/sb' is not empty"
[ -f "$SCRATCH/sb/data/numbers.txt" ] || die "a refused drill changed its sandbox"
rm -rf "$SCRATCH/sb"

# 3. Without --keep, the default sandbox (under $SBDIR) is removed after.
expect_exit 0 drill --no-record --store "$SCRATCH/store"; cp "$SCRATCH/stdout" out
sb=$(sed -n 's/.*; sandbox \(.*\)\.$/\1/p' out)
case $sb in "$SBDIR"/yunbak-drill-hr-*) ;; *) die "the sandbox '$sb' is not under \$SBDIR" ;; esac
[ ! -e "$sb" ] || die "the sandbox $sb was not removed"

# 4. A damaged volume: the drill fails at verify, naming the path; check does not run; the
# sandbox is removed all the same.
vol=$(ls store/hr/snapshots/"$snap"/vol-* | head -1)
size=$(stat -c %s "$vol")
flip_byte "$vol" $((size / 2))
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

# 4b. A damaged newest snapshot is not skipped in silence: the phase point fails naming it;
# --allow-older drills the one before, saying so.
echo newer >"$SRC/newer.txt"
yunbak-agent backup --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
        --level full "$SRC" >/dev/null
new=$(ls store/hr/snapshots | grep -v "$snap")
rm store/hr/snapshots/"$new"/header
expect_exit 10 drill --no-record --store "$SCRATCH/store"
grep -q "Failed at the phase point: Snapshot $new of system 'hr' is damaged (its header is missing).*--allow-older" \
        "$SCRATCH/stdout" || die "the damaged newest point is not named: $(cat "$SCRATCH/stdout")"
! grep -Eq "^  restore " "$SCRATCH/stdout" || die "the restore ran after the point failed"
expect_exit 0 drill --no-record --store "$SCRATCH/store" --allow-older
grep -q "Point: snapshot $snap " "$SCRATCH/stdout" || die "--allow-older did not drill $snap"
expect_stderr "restoring the older snapshot $snap instead"
rm -rf store
cp -a pristine store
rm "$SRC/newer.txt"

# 5. No yunbakd: refused (a drill that leaves no record is not a drill); --no-record needs
# --store (only yunbakd knows the tier's store).
expect_exit 6 env YUNBAK_SOCKET="$SCRATCH/no-such.sock" yunbak drill --system hr \
        --key "$SCRATCH/keys/hr.key" --passphrase-file "$SCRATCH/pass"
expect_stderr "Nothing was drilled"
expect_stderr "--no-record"
[ -z "$(ls "$SBDIR")" ] || die "a refused drill left a sandbox: $(ls "$SBDIR")"
expect_exit 2 drill --no-record
expect_stderr "give the store with --store LOCATION"

# 5b. The key of another system, or a public key: refused before anything is begun (no
# passphrase asked, nothing drilled, no sandbox); a sandbox whose parent does not exist says
# what to do.
make_key tax
expect_exit 4 yunbak drill --system hr --key "$SCRATCH/keys/tax.key" --no-record --store "$SCRATCH/store"
expect_stderr "'$SCRATCH/keys/tax.key' is the key of system 'tax', not of 'hr': give hr's key; nothing was begun"
expect_exit 4 yunbak drill --system hr --key "$SCRATCH/keys/hr.pub" --no-record --store "$SCRATCH/store"
expect_stderr "'$SCRATCH/keys/hr.pub' is a public key; a drill needs the private key of system 'hr' \(hr\.key\)"
[ -z "$(ls "$SBDIR")" ] || die "a refused drill left a sandbox: $(ls "$SBDIR")"
expect_exit 1 drill --no-record --store "$SCRATCH/store" --sandbox "$SCRATCH/no-such/sb"
expect_stderr "Its parent directory does not exist: make it first"
# Unprivileged (root may write and read anything): a sandbox in a directory it may not write
# to, and a store it may not read, say what to do.
if ! is_root; then
        mkdir "$SCRATCH/ro" && chmod 555 "$SCRATCH/ro"
        expect_exit 1 drill --no-record --store "$SCRATCH/store" --sandbox "$SCRATCH/ro/sb"
        expect_stderr "Give --sandbox a new directory in one the user running the drill may write to"
        cp -a store locked && chmod 000 locked/hr
        expect_exit 10 drill --no-record --store "$SCRATCH/locked"
        grep -q "Give the user running this (uid [0-9]*) read access to it, or run as a user who has it, or name another copy with --store LOCATION" \
                "$SCRATCH/stdout" "$SCRATCH/stderr" || die "the unreadable store: $(cat "$SCRATCH/stdout" "$SCRATCH/stderr")"
        chmod 755 locked/hr && rm -rf locked
fi

# ---- with yunbakd: begun, reported, signed ----
command -v yunbakd >/dev/null || { echo "yunbakd is not built: the recorded drills are not tested"; exit 77; }
for tool in curl sqlite3; do
        command -v "$tool" >/dev/null || { echo "no $tool: the recorded drills are not tested"; exit 77; }
done
. "$TESTS/integration/daemon-lib.sh"
trap 'kill -TERM "${YUNBAKD_PID:-}" 2>/dev/null || true; cleanup' EXIT
export YUNBAK_SOCKET="$SOCK"
daemon_config
daemon_system hr-portal "市人力资源和社会保障局"
daemon_system hotline "市政务服务数据管理局"
daemon_system intake "市政务服务数据管理局"
sed -i 's/^  check: .*/  check: echo "$YUNBAK_DRILL_SYSTEM $YUNBAK_DRILL_TIER $YUNBAK_DRILL_POINT $YUNBAK_DRILL_POINT_TIME $YUNBAK_DRILL_POINT_EPOCH $YUNBAK_DRILL_SANDBOX $PWD"; echo on stderr >\&2; exit 3/' \
        "$D/policies/hotline.yaml"
# (the check's sleep is named for this run, so that no other test's process is taken for it)
sed -i 's/^  check: .*/  check: touch "$YUNBAK_DRILL_SANDBOX\/..\/check-started"; sleep 121.'"$$"'/' \
        "$D/policies/intake.yaml"
# yunbakd on the test clock, held at T0 (tomorrow, after the snapshots made now): every drill
# starts exactly then.
T0="$(date -u -d tomorrow +%Y-%m-%d)T00:00:00Z"
T0U=$(($(date -u -d "$T0" +%s) * 1000000))
YUNBAKD_TEST_CLOCK=$T0 YUNBAKD_TEST_HOLD=1 start_yunbakd
for s in hr-portal hotline intake; do
        expect_exit 0 yunbak backup now --system "$s" --level full --wait
done
SNAP=$(sql "SELECT id FROM snapshots WHERE system = 'hr-portal'")
SNAPU=$(sql "SELECT finished_usec FROM snapshots WHERE system = 'hr-portal'")
ddrill() { # SYSTEM [ARGS...]
        s=$1
        shift
        TMPDIR="$SBDIR" yunbak drill --system "$s" --key "$D/keys/$s.key" --passphrase-file "$SCRATCH/pass" "$@"
}
# record ID EXPR: EXPR over drill ID's record as yunbakd gives it (j).
record() { api GET "/v1/drills/$1" | json "$2"; }

# 6. A passing drill: recorded, signed; the RTO is exactly the phases' sum, the RPO exactly the
# point's age at yunbakd's start.
expect_exit 0 ddrill hr-portal --scenario "partial outage"
cp "$SCRATCH/stdout" out
id=$(sed -n 's/^Recorded and signed by yunbakd as drill \([0-9]*\)\..*/\1/p' out)
[ -n "$id" ] || die "no record id in the summary: $(cat out)"
grep -q "yunbak drill show $id --html FILE" out || die "the summary does not say how to get the page"
grep -q "scenario 'partial outage': PASSED" out || die "the summary does not say passed: $(cat out)"
grep -q "^RTO: 28 ms, target 8 h: met\.$" out || die "the RTO line: $(cat out)"
# the RPO in words, and exactly in seconds when the words round it (hours and minutes)
python3 - out $(((T0U - SNAPU) / 1000000)) <<'PY' || die "the RPO line: $(cat out)"
import sys
s = int(sys.argv[2])
if s < 60:
    words = "%d s" % s
elif s < 3600:
    words = "%d min %d s" % (s // 60, s % 60) if s % 60 else "%d min" % (s // 60)
else:
    words = "%d h %d min" % (s // 3600, s // 60 % 60) if s // 60 % 60 else "%d h" % (s // 3600)
    if s % 60:
        words += " (%d s)" % s
line = "RPO: %s, target 24 h: met.\n" % words
assert line in open(sys.argv[1], encoding="utf-8").readlines(), line
PY
[ "$(record "$id" 'j["result"], j["failed_phase"], j["achieved"]["rto_ms"], [p["ms"] for p in j["phases"]]')" = \
        "passed None 28 [7, 7, 7, 7]" ] || die "the record's figures: $(api GET "/v1/drills/$id")"
[ "$(record "$id" 'j["started_usec"], j["point"]["id"], j["point"]["time_usec"], j["achieved"]["rpo_seconds"]')" = \
        "$T0U $SNAP $SNAPU $(((T0U - SNAPU) / 1000000))" ] ||
        die "the RPO is not the point's age at yunbakd's start: $(api GET "/v1/drills/$id")"
[ "$(record "$id" '[p["name"] for p in j["phases"]]')" = "['point', 'restore', 'verify', 'check']" ] ||
        die "the phases: $(api GET "/v1/drills/$id")"
[ "$(record "$id" 'j["check"]["exit_code"], j["met"]["rto"], j["met"]["rpo"]')" = "0 True True" ] ||
        die "the check or the judgement: $(api GET "/v1/drills/$id")"
# A tier the policy does not have: a usage error (2), not "busy"; nothing begun.
expect_exit 2 ddrill hr-portal --tier 3
expect_stderr "has no tier 3"
# How to get its page, as the summary says; the record verifies with yunbakd's key.
expect_exit 0 yunbak drill show "$id" --html "$SCRATCH/page.html"
grep -q "测试系统 hr-portal" "$SCRATCH/page.html" || die "the page does not name the system"
expect_exit 0 ddrill hr-portal --json
cp "$SCRATCH/stdout" "$SCRATCH/record.json"
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["type"] == "yunbak-drill" and j["result"] == "passed", j' \
        "$SCRATCH/record.json" || die "--json did not print the signed record"
expect_exit 0 yunbak drill verify "$SCRATCH/record.json" --public-key "$D/state/yunbakd.pub"
[ -z "$(ls "$SBDIR")" ] || die "a sandbox was left behind: $(ls "$SBDIR")"

# 6b. The default sandbox cannot be made: recorded failed at point, saying why.
expect_exit 10 env TMPDIR="$SCRATCH/no-such-dir" yunbak drill --system hr-portal \
        --key "$D/keys/hr-portal.key" --passphrase-file "$SCRATCH/pass"
id=$(sed -n 's/^Recorded and signed by yunbakd as drill \([0-9]*\)\..*/\1/p' "$SCRATCH/stdout")
[ "$(record "$id" 'j["result"], j["failed_phase"], j["point"]')" = "failed point None" ] ||
        die "the record of a drill without a sandbox: $(api GET "/v1/drills/$id")"
record "$id" 'j["error"]' | grep -q "Cannot make the drill's sandbox '$SCRATCH/no-such-dir/yunbak-drill-hr-portal-$id'" ||
        die "the error does not say why: $(record "$id" 'j["error"]')"

# 7. A check that exits 3: recorded failed at check, with the exit code and the output.
expect_exit 10 ddrill hotline --sandbox "$SCRATCH/sb-hot" --keep
cp "$SCRATCH/stdout" out
id=$(sed -n 's/^Recorded and signed by yunbakd as drill \([0-9]*\)\..*/\1/p' out)
grep -q "Failed at the phase check: the check command exited with status 3" out || die "the failure: $(cat out)"
grep -q "^on stderr$" out || die "the check's output is not printed: $(cat out)"
[ "$(record "$id" 'j["result"], j["failed_phase"], j["check"]["exit_code"], j["achieved"]["rto_ms"]')" = \
        "failed check 3 None" ] || die "the failed record: $(api GET "/v1/drills/$id")"
[ -f "$SCRATCH/sb-hot/data/name.txt" ] || die "--keep did not keep the sandbox"
# The check ran in the sandbox with the variables of docs/drills.md.
HSNAP=$(sql "SELECT id FROM snapshots WHERE system = 'hotline'")
HSEC=$(($(sql "SELECT finished_usec FROM snapshots WHERE system = 'hotline'") / 1000000))
SB=$(cd "$SCRATCH/sb-hot" && pwd -P)
[ "$(record "$id" 'j["check"]["output"]')" = "hotline 1 $HSNAP $(date -u -d "@$HSEC" +%Y-%m-%dT%H:%M:%SZ) $HSEC $SB $SB
on stderr" ] || die "the check's output in the record: $(record "$id" 'j["check"]')"

# 8. A damaged volume: fails at verify naming the path; the check did not run.
snap=$(ls "$D/store/hr-portal/snapshots" | tail -1)
vol=$(ls "$D/store/hr-portal/snapshots/$snap"/vol-* | head -1)
size=$(stat -c %s "$vol")
flip_byte "$vol" $((size / 2))
expect_exit 10 ddrill hr-portal
id=$(sed -n 's/^Recorded and signed by yunbakd as drill \([0-9]*\)\..*/\1/p' "$SCRATCH/stdout")
[ "$(record "$id" 'j["result"], j["failed_phase"], j["check"], [p["name"] for p in j["phases"]][-1]')" = \
        "failed verify None verify" ] || die "the damaged drill's record: $(api GET "/v1/drills/$id")"
record "$id" 'j["error"]' | grep -q "do not match snapshot $snap: data/" || die "the error does not name the path"

# 9. Interrupted during the check: the check's group stopped, the sandbox removed, recorded
# failed ("interrupted"), exit 130.
mkdir -p "$SCRATCH/sb-int"
# (yunbak itself in the background, so that $! is its pid)
TMPDIR="$SBDIR" yunbak drill --system intake --key "$D/keys/intake.key" --passphrase-file \
        "$SCRATCH/pass" --sandbox "$SCRATCH/sb-int/s" >"$SCRATCH/int.out" 2>"$SCRATCH/int.err" &
pid=$!
wait_for "the check did not start" '[ -e "$SCRATCH/sb-int/check-started" ]'
kill -INT "$pid"
set +e
wait "$pid"
rc=$?
set -e
[ "$rc" = 130 ] || die "an interrupted drill exited $rc: $(cat "$SCRATCH/int.out" "$SCRATCH/int.err")"
id=$(sed -n 's/^Recorded and signed by yunbakd as drill \([0-9]*\)\..*/\1/p' "$SCRATCH/int.out")
[ "$(record "$id" 'j["result"], j["failed_phase"]')" = "failed check" ] || die "the interrupted record"
record "$id" 'j["error"]' | grep -q "^interrupted" || die "the error does not say interrupted"
[ ! -e "$SCRATCH/sb-int/s" ] || die "the interrupted drill's sandbox was not removed"
! pgrep -f "sleep 121\\.$$" >/dev/null || die "the check's sleep outlived the drill"
echo "drill-run: ok"
