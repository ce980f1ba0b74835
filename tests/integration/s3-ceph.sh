#!/bin/sh
# The real Ceph the S3 tests start (ceph-lib.sh), checked on its own: it serves S3 as the test's
# user (a bucket, objects, keys listed page by page, a pending multipart upload seen and
# aborted), radosgw stops and comes back on the same port with the data kept, its three daemons
# hold under 200 MiB; a test killed with SIGKILL (as ctest kills one at its timeout) takes its
# daemons with it; a start that fails names the daemon and shows its error, and leaves nothing
# running. Runs as root and, unprivileged, as nobody.
. "$TESTS/integration/lib.sh"

CEPH_DIR=$SCRATCH/ceph
CHILD=
finish() {
        [ -z "$CHILD" ] || kill -9 "$CHILD" 2>/dev/null || true
        ceph_finish
        cleanup
}
trap finish EXIT
trap 'exit 1' HUP INT TERM
. "$TESTS/integration/ceph-lib.sh"

# --- S3 as the test's user ------------------------------------------------------------------------
s3_bucket yb-lib
for k in a/1 a/2 a/3 a/sub/4 b/5; do
        printf 'body of %s' "$k" | s3_curl PUT "/yb-lib/$k" --data-binary @- -f >/dev/null
done
[ "$(s3_curl GET /yb-lib/a/sub/4 -f)" = "body of a/sub/4" ] || die "an object does not read back"
got=$(S3_KEYS_PAGE=2 s3_keys yb-lib a/ | tr '\n' ' ')
[ "$got" = "a/1 a/2 a/3 a/sub/4 " ] || die "s3_keys yb-lib a/ (2 a page) gave '$got'"
[ "$(s3_keys yb-lib | wc -l)" = 5 ] || die "s3_keys yb-lib does not give the 5 keys: $(s3_keys yb-lib)"
# The status and S3's code of a failed request are there to check.
s3_curl GET /yb-lib/no-such-key -i >"$SCRATCH/missing"
grep -q '^HTTP/1.1 404' "$SCRATCH/missing" && grep -q '<Code>NoSuchKey</Code>' "$SCRATCH/missing" ||
        die "a missing key does not answer 404 NoSuchKey: $(cat "$SCRATCH/missing")"
# A multipart upload started and left pending is listed, then aborted.
s3_curl POST "/yb-lib/big?uploads=" -f >"$SCRATCH/initiate"
upload=$(sed -n 's:.*<UploadId>\(.*\)</UploadId>.*:\1:p' "$SCRATCH/initiate")
[ -n "$upload" ] || die "no upload id in $(cat "$SCRATCH/initiate")"
[ "$(s3_uploads yb-lib)" = "$(printf 'big\t%s' "$upload")" ] ||
        die "s3_uploads does not list the pending upload: $(s3_uploads yb-lib)"
s3_curl DELETE "/yb-lib/big?uploadId=$(_s3_enc "$upload")" -f >/dev/null
[ -z "$(s3_uploads yb-lib)" ] || die "the aborted upload is still listed: $(s3_uploads yb-lib)"
# A bucket with Object Lock is versioned.
s3_bucket yb-lib-locked lock
s3_curl GET "/yb-lib-locked?versioning=" -f | grep -q '<Status>Enabled</Status>' ||
        die "a bucket made with Object Lock is not versioned"
# Two writes and a delete without a version id: two versions and a delete marker.
s3_curl PUT /yb-lib-locked/k -d one -f >/dev/null
s3_curl PUT /yb-lib-locked/k -d two -f >/dev/null
s3_curl DELETE /yb-lib-locked/k -f >/dev/null
got=$(s3_versions yb-lib-locked | cut -f1,3 | sort | tr '\t\n' ': ')
[ "$got" = "k:marker k:version k:version " ] || die "s3_versions yb-lib-locked gave '$got'"
[ -z "$(s3_keys yb-lib-locked)" ] || die "a deleted key is listed: $(s3_keys yb-lib-locked)"

