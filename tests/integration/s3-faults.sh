#!/bin/sh
# Faults on an S3 store on a real Ceph (ceph-lib.sh):
# - a backup killed with SIGKILL while a volume is going up as a multipart upload (the first
#   volume already whole) leaves no snapshot listed: the one it was writing is named incomplete by
#   `yunbak snapshots` and `yunbak verify` (not damaged); the next backup takes the dead agent's
#   lock, removes what it left, and aborts its upload: no key of it, no pending upload remains;
# - two agents on the same repository: while one holds the lock the other exits 8 naming the
#   holder, the first then finishes, and a backup after it runs;
# - radosgw stopped mid-backup: the agent fails with exit 6 (unreachable), naming the store and
#   the endpoint; once radosgw is back the next backup cleans up and verify passes;
# - wrong credentials (a wrong secret, an unknown key): refused, the message names the
#   credentials file and S3's error code.
# The agent is paused (SIGSTOP) at the moment each case needs: it runs freely until near it, then
# in slices of 20 ms with the checks made while it is stopped, so that what they see holds.
# It takes about 30 s (ASan). The agent cut from radosgw gives up in about 2.5 s: its store is
# lost at the first refusal (tried once more), and every later request fails unsent.
# The big tree is 126 MiB of random data in three files: two volumes (a volume closes past 64 MiB),
# the second going up in six parts of 8 MiB while the first is whole.
. "$TESTS/integration/lib.sh"

CEPH_DIR=$SCRATCH/ceph
AGENT_PID=
finish() {
        [ -z "$AGENT_PID" ] || kill -9 "$AGENT_PID" 2>/dev/null || true
        ceph_finish
        cleanup
}
trap finish EXIT
trap 'exit 1' HUP INT TERM
. "$TESTS/integration/ceph-lib.sh"

s3_bucket yb-faults
STORE=s3://yb-faults/site
S3O="--s3-endpoint $S3_ENDPOINT --s3-credentials $S3_CREDS"
make_key hr
mkdir -p "$SCRATCH/small/app" "$SCRATCH/big/app"
seq 1 5000 >"$SCRATCH/small/app/numbers.txt"
for i in 1 2 3; do
        head -c 44040192 /dev/urandom >"$SCRATCH/big/app/part$i.bin"
done
age_recent "$SCRATCH/small"
age_recent "$SCRATCH/big"

