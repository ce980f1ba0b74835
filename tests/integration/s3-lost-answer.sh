#!/bin/sh
# An S3 create whose answer is lost after radosgw wrote the object (drop-answer-proxy.py between
# the store and a real radosgw, ceph-lib.sh): the store's retry must not take its own first
# attempt for another writer's. In a versioned bucket (one with Object Lock) the create succeeds
# and leaves exactly one version, with our bytes; in a plain bucket likewise; and a create that
# really lost to an earlier writer still gets EEXIST and leaves the earlier bytes alone, even when
# its answer was lost too. One Ceph for all of it (its start is most of the run time).
. "$TESTS/integration/lib.sh"

CEPH_DIR=$SCRATCH/ceph
PROXY_PID=
finish() {
        [ -z "$PROXY_PID" ] || kill "$PROXY_PID" 2>/dev/null || true
        ceph_finish
        cleanup
}
trap finish EXIT
trap 'exit 1' HUP INT TERM
. "$TESTS/integration/ceph-lib.sh"
export S3_CREDS
s3_bucket plain
s3_bucket locked lock
UPSTREAM=${S3_ENDPOINT##*:}
PORT=$(ceph_free_port)

# lose BUCKET/KEY: a proxy that loses the answer to the first PUT of /BUCKET/KEY; S3_ENDPOINT is
# the proxy's until the next call.
lose() {
        [ -z "$PROXY_PID" ] || { kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null || true; }
        rm -f "$SCRATCH/proxy.ready"
        python3 "$TESTS/integration/drop-answer-proxy.py" "$PORT" "$UPSTREAM" \
                "$SCRATCH/proxy.ready" "/$1" &
        PROXY_PID=$!
        wait_for "the proxy did not start" "test -e \"$SCRATCH/proxy.ready\""
}

put_through() { # BUCKET KEY: yb-s3-check put of 1 MiB through the proxy; its output and exit
        S3_ENDPOINT=http://127.0.0.1:$PORT yb-s3-check put "s3://$1/la" "$2" 1 \
                >"$SCRATCH/put.out" 2>"$SCRATCH/put.err"
}

for bucket in locked plain; do
        lose "$bucket/la/mine"
        put_through "$bucket" mine ||
                die "$bucket: a create whose answer was lost fails: $(cat "$SCRATCH/put.err")"
        want=$(cat "$SCRATCH/put.out")
        got=$(s3_curl GET "/$bucket/la/mine" -f | sha256sum | cut -d' ' -f1)
        [ "$got" = "$want" ] || die "$bucket: the object holds $got, not what was written ($want)"
        if [ "$bucket" = locked ]; then
                n=$(s3_versions locked la/mine | grep -c '	version$' || true)
                [ "$n" = 1 ] || die "locked: $n versions of la/mine, not 1: $(s3_versions locked la/)"
        fi
        echo "$bucket: a create with its answer lost succeeds, one object with our bytes"

        # A real loser: someone else's object was there first; our answer is lost as well.
        printf 'earlier writer\n' | s3_curl PUT "/$bucket/la/theirs" --data-binary @- -f >/dev/null
        lose "$bucket/la/theirs"
        if put_through "$bucket" theirs; then
                die "$bucket: a create over an existing object succeeded"
        fi
        grep -q 'File exists' "$SCRATCH/put.err" ||
                die "$bucket: the losing create fails otherwise: $(cat "$SCRATCH/put.err")"
        got=$(s3_curl GET "/$bucket/la/theirs" -f)
        [ "$got" = "earlier writer" ] || die "$bucket: the earlier object now holds '$got'"
        if [ "$bucket" = locked ]; then
                n=$(s3_versions locked la/theirs | grep -c '	version$' || true)
                [ "$n" = 1 ] || die "locked: the loser left its version: $(s3_versions locked la/)"
        fi
        echo "$bucket: a create that lost still gets EEXIST, the earlier object untouched"
done
