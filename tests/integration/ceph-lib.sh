# Sourced after lib.sh by the tests that need an S3 store: a real single-node Ceph (Debian's
# ceph-mon, ceph-osd on memstore, radosgw with the beast frontend) on 127.0.0.1, started here as
# Ceph's own vstart.sh does by hand, and a radosgw user. No fake S3.
# Set CEPH_DIR (its configuration, data, logs and sockets) before sourcing; call ceph_finish from
# the test's EXIT trap. CEPH_MEMSTORE_BYTES sizes the OSD (default 2 GiB).
# Provides: S3_ENDPOINT (http://127.0.0.1:PORT), S3_ACCESS, S3_SECRET, S3_CREDS (a credentials
# file as yunbak reads it), s3_curl (curl signed as that user: s3_curl METHOD PATH [curl args]),
# s3_bucket NAME [lock] (makes a bucket, with Object Lock if "lock"), s3_admin (radosgw-admin).
: "${CEPH_DIR:?set CEPH_DIR before sourcing ceph-lib.sh}"
mkdir -p "$CEPH_DIR"
CEPH_PIDS=

ceph_finish() {
        set +e
        for _p in $CEPH_PIDS; do
                kill "$_p" 2>/dev/null
        done
        for _p in $CEPH_PIDS; do
                # Not our children (the daemons fork away): wait for each to be gone.
                for _i in $(seq 1 100); do
                        kill -0 "$_p" 2>/dev/null || break
                        sleep 0.1
                done
                kill -9 "$_p" 2>/dev/null
        done
        CEPH_PIDS=
        set -e
}

ceph_skip() {
        echo "${TEST_NAME:-ceph}: skipped: $*" >&2
        exit 77
}
for _b in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph-authtool; do
        command -v "$_b" >/dev/null ||
                ceph_skip "no $_b (packages ceph-mon, ceph-osd, radosgw: scripts/install-deps.sh installs them)"
done

