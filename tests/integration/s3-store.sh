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
# the errors people meet at open (wrong secret, missing bucket, refused port, a server that never
# answers, object_lock on a bucket without it, a credentials file others can read, a TLS
# certificate not trusted); an object written over TLS with ca_file (a TLS front of our own,
# tls-proxy.py) read back by curl; a quota that
# refuses an object (ENOSPC, with S3's code); radosgw stopped under an open store (ECONNREFUSED
# after one more try, said once at error level with the store, key, bucket and endpoint; the next
# operations fail at once, not sent, as the client's debug log shows).
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
        # "held" says the bytes were handed to the store; the upload they started is pending
        # once radosgw lists it (its request may still be on its way).
        key=$(printf '%s/%s' "${1#s3://plain/}" "$2" | sed 's#/#%2F#g')
        wait_for "the writer's upload of $2 never became pending" "[ \$(uploads plain $key) -ge 1 ]"
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

# --- TLS: radosgw behind a TLS front with a certificate of our own --------------------------
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 \
        -addext subjectAltName=IP:127.0.0.1,DNS:localhost -days 2 \
        -keyout "$SCRATCH/tls.key" -out "$SCRATCH/tls.pem" 2>/dev/null
tls_port=$(ceph_free_port)
python3 "$TESTS/integration/tls-proxy.py" "$SCRATCH/tls.pem" "$SCRATCH/tls.key" "$tls_port" \
        "${S3_ENDPOINT##*:}" "$SCRATCH/tls.up" &
tls=$!
wait_for "the TLS front did not start" "[ -e '$SCRATCH/tls.up' ]"
S3_ENDPOINT=https://127.0.0.1:$tls_port expect_open EPROTO \
        "https://127.0.0.1:$tls_port's TLS certificate is not trusted .*: give the CA that signed it as ca_file" s3://plain/x
want=$(S3_CA=$SCRATCH/tls.pem S3_ENDPOINT=https://127.0.0.1:$tls_port check put s3://plain/tls obj 9)
got=$(s3_curl GET /plain/tls/obj -f | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || die "what went up over TLS reads back otherwise"
kill "$tls"

# --- A full store: the user's bucket quota (1 MiB per bucket) refuses a 2 MiB object ---------
s3_admin quota set --quota-scope=bucket --uid=yunbak --max-size=1048576 >/dev/null
s3_admin quota enable --quota-scope=bucket --uid=yunbak >/dev/null
s3_bucket small
expect_exit 1 yb-s3-check put s3://small/q obj 2
expect_stderr "S3 store 's3://small/q': PUT q/obj in bucket 'small' at $S3_ENDPOINT failed: HTTP 403, QuotaExceeded"
expect_stderr "put obj: No space left on device"

# --- radosgw gone under an open store: refused after one more try, said once at error level;
# the store is then lost: the next operations fail at once, unsent (counted in the client's debug
# log of a second store opened beside the first: one retry in all, the later requests not sent).
mkfifo "$SCRATCH/go" "$SCRATCH/go-debug"
yb-s3-check after s3://plain/late key <"$SCRATCH/go" >"$SCRATCH/after.out" 2>"$SCRATCH/after.err" &
after=$!
YB_LOG_LEVEL=debug yb-s3-check after s3://plain/lost key <"$SCRATCH/go-debug" \
        >"$SCRATCH/lost.out" 2>"$SCRATCH/lost.err" &
lost=$!
exec 8>"$SCRATCH/go-debug" 9>"$SCRATCH/go"
wait_for "the stores did not open" "grep -q opened '$SCRATCH/after.out' && grep -q opened '$SCRATCH/lost.out'"
ceph_finish
echo go >&9
echo go >&8
exec 8>&- 9>&-
wait "$after" || die "yb-s3-check after failed"
wait "$lost" || die "yb-s3-check after (debug) failed"
for out in after lost; do
        [ "$(tail -n3 "$SCRATCH/$out.out" | tr '\n' ' ')" = "ECONNREFUSED ECONNREFUSED ECONNREFUSED " ] ||
                die "not ECONNREFUSED three times: $(cat "$SCRATCH/$out.out")"
done
n=$(grep -c "S3 store 's3://plain/late': PUT late/key in bucket 'plain' at $S3_ENDPOINT failed: Couldn't connect to server: Connection refused" "$SCRATCH/after.err" || true)
[ "$n" = 1 ] || die "the refused PUT is not said exactly once at error level: $(cat "$SCRATCH/after.err")"
n=$(grep -c "error: " "$SCRATCH/after.err" || true)
[ "$n" = 1 ] || die "more than the first failure said at error level: $(cat "$SCRATCH/after.err")"
n=$(grep -c "again in" "$SCRATCH/lost.err" || true)
[ "$n" = 1 ] || die "not one retry in all ($n) after the refusal: $(cat "$SCRATCH/lost.err")"
grep -q "PUT lost/key: Couldn't connect to server (HTTP 0), attempt 1 of 2 again in" "$SCRATCH/lost.err" ||
        die "the refused PUT was not the one tried again: $(cat "$SCRATCH/lost.err")"
for what in "lost/key.stat" "PUT lost/key.2"; do
        grep -q "$what in bucket 'plain' at $S3_ENDPOINT failed: not sent: an earlier request of this store found $S3_ENDPOINT gone: Connection refused" "$SCRATCH/lost.err" ||
                die "$what was not failed unsent: $(cat "$SCRATCH/lost.err")"
done
echo "s3-store: ok"