agent() { # NAME TREE: a full backup of TREE ($SCRATCH/TREE/app), in the foreground; a lock held
        # by another is refused at once
        # shellcheck disable=SC2086
        yunbak-agent backup --store "$STORE" $S3O --system hr --public-key "$SCRATCH/keys/hr.pub" \
                --level full --lock-wait 0s --json "$SCRATCH/$2/app" >"$SCRATCH/$1.json"
}
agent_bg() { # NAME TREE: the same in the background, stopped at once; AGENT_PID. It is killed
        # if the test dies first (ctest's timeout), stopped or not.
        # shellcheck disable=SC2086
        setpriv --pdeathsig KILL yunbak-agent backup --store "$STORE" $S3O --system hr \
                --public-key "$SCRATCH/keys/hr.pub" --level full --json "$SCRATCH/$2/app" \
                >"$SCRATCH/$1.json" 2>"$SCRATCH/$1.err" &
        AGENT_PID=$!
        kill -STOP "$AGENT_PID"
}
snap_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot"])' "$SCRATCH/$1.json"; }
running() { # PID: runs or is stopped (not gone, not a zombie)
        s=$(ps -o stat= -p "$1") || return 1
        case $s in Z*) return 1 ;; esac
}
# run_until CONDITION: lets the stopped agent run 20 ms at a time, checking CONDITION between the
# slices while it is stopped, until it holds (at most 60 s of slices); the agent stays stopped.
run_until() {
        _n=0
        until eval "$1"; do
                running "$AGENT_PID" || {
                        cat "$SCRATCH"/*.err >&2
                        die "the agent ended before: $1"
                }
                _n=$((_n + 1))
                [ "$_n" -lt 3000 ] || die "not within 60 s of the agent's running: $1"
                kill -CONT "$AGENT_PID"
                sleep 0.02
                kill -STOP "$AGENT_PID"
        done
}
# more_snapshots N: more than N snapshot prefixes under snapshots/ (a new one has a whole object).
more_snapshots() {
        [ "$(s3_curl GET "/yb-faults?delimiter=%2F&list-type=2&prefix=site%2Fhr%2Fsnapshots%2F" -f |
                grep -o '<Prefix>site/hr/snapshots/[^<]' | wc -l)" -gt "$1" ]
}
# run_to_part_way N: the stopped agent runs freely until its snapshot has a whole object (there
# are N before), then in slices until part_way.
run_to_part_way() {
        kill -CONT "$AGENT_PID"
        wait_for "the agent's snapshot got no whole object: $(cat "$SCRATCH"/*.err)" "more_snapshots $1"
        kill -STOP "$AGENT_PID"
        run_until part_way
}
# part_way: a multipart upload under snapshots/ is pending and the snapshot it belongs to already
# has a whole object; sets PART_ID to that snapshot. (Plain curl and grep: it runs between slices.)
part_way() {
        PART_ID=$(s3_curl GET "/yb-faults?uploads=" -f | grep -o '<Key>site/hr/snapshots/[^/<]*/' |
                head -n 1 | sed 's|^<Key>site/hr/snapshots/||; s|/$||')
        [ -n "$PART_ID" ] &&
                s3_curl GET "/yb-faults?list-type=2&max-keys=1&prefix=site%2Fhr%2Fsnapshots%2F$PART_ID%2F" -f |
                grep -q '<Key>'
}
locked() { s3_curl GET /yb-faults/site/hr/lock -f -o /dev/null 2>/dev/null; }
# list_shows_incomplete ID: yunbak snapshots names ID incomplete, not as a snapshot; no damaged one.
list_shows_incomplete() {
        # shellcheck disable=SC2086
        yunbak snapshots --store "$STORE" $S3O --system hr >"$SCRATCH/list" 2>"$SCRATCH/list.err" ||
                die "yunbak snapshots failed: $(cat "$SCRATCH/list" "$SCRATCH/list.err")"
        grep -Eq "^$1 +incomplete \\(no header\\)" "$SCRATCH/list" ||
                die "snapshots does not name $1 incomplete: $(cat "$SCRATCH/list")"
        [ "$(grep -c "^$1 " "$SCRATCH/list")" = 1 ] || die "$1 is listed as a snapshot: $(cat "$SCRATCH/list")"
        ! grep -q damaged "$SCRATCH/list.err" || die "an incomplete snapshot is called damaged: $(cat "$SCRATCH/list.err")"
}
# cleaned ID: nothing of ID is left in the store, and no upload is pending.
cleaned() {
        left=$(s3_keys yb-faults "site/hr/snapshots/$1/")
        [ -z "$left" ] || die "the next backup left keys of the interrupted $1: $left"
        [ -z "$(s3_uploads yb-faults)" ] || die "uploads still pending: $(s3_uploads yb-faults)"
        # shellcheck disable=SC2086
        yunbak snapshots --store "$STORE" $S3O --system hr >"$SCRATCH/list"
        ! grep -q incomplete "$SCRATCH/list" || die "still an incomplete snapshot: $(cat "$SCRATCH/list")"
}

agent first small
FIRST=$(snap_of first)

# --- Killed mid-upload --------------------------------------------------------------------------
agent_bg killed big
run_to_part_way 1
KILLED=$PART_ID
kill -9 "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null || true
AGENT_PID=
[ -n "$(s3_uploads yb-faults)" ] || die "the killed agent left no pending upload to clean"
list_shows_incomplete "$KILLED"
grep -q "^$FIRST " "$SCRATCH/list" || die "the committed snapshot is not listed: $(cat "$SCRATCH/list")"
# shellcheck disable=SC2086
yunbak verify --store "$STORE" $S3O --system hr >"$SCRATCH/verify" 2>&1 ||
        die "verify fails beside an incomplete snapshot: $(cat "$SCRATCH/verify")"