# A free TCP port on 127.0.0.1, from the kernel.
ceph_free_port() {
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

CEPH_MON_PORT=$(ceph_free_port)
CEPH_RGW_PORT=$(ceph_free_port)
_fsid=$(cat /proc/sys/kernel/random/uuid)
CEPH_CONF=$CEPH_DIR/ceph.conf
cat >"$CEPH_CONF" <<EOF
[global]
fsid = $_fsid
mon host = v1:127.0.0.1:$CEPH_MON_PORT
mon initial members = a
ms bind msgr2 = false
ms bind ipv4 = true
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
run dir = $CEPH_DIR/run
admin socket = $CEPH_DIR/run/\$name.asok
pid file = $CEPH_DIR/run/\$name.pid
log file = $CEPH_DIR/log/\$name.log
crash dir = $CEPH_DIR/crash
keyring = $CEPH_DIR/keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
ms bind port min = 20000
ms bind port max = 40000
[mon]
mon data = $CEPH_DIR/mon.a
mon data avail crit = 0
mon data avail warn = 0
[osd]
osd data = $CEPH_DIR/osd.0
osd objectstore = memstore
memstore device bytes = ${CEPH_MEMSTORE_BYTES:-2147483648}
osd max object size = 134217728
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$CEPH_RGW_PORT
rgw data = $CEPH_DIR/rgw
rgw enable usage log = false
rgw dns name = localhost
EOF
mkdir -p "$CEPH_DIR/run" "$CEPH_DIR/log" "$CEPH_DIR/crash" "$CEPH_DIR/mon.a" "$CEPH_DIR/osd.0" "$CEPH_DIR/rgw"

_ceph_fail() {
        echo "ceph: $*" >&2
        tail -n 30 "$CEPH_DIR"/log/*.log >&2 2>/dev/null || true
        ceph_finish
        die "the test's Ceph did not start: $*"
}

ceph-authtool --create-keyring "$CEPH_DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null ||
        _ceph_fail "ceph-authtool"
monmaptool --create --fsid "$_fsid" --addv a "[v1:127.0.0.1:$CEPH_MON_PORT]" "$CEPH_DIR/monmap" >/dev/null ||
        _ceph_fail "monmaptool"
ceph-mon -c "$CEPH_CONF" -i a --mkfs --monmap "$CEPH_DIR/monmap" >/dev/null 2>&1 || _ceph_fail "ceph-mon --mkfs"
ceph-mon -c "$CEPH_CONF" -i a || _ceph_fail "ceph-mon"
CEPH_PIDS="$(cat "$CEPH_DIR/run/mon.a.pid" 2>/dev/null || true)"

ceph_cmd() { ceph -c "$CEPH_CONF" --connect-timeout 20 "$@"; }
_osd_uuid=$(cat /proc/sys/kernel/random/uuid)
_id=$(ceph_cmd osd new "$_osd_uuid") || _ceph_fail "ceph osd new"
[ "$_id" = 0 ] || _ceph_fail "the OSD got id $_id, not 0"
ceph-osd -c "$CEPH_CONF" -i 0 --mkfs --osd-uuid "$_osd_uuid" >/dev/null 2>&1 || _ceph_fail "ceph-osd --mkfs"
ceph-osd -c "$CEPH_CONF" -i 0 || _ceph_fail "ceph-osd"
for _i in $(seq 1 600); do
        [ -s "$CEPH_DIR/run/osd.0.pid" ] && break
        sleep 0.05
done
CEPH_PIDS="$CEPH_PIDS $(cat "$CEPH_DIR/run/osd.0.pid")"
radosgw -c "$CEPH_CONF" -n client.rgw || _ceph_fail "radosgw"
for _i in $(seq 1 600); do
        [ -s "$CEPH_DIR/run/client.rgw.pid" ] && break
        sleep 0.05
done
CEPH_PIDS="$CEPH_PIDS $(cat "$CEPH_DIR/run/client.rgw.pid")"

S3_ENDPOINT=http://127.0.0.1:$CEPH_RGW_PORT
# radosgw answers once its pools exist and the OSD is up: wait for an answer, up to a minute.
_up=
for _i in $(seq 1 1200); do
        if curl -s -o /dev/null --max-time 2 "$S3_ENDPOINT/"; then
                _up=1
                break
        fi
        sleep 0.05
done
[ -n "$_up" ] || _ceph_fail "radosgw does not answer on $S3_ENDPOINT"

s3_admin() { radosgw-admin -c "$CEPH_CONF" -n client.admin "$@"; }
S3_ACCESS=YBTESTACCESS$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
S3_SECRET=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
s3_admin user create --uid yunbak --display-name yunbak --access-key "$S3_ACCESS" \
        --secret-key "$S3_SECRET" >/dev/null || _ceph_fail "radosgw-admin user create"
S3_CREDS=$CEPH_DIR/credentials
umask_was=$(umask)
umask 077
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$S3_ACCESS" "$S3_SECRET" >"$S3_CREDS"
umask "$umask_was"

# s3_curl METHOD PATH [curl args...]: a request signed as the test's user (path style). curl
# 7.88 does not send x-amz-content-sha256 itself: radosgw needs it, so it is sent here (the
# hash of an empty body; give -H for a body).
s3_curl() {
        _m=$1
        _p=$2
        shift 2
        curl -sS --aws-sigv4 "aws:amz:default:s3" --user "$S3_ACCESS:$S3_SECRET" -X "$_m" \
                -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
                "$@" "$S3_ENDPOINT$_p"
}

# s3_bucket NAME [lock]: a new bucket (with Object Lock enabled if "lock").
s3_bucket() {
        if [ "${2:-}" = lock ]; then
                s3_curl PUT "/$1" -H "x-amz-bucket-object-lock-enabled: true" -f >/dev/null
        else
                s3_curl PUT "/$1" -f >/dev/null
        fi
}
