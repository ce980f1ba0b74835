#!/bin/sh
# The S3 store's data safety against what others put into its bucket, on a real radosgw
# (ceph-lib.sh): a listed key with a ".." segment is never acted on (remove_tree leaves the
# object it points to alone, list skips it, with a warning naming it); a delete marker someone else adds does
# not hide an object from the store (stat, read, list still find it); remove_tree and unlink on a
# versioned bucket delete every version and marker, also of a key whose newest entry is a marker;
# an object kept by a legal hold under a marker is still listed after remove_tree failed on it,
# and stat says it is held; unlink (a lock's release) never deletes a version newer than the
# winner; a bucket with a default retention is refused at open, saying why; and at open, https://
# to a plain HTTP port, virtual-host style with an IP endpoint and an answer that never ends are
# each named for what they are.
# One Ceph for all of it (its start is about 12 s); the rest takes a few seconds.
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

run() { # yb-s3-check ARGS...: stdout in $SCRATCH/out, stderr in $SCRATCH/err, exit status in $rc
        rc=0
        yb-s3-check "$@" >"$SCRATCH/out" 2>"$SCRATCH/err" || rc=$?
}
put() { # BUCKET KEY TEXT: an object written by another client
        printf '%s' "$3" | s3_curl PUT "/$1/$2" --path-as-is --data-binary @- -f >/dev/null ||
                die "cannot put $1/$2"
}
get() { s3_curl GET "/$1/$2" --path-as-is -f; }

# --- 1. Dot segments --------------------------------------------------------------------------
for b in plain locked; do
        put "$b" t2/sys/snapshots/X/../../keep/victim hostile
        put "$b" t2/sys/keep/victim precious
        run rmtree "s3://$b/t2" sys/snapshots/X
        [ "$rc" = 0 ] || {
                cat "$SCRATCH/out" "$SCRATCH/err" >&2
                die "$b: remove_tree of a tree holding a '..' key failed"
        }
        [ "$(get "$b" t2/sys/keep/victim)" = precious ] ||
                die "$b: remove_tree deleted an object outside its tree through a '..' key"
        grep -q "t2/sys/snapshots/X/../../keep/victim.*skipped" "$SCRATCH/err" ||
                die "$b: no warning named the skipped key: $(cat "$SCRATCH/err")"
        s3_keys "$b" t2/ | grep -qx 't2/sys/snapshots/X/../../keep/victim' ||
                die "$b: the '..' key itself is gone"
        run list "s3://$b/t2" sys/snapshots/X
        ! grep -q '\.\.' "$SCRATCH/out" || die "$b: list gave '$(cat "$SCRATCH/out")' for a '..' key"
        grep -q "skipped" "$SCRATCH/err" || die "$b: list skipped the '..' key without a warning"
        # The store takes no path with a ".." segment from its callers either.
        run cat "s3://$b/t2" sys/snapshots/X/../../keep/victim
        [ "$(cat "$SCRATCH/out")" = EINVAL ] ||
                die "$b: reading a path with '..' gave '$(cat "$SCRATCH/out")', not EINVAL"
done

# --- 2. A delete marker someone else adds hides nothing from the store -------------------------
put locked dm/sys/data secret-data
s3_curl DELETE /locked/dm/sys/data -f || die "cannot add a delete marker"
run stat s3://locked/dm sys/data
[ "$(cat "$SCRATCH/out")" = "size 11" ] || die "stat under a marker: $(cat "$SCRATCH/out")"
run cat s3://locked/dm sys/data
[ "$(cat "$SCRATCH/out")" = secret-data ] || die "read under a marker: $(cat "$SCRATCH/out")"
run list s3://locked/dm sys
[ "$(cat "$SCRATCH/out")" = data ] || die "list under a marker: '$(cat "$SCRATCH/out")'"
run list s3://locked/dm ""
[ "$(cat "$SCRATCH/out")" = sys ] || die "list of the top under a marker: '$(cat "$SCRATCH/out")'"

# --- 3. remove_tree and unlink delete every version and marker ---------------------------------
put locked t1b/sys/snapshots/S1/data secret-data
s3_curl DELETE /locked/t1b/sys/snapshots/S1/data -f || die "cannot add a delete marker"
put locked t1b/sys/snapshots/S1/other visible
run rmtree s3://locked/t1b sys
[ "$rc" = 0 ] || die "remove_tree: $(cat "$SCRATCH/out" "$SCRATCH/err")"
left=$(s3_versions locked t1b/)
[ -z "$left" ] || die "remove_tree left versions or markers: $left"
put locked un/key secret-data
s3_curl DELETE /locked/un/key -f || die "cannot add a delete marker"
run unlink s3://locked/un key
[ "$(cat "$SCRATCH/out")" = unlinked ] || die "unlink under a marker: $(cat "$SCRATCH/out")"
left=$(s3_versions locked un/)
[ -z "$left" ] || die "unlink left versions or markers: $left"
run stat s3://locked/un key
[ "$(cat "$SCRATCH/out")" = ENOENT ] || die "stat after unlink: $(cat "$SCRATCH/out")"