# --- radosgw down and up again --------------------------------------------------------------------
ceph_rgw_stop
if curl -s -o /dev/null --max-time 5 "$S3_ENDPOINT/"; then
        die "radosgw still answers on $S3_ENDPOINT after ceph_rgw_stop"
fi
ceph_rgw_start
[ "$(s3_curl GET /yb-lib/a/1 -f)" = "body of a/1" ] || die "the data did not survive radosgw's restart"

rss=$(ps -o rss= -p "$(echo $CEPH_PIDS | tr ' ' ,)" | awk '{ s += $1 } END { print int(s / 1024) }')
echo "s3-ceph: the three daemons hold $rss MiB"
[ "$rss" -lt 200 ] || die "the test's Ceph holds $rss MiB, not under 200"

# --- A test killed with SIGKILL takes its Ceph with it ----------------------------------------------
# The child is a test of its own (lib.sh, ceph-lib.sh) that waits on a FIFO nobody writes to.
mkfifo "$SCRATCH/never"
mkdir "$SCRATCH/child-tmp"
TMPDIR=$SCRATCH/child-tmp TEST_NAME=s3-ceph-child sh -c '
        . "$TESTS/integration/lib.sh"
        CEPH_DIR=$SCRATCH/ceph
        . "$TESTS/integration/ceph-lib.sh"
        echo "$CEPH_PIDS" >"$1.new" && mv "$1.new" "$1"
        read _never <"$2"' child "$SCRATCH/child.pids" "$SCRATCH/never" >"$SCRATCH/child.out" 2>&1 &
CHILD=$!
wait_for "the child's Ceph did not start: $(cat "$SCRATCH/child.out")" \
        "[ -s '$SCRATCH/child.pids' ] || ! kill -0 $CHILD 2>/dev/null"
[ -s "$SCRATCH/child.pids" ] || die "the child's Ceph did not start: $(cat "$SCRATCH/child.out")"
child_pids=$(cat "$SCRATCH/child.pids")
[ "$(echo $child_pids | wc -w)" = 3 ] || die "the child has not three daemons: $child_pids"
kill -9 "$CHILD"
wait "$CHILD" 2>/dev/null || true
CHILD=
alive() { # one of the child's daemons still runs (a zombie not yet reaped by init is gone)
        for p in $child_pids; do
                s=$(ps -o stat= -p "$p") || continue
                case $s in
                Z*) ;;
                *) return 0 ;;
                esac
        done
        return 1
}
wait_for "the daemons of a test killed with SIGKILL still run (pids $child_pids)" "! alive"

# --- A start that fails names the daemon, shows its error, and leaves nothing running ----------------
mkdir "$SCRATCH/fake"
cat >"$SCRATCH/fake/radosgw" <<'EOF'
#!/bin/sh
echo "2026-12-06T20:19:25.098+0000 7f34bdb39e40 -1 radosgw of the test: a start that fails" >&2
exit 1
EOF
chmod +x "$SCRATCH/fake/radosgw"
set +e
TMPDIR=$SCRATCH/child-tmp TEST_NAME=s3-ceph-failing PATH="$SCRATCH/fake:$PATH" sh -c '
        . "$TESTS/integration/lib.sh"
        CEPH_DIR=$SCRATCH/ceph
        trap "ceph_finish; cleanup" EXIT
        . "$TESTS/integration/ceph-lib.sh"
        echo "started although radosgw cannot"' >"$SCRATCH/failing.out" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || die "a failed start exits $rc, not 1: $(cat "$SCRATCH/failing.out")"
grep -q "^ceph-lib: client.rgw: exited during the start" "$SCRATCH/failing.out" &&
        grep -q -- "-1 radosgw of the test: a start that fails" "$SCRATCH/failing.out" &&
        grep -q "FAIL: the test's Ceph did not start: client.rgw" "$SCRATCH/failing.out" ||
        die "a failed start does not name radosgw with its error: $(cat "$SCRATCH/failing.out")"
left=$(pgrep -f "$SCRATCH/child-tmp/yb-it-s3-ceph-failing" || true)
[ -z "$left" ] || die "a failed start left daemons running: $(ps -o pid,cmd -p "$(echo $left | tr ' ' ,)")"
echo "s3-ceph: ok"