grep -q "$KILLED.*incomplete" "$SCRATCH/verify" || die "verify does not name $KILLED incomplete: $(cat "$SCRATCH/verify")"
grep -q "1 snapshot checked, 0 damaged" "$SCRATCH/verify" || die "verify: $(cat "$SCRATCH/verify")"
locked || die "the killed agent's lock is not there"
agent after-kill small
cleaned "$KILLED"
locked && die "the lock is left after a backup"

# --- Two agents, one lock -----------------------------------------------------------------------
agent_bg holder big
run_until locked
holder=$AGENT_PID
expect_exit 8 agent loser small
expect_stderr "Another backup of system 'hr' is running \\(lock held by [^ ]+ $holder"
kill -CONT "$holder"
wait "$holder" || die "the agent holding the lock failed: $(cat "$SCRATCH/holder.err")"
AGENT_PID=
HOLDER=$(snap_of holder)
agent after-race small
# shellcheck disable=SC2086
yunbak snapshots --store "$STORE" $S3O --system hr >"$SCRATCH/list"
grep -q "^$HOLDER " "$SCRATCH/list" && grep -q "^$(snap_of after-race) " "$SCRATCH/list" ||
        die "the lock holder's or the next snapshot is missing: $(cat "$SCRATCH/list")"

# --- radosgw stopped mid-backup -----------------------------------------------------------------
agent_bg cut big
run_to_part_way 4
CUT=$PART_ID
ceph_rgw_stop
kill -CONT "$AGENT_PID"
set +e
wait "$AGENT_PID"
rc=$?
set -e
AGENT_PID=
[ "$rc" = 6 ] || die "the agent cut from radosgw exits $rc, not 6 (unreachable): $(cat "$SCRATCH/cut.err")"
grep -q "s3://yb-faults/site" "$SCRATCH/cut.err" && grep -q "127.0.0.1:$CEPH_RGW_PORT" "$SCRATCH/cut.err" ||
        die "the error does not name the store and the endpoint: $(cat "$SCRATCH/cut.err")"
# shellcheck disable=SC2086
expect_exit 6 yunbak snapshots --store "$STORE" $S3O --system hr
expect_stderr "127.0.0.1:$CEPH_RGW_PORT"
ceph_rgw_start
list_shows_incomplete "$CUT"
agent after-cut small
cleaned "$CUT"
# shellcheck disable=SC2086
yunbak verify --store "$STORE" $S3O --system hr >"$SCRATCH/verify" 2>&1 ||
        die "verify after the cut: $(cat "$SCRATCH/verify")"

# --- Wrong credentials ----------------------------------------------------------------------------
bad_creds() { # FILE ACCESS SECRET
        printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$2" "$3" >"$1"
        chmod 600 "$1"
}
bad_creds "$SCRATCH/wrong-secret" "$S3_ACCESS" 0123456789abcdef0123456789abcdef
bad_creds "$SCRATCH/unknown-key" YBNOSUCHACCESSKEY 0123456789abcdef0123456789abcdef
for c in wrong-secret:SignatureDoesNotMatch unknown-key:InvalidAccessKeyId; do
        file=$SCRATCH/${c%%:*}
        set +e
        yunbak snapshots --store "$STORE" --s3-endpoint "$S3_ENDPOINT" --s3-credentials "$file" \
                --system hr >"$SCRATCH/stdout" 2>"$SCRATCH/stderr"
        rc=$?
        set -e
        [ "$rc" != 0 ] || die "yunbak snapshots with $file succeeded"
        expect_stderr "$file"
        expect_stderr "${c#*:}"
        set +e
        yunbak-agent backup --store "$STORE" --s3-endpoint "$S3_ENDPOINT" --s3-credentials "$file" \
                --system hr --public-key "$SCRATCH/keys/hr.pub" --level full \
                "$SCRATCH/small/app" >"$SCRATCH/stdout" 2>"$SCRATCH/stderr"
        rc=$?
        set -e
        [ "$rc" != 0 ] || die "a backup with $file succeeded"
        expect_stderr "$file"
        expect_stderr "${c#*:}"
done
echo "s3-faults: ok"
