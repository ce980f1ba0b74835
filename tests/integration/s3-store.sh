#!/bin/sh
# The S3 backend against a real radosgw (ceph-lib.sh), in a plain bucket and in one with Object
# Lock (always versioned): every operation of an object store (yb-s3-check ops: exclusive
# create, rename as copy then delete, lists, stat, unlink, remove_tree, reads and writes in pieces
# of 1 B to 3 MiB across the single-PUT and multipart sizes), path and virtual-host style; what
# the store wrote read back with curl (an independent client) byte for byte; 20 processes
# creating one key at once, exactly one wins, in both buckets; a writer killed in the middle of a
# multipart upload leaves an upload that the next create of the key aborts, and remove_tree
# aborts those under its prefix; a 200 MiB object written and read with bounded memory; Object
# Lock (a retained object cannot be unlinked, stat gives its date, after the date it can); and
# the errors people meet at open (wrong secret, missing bucket, refused port, object_lock on a
# bucket without it, a credentials file others can read).
# It runs about 60-80 s under the sanitizers: one Ceph for all of it (its start is 12 s), and the
# 200 MiB object the bounded-memory check needs.
. "$TESTS/integration/lib.sh"

CEPH_DIR=$SCRATCH/ceph
finish() {
        ceph_finish
        cleanup
}
trap finish EXIT
trap 'exit 1' HUP INT TERM
. "$TESTS/integration/ceph-lib.sh"
export S3_ENDPOINT S3_CREDS
s3_bucket plain
s3_bucket locked lock

check() { # yb-s3-check ARGS...: its output shown, the test failed with its exit
        yb-s3-check "$@" >"$SCRATCH/check.out" 2>"$SCRATCH/check.err" || {
                cat "$SCRATCH/check.out" "$SCRATCH/check.err" >&2
                die "yb-s3-check $1 $2 failed"
        }
        cat "$SCRATCH/check.out"
}
# The store logs nothing at error level where it succeeds or fails as expected.
quiet() {
        ! grep -q . "$SCRATCH/check.err" || {
                cat "$SCRATCH/check.err" >&2
                die "yb-s3-check $* said something on stderr"
        }
}
uploads() { # BUCKET PREFIX: the number of pending multipart uploads under PREFIX
        s3_curl GET "/$1?prefix=$2&uploads=" | grep -o '<UploadId>' | wc -l
}

# --- Every operation, both buckets, both styles ----------------------------------------------
check ops s3://plain/ops
quiet ops plain
check ops s3://locked/ops
quiet ops locked
S3_STYLE=virtual S3_QUICK=1 S3_ENDPOINT="http://localhost:${S3_ENDPOINT##*:}" check ops s3://plain/virtual