# A legal hold under a marker: remove_tree fails on it, and list still shows what is left.
put locked lh/sys/held kept
body='<LegalHold xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>ON</Status></LegalHold>'
s3_curl PUT "/locked/lh/sys/held?legal-hold=" \
        -H "Content-MD5: $(printf %s "$body" | openssl md5 -binary | base64)" \
        -H "x-amz-content-sha256: $(printf %s "$body" | sha256sum | cut -d' ' -f1)" \
        --data-binary "$body" -f || die "cannot put a legal hold"
run stat s3://locked/lh sys/held
[ "$(cat "$SCRATCH/out")" = "size 4 held" ] || die "stat of a held object: $(cat "$SCRATCH/out")"
s3_curl DELETE /locked/lh/sys/held -f || die "cannot add a delete marker"
run rmtree s3://locked/lh sys
[ "$rc" != 0 ] || die "remove_tree of a held object succeeded"
run list s3://locked/lh sys
[ "$(cat "$SCRATCH/out")" = held ] || die "list after a failed remove_tree: '$(cat "$SCRATCH/out")'"

# --- 4. unlink (a lock's release) never deletes a version newer than the winner ----------------
put locked race/lock ours
put locked race/lock racer # a newer version: another host's create, not settled yet
s3_curl DELETE /locked/race/lock -f || die "cannot add a delete marker"
run unlink s3://locked/race lock
[ "$(cat "$SCRATCH/out")" = unlinked ] || die "unlink of the lock: $(cat "$SCRATCH/out")"
left=$(s3_versions locked race/ | cut -f1,3)
[ "$left" = "race/lock	version" ] || die "unlink left '$left', not the racer's version alone"
run cat s3://locked/race lock
[ "$(cat "$SCRATCH/out")" = racer ] || die "the racer's version reads '$(cat "$SCRATCH/out")'"

# --- 4b. A bucket with a default retention is refused at open ----------------------------------
s3_bucket lk7 lock
body='<ObjectLockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Days>1</Days></DefaultRetention></Rule></ObjectLockConfiguration>'
s3_curl PUT '/lk7?object-lock=' -H "Content-MD5: $(printf %s "$body" | openssl md5 -binary | base64)" \
        -H "x-amz-content-sha256: $(printf %s "$body" | sha256sum | cut -d' ' -f1)" \
        --data-binary "$body" -f || die "cannot set a default retention"
run open s3://lk7/city
[ "$rc" != 0 ] || die "a bucket with a default retention opened"
grep -q EPROTONOSUPPORT "$SCRATCH/out" || die "open: $(cat "$SCRATCH/out")"
grep -q "bucket lk7 has a default retention (COMPLIANCE, 1 day): yunbak's lock and config must stay deletable" "$SCRATCH/out" ||
        die "open says: $(cat "$SCRATCH/out")"

# --- 7/8. Messages at open that say what happened ---------------------------------------------
# https:// to radosgw's plain HTTP port: no TLS handshake, not an untrusted certificate.
S3_ENDPOINT="https://${S3_ENDPOINT#http://}" run open s3://plain/x
[ "$rc" != 0 ] && grep -q ECONNABORTED "$SCRATCH/out" &&
        grep -q "no TLS handshake with https://.* (is it http://?)" "$SCRATCH/out" ||
        die "https to a plain port: $(cat "$SCRATCH/out")"
# Virtual-host style with an IP endpoint: refused before anything is sent, saying why.
S3_STYLE=virtual run open s3://plain/x
[ "$rc" != 0 ] && grep -q EINVAL "$SCRATCH/out" &&
        grep -q "virtual-host style needs a DNS name for the endpoint" "$SCRATCH/out" ||
        die "virtual style with an IP: $(cat "$SCRATCH/out")"
# A server whose 200 answer never ends: refused at the answer's cap, and the message says so.
port=$(ceph_free_port)
python3 -c 'import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
open(sys.argv[2], "w").close()
chunk = b"<a>" * 20000
while True:
    c = s.accept()[0]
    try:
        c.recv(65536)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nTransfer-Encoding: chunked\r\n\r\n")
        while True:
            c.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    except OSError:
        c.close()' "$port" "$SCRATCH/endless.up" &
endless=$!
wait_for "the endless server did not start" "[ -e '$SCRATCH/endless.up' ]"
S3_ENDPOINT=http://127.0.0.1:$port run open s3://plain/x
kill "$endless"
[ "$rc" != 0 ] && grep -q EBADMSG "$SCRATCH/out" &&
        grep -q "answer to the versioning query of bucket plain: the answer is over 16 MiB: not an S3 service" "$SCRATCH/out" ||
        die "an endless answer: $(cat "$SCRATCH/out")"
echo "s3-safety: ok"