# --- Read back by curl: a single PUT and a multipart upload ----------------------------------
for mib in 1 17; do
        want=$(check put s3://plain/ind "obj$mib" "$mib")
        got=$(s3_curl GET "/plain/ind/obj$mib" -f | sha256sum | cut -d' ' -f1)
        [ "$got" = "$want" ] || die "curl reads other bytes from obj$mib ($got, written $want)"
        want=$(check put s3://locked/ind "obj$mib" "$mib")
        got=$(s3_curl GET "/locked/ind/obj$mib" -f | sha256sum | cut -d' ' -f1)
        [ "$got" = "$want" ] || die "curl reads other bytes from locked obj$mib"
done
# Written as object store keys: under the prefix, nothing else (no directory markers).
keys=$(s3_curl GET "/plain?list-type=2&prefix=ind%2F" | grep -o '<Key>[^<]*' | sed 's/<Key>//' | tr '\n' ' ')
[ "$keys" = "ind/obj1 ind/obj17 " ] || die "the bucket holds '$keys' under ind/"

# --- Racing creates ----------------------------------------------------------------------------
check race s3://plain/race lock 20
check race s3://locked/race lock 20
n=$(s3_curl GET "/locked?prefix=race%2Flock&versions=" | grep -o '<VersionId>' | wc -l)
[ "$n" = 1 ] || die "the losers of the race left versions: $n versions of race/lock"

# --- A writer killed in the middle of a multipart upload ---------------------------------------
for where in "s3://plain/kill vol" "s3://plain/tree sub/vol"; do
        # shellcheck disable=SC2086
        set -- $where
        yb-s3-check hold "$1" "$2" 12 >"$SCRATCH/hold.out" 2>&1 &
        pid=$!
        wait_for "the writer did not start its upload" "grep -q held '$SCRATCH/hold.out'"
        kill -9 "$pid"
        wait "$pid" 2>/dev/null || true
done
[ "$(uploads plain kill%2Fvol)" -ge 1 ] || die "no pending upload after the writer was killed"
n=$(uploads plain tree%2F)
[ "$n" -ge 1 ] || die "not one pending upload under tree/ after the kill but $n: $(s3_curl GET "/plain?uploads=")"
check put s3://plain/kill vol 9 >/dev/null
[ "$(uploads plain kill%2Fvol)" = 0 ] || die "creating the key again left the dead writer's upload"
check rmtree s3://plain/tree sub
[ "$(uploads plain tree%2F)" = 0 ] || die "remove_tree left the pending upload under it"

# --- Bounded memory ------------------------------------------------------------------------------
# (freed parts must not pile up in ASan's quarantine: what is measured is the store's memory)
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1" check bounded s3://plain/mem big 200

# --- Object Lock -------------------------------------------------------------------------------
check lock s3://locked/lock obj 3
quiet lock

# --- What people are told at open ---------------------------------------------------------------
expect_open() { # WANT-ERRNO WANT-MESSAGE-REGEX yb-s3-check open ARGS
        _want=$1
        _msg=$2
        shift 2
        set +e
        yb-s3-check open "$@" >"$SCRATCH/open.out" 2>&1
        set -e
        [ "$(head -n1 "$SCRATCH/open.out")" = "$_want" ] || {
                cat "$SCRATCH/open.out" >&2
                die "open $*: not $_want"
        }
        grep -Eq -- "$_msg" "$SCRATCH/open.out" || {
                cat "$SCRATCH/open.out" >&2
                die "open $*: the message does not say /$_msg/"
        }
}
expect_open opened "" s3://plain/ops
expect_open EPROTONOSUPPORT "bucket plain has no Object Lock: create it with Object Lock enabled, or drop object_lock" \
        s3://plain/x lock
expect_open ENOENT "bucket nobucket does not exist at $S3_ENDPOINT" s3://nobucket/x
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = wrong\n' "$S3_ACCESS" >"$SCRATCH/bad"
chmod 600 "$SCRATCH/bad"
S3_CREDS=$SCRATCH/bad expect_open EPERM "SignatureDoesNotMatch.*check the credentials file $SCRATCH/bad" s3://plain/x
chmod 644 "$SCRATCH/bad"
S3_CREDS=$SCRATCH/bad expect_open EPERM "is open to others \(mode 0644\)" s3://plain/x
S3_ENDPOINT=http://127.0.0.1:$(ceph_free_port) expect_open ECONNREFUSED "cannot be reached" s3://plain/x
S3_ENDPOINT= expect_open EINVAL "no S3 endpoint: give --s3-endpoint" s3://plain/x
# A server that accepts and never answers: the store's timeout, not a hang.
port=$(ceph_free_port)
python3 -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); held=[]
open(sys.argv[2], "w").close()
while True: held.append(s.accept()[0])' "$port" "$SCRATCH/silent.up" &
silent=$!
wait_for "the silent server did not start" "[ -e '$SCRATCH/silent.up' ]"
S3_TIMEOUT_MS=1000 S3_ENDPOINT=http://127.0.0.1:$port expect_open ETIMEDOUT "cannot be reached" s3://plain/x
kill "$silent"

# --- radosgw gone under an open store: refused after the retries, said once at error level -----
mkfifo "$SCRATCH/go"
yb-s3-check after s3://plain/late key <"$SCRATCH/go" >"$SCRATCH/after.out" 2>"$SCRATCH/after.err" &
after=$!
exec 9>"$SCRATCH/go"
wait_for "the store did not open" "grep -q opened '$SCRATCH/after.out'"
ceph_finish
echo go >&9
exec 9>&-
wait "$after" || die "yb-s3-check after failed"
[ "$(tail -n1 "$SCRATCH/after.out")" = ECONNREFUSED ] || die "not ECONNREFUSED: $(cat "$SCRATCH/after.out")"
n=$(grep -c "S3 store 's3://plain/late': PUT late/key in bucket 'plain' at $S3_ENDPOINT failed: Couldn't connect to server: Connection refused" "$SCRATCH/after.err" || true)
[ "$n" = 1 ] || die "the refused PUT is not said exactly once at error level: $(cat "$SCRATCH/after.err")"
echo "s3-store: ok"
