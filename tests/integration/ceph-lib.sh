# Sourced after lib.sh by the tests that need an S3 store: a real single-node Ceph (Debian's
# ceph-mon, ceph-osd on memstore, radosgw with the beast frontend) on 127.0.0.1, started here as
# Ceph's own vstart.sh does by hand, and a radosgw user. No fake S3. It is up in about a second
# and a half and holds about 135 MiB (docs/s3.md, "How the tests start a real Ceph").
# Set CEPH_DIR (its configuration, data, logs and sockets; under $SCRATCH) before sourcing, from
# the test's main shell (not a subshell: the daemons are that shell's children), and call
# ceph_finish from the test's EXIT trap. CEPH_MEMSTORE_BYTES sizes the OSD (default 2 GiB).
# The daemons run in the foreground as the shell's children with a parent-death signal: however
# the test ends (its EXIT trap, a failure, ctest killing it at its timeout), they end with it.
# So `wait` with no pid would wait for them: wait for a pid.
# Provides: S3_ENDPOINT (http://127.0.0.1:PORT), S3_ACCESS, S3_SECRET, S3_CREDS (a credentials
# file as yunbak reads it), CEPH_CONF, CEPH_PIDS, CEPH_RGW_PID;
# s3_curl METHOD PATH [curl args] (a request signed as the test's user),
# s3_bucket NAME [lock] (a bucket, with Object Lock if "lock"), s3_keys BUCKET [PREFIX],
# s3_versions BUCKET [PREFIX], s3_uploads BUCKET (the pending multipart uploads),
# s3_admin (radosgw-admin),
# ceph_rgw_stop and ceph_rgw_start (radosgw down and up again on the same port),
# ceph_free_port, ceph_finish.
: "${CEPH_DIR:?set CEPH_DIR before sourcing ceph-lib.sh}"

ceph_skip() {
        echo "${TEST_NAME:-ceph}: skipped: $*" >&2
        exit 77
}
for _b in ceph-mon ceph-osd radosgw radosgw-admin monmaptool osdmaptool ceph; do
        command -v "$_b" >/dev/null ||
                ceph_skip "no $_b (packages ceph-mon, ceph-osd, radosgw, ceph-common:" \
                        "scripts/install-deps.sh installs them)"
done
command -v setpriv >/dev/null ||
        ceph_skip "no setpriv (util-linux) to tie the Ceph daemons' lives to the test's"
command -v python3 >/dev/null || ceph_skip "no python3 (the ceph command needs it)"

# ceph_finish: kills every daemon in CEPH_PIDS (SIGKILL: the memstore OSD keeps nothing worth a
# clean shutdown, which takes seconds) and waits until each is gone. Safe to call twice.
ceph_finish() {
        for _p in ${CEPH_PIDS:-}; do
                kill -9 "$_p" 2>/dev/null || true
        done
        for _p in ${CEPH_PIDS:-}; do
                # Our children are reaped; a daemon that forked away (a test's own extra
                # radosgw) is polled until the kernel has it gone.
                wait "$_p" 2>/dev/null || true
                _i=0
                while kill -0 "$_p" 2>/dev/null && [ "$_i" -lt 200 ]; do
                        _i=$((_i + 1))
                        sleep 0.05
                done
        done
        CEPH_PIDS=
        CEPH_RGW_PID=
}

# ceph_free_port [N]: N (default 1) distinct free TCP ports on 127.0.0.1, from the kernel, one a
# line. They come from the ephemeral range; the daemons' own ports (ms bind port) lie below it.
ceph_free_port() {
        python3 -c 'import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss:
    s.bind(("127.0.0.1", 0))
print("\n".join(str(s.getsockname()[1]) for s in ss))' "${1:-1}"
}

# _ceph_fail DAEMON WHAT: names the daemon and what failed, shows its errors and the end of its
# log, ends every daemon and fails the test.
_ceph_fail() {
        echo "ceph-lib: $1: $2" >&2
        for _f in "$CEPH_DIR/log/$1.log" "$CEPH_DIR/log/$1.out"; do
                [ -s "$_f" ] || continue
                # Ceph writes its errors at level -1; a crash dump follows them in .out.
                if grep -aqE '^[^ ]+ [0-9a-f]+ +-1 ' "$_f"; then
                        echo "--- its errors in $_f:" >&2
                        grep -aE '^[^ ]+ [0-9a-f]+ +-1 ' "$_f" | tail -n 8 >&2
                fi
                case $_f in
                *.log)
                        echo "--- the last lines of $_f:" >&2
                        tail -n 15 "$_f" >&2
                        ;;
                esac
        done
        ceph_finish
        die "the test's Ceph did not start: $1: $2"
}

# _ceph_daemon NAME CMD...: runs CMD in the foreground as this shell's child, killed when this
# shell ends; its stdout and stderr go to log/NAME.out.
_ceph_daemon() {
        _n=$1
        shift
        setpriv --pdeathsig KILL "$@" -f >"$CEPH_DIR/log/$_n.out" 2>&1 &
        CEPH_PIDS="${CEPH_PIDS:-} $!"
        eval "_ceph_pid_$(echo "$_n" | tr -c 'a-z0-9\n' _)=$!"
}

# _ceph_alive: fails the test, naming the daemon, when one of ours has exited.
_ceph_alive() {
        for _n in mon.a osd.0 client.rgw; do
                eval "_p=\${_ceph_pid_$(echo "$_n" | tr -c 'a-z0-9\n' _):-}"
                [ -z "$_p" ] || kill -0 "$_p" 2>/dev/null || _ceph_fail "$_n" "exited during the start"
        done
}

_ports=$(ceph_free_port 2)
CEPH_MON_PORT=$(echo "$_ports" | sed -n 1p)
CEPH_RGW_PORT=$(echo "$_ports" | sed -n 2p)
CEPH_PIDS=
CEPH_RGW_PID=
_ceph_pid_mon_a=
_ceph_pid_osd_0=
_ceph_pid_client_rgw=
rm -rf "$CEPH_DIR/run" "$CEPH_DIR/log" "$CEPH_DIR/mon.a" "$CEPH_DIR/osd.0" "$CEPH_DIR/rgw"
mkdir -p "$CEPH_DIR/run" "$CEPH_DIR/log" "$CEPH_DIR/crash" "$CEPH_DIR/mon.a" "$CEPH_DIR/osd.0" \
        "$CEPH_DIR/rgw"
_fsid=$(cat /proc/sys/kernel/random/uuid)
CEPH_CONF=$CEPH_DIR/ceph.conf
# A client's first command can go out before the monitor's map told it the cluster's fsid, and
# the monitor refuses it ("wrong fsid"): an OSD that meets this at its start exits. So the OSD is
# put in the CRUSH map by the initial osdmap and sends no command of its own at start, and the
# one command sent here is tried again. paxos propose interval: every map change (each pool
# radosgw makes is several) is committed at once, not batched over a second.
cat >"$CEPH_CONF" <<EOF
[global]
fsid = $_fsid
monmap = $CEPH_DIR/monmap
mon initial members = a
ms bind msgr2 = false
ms bind ipv4 = true
ms bind port min = 6800
ms bind port max = 7568
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
run dir = $CEPH_DIR/run
admin socket = $CEPH_DIR/run/\$name.asok
log file = $CEPH_DIR/log/\$name.log
crash dir = $CEPH_DIR/crash
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 1
osd pool default pgp num = 1
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
[mon]
mon data = $CEPH_DIR/mon.a
mon data avail crit = 0
mon data avail warn = 0
paxos propose interval = 0.01
paxos min wait = 0.001
[osd]
osd data = $CEPH_DIR/osd.0
osd objectstore = memstore
memstore device bytes = ${CEPH_MEMSTORE_BYTES:-2147483648}
osd max object size = 134217728
osd class update on start = false
osd crush update on start = false
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$CEPH_RGW_PORT
rgw data = $CEPH_DIR/rgw
rgw enable usage log = false
rgw dns name = localhost
EOF

monmaptool -c "$CEPH_CONF" --create --fsid "$_fsid" --addv a "[v1:127.0.0.1:$CEPH_MON_PORT]" \
        "$CEPH_DIR/monmap" >"$CEPH_DIR/log/monmaptool.out" 2>&1 || _ceph_fail monmaptool "failed"
osdmaptool -c "$CEPH_CONF" --createsimple 1 "$CEPH_DIR/osdmap" >"$CEPH_DIR/log/osdmaptool.out" 2>&1 ||
        _ceph_fail osdmaptool "failed"
ceph-mon -c "$CEPH_CONF" -i a --mkfs --monmap "$CEPH_DIR/monmap" --osdmap "$CEPH_DIR/osdmap" \
        >"$CEPH_DIR/log/mon.a.out" 2>&1 || _ceph_fail mon.a "ceph-mon --mkfs failed"
_ceph_daemon mon.a ceph-mon -c "$CEPH_CONF" -i a
_osd_uuid=$(cat /proc/sys/kernel/random/uuid)
ceph-osd -c "$CEPH_CONF" -i 0 --mkfs --osd-uuid "$_osd_uuid" >"$CEPH_DIR/log/osd.0.out" 2>&1 ||
        _ceph_fail osd.0 "ceph-osd --mkfs failed"
# The initial osdmap has osd.0 in its CRUSH map but not yet in the cluster: this makes it so.
# Refused as "wrong fsid" (above), the same command again goes out with it (three tries). The
# ceph command says so in one of two ways: "wrong fsid", or, when the refused message was its
# first (asking for the commands the monitor knows), "EPERM: problem getting command
# descriptions" (the monitor's log: "handle_command on fsid 00000000-...").
_try=1
until _id=$(ceph -c "$CEPH_CONF" --connect-timeout 30 osd new "$_osd_uuid" 0 2>"$CEPH_DIR/log/osd-new.out"); do
        _ceph_alive
        _try=$((_try + 1))
        if [ "$_try" -gt 3 ] ||
                ! grep -Eq "wrong fsid|problem getting command descriptions" "$CEPH_DIR/log/osd-new.out"; then
                cat "$CEPH_DIR/log/osd-new.out" >&2
                _ceph_fail mon.a "'ceph osd new' failed"
        fi
done
[ "$_id" = 0 ] || _ceph_fail mon.a "the OSD got id $_id, not 0"
_ceph_daemon osd.0 ceph-osd -c "$CEPH_CONF" -i 0

S3_ENDPOINT=http://127.0.0.1:$CEPH_RGW_PORT

# ceph_rgw_start: starts radosgw (again) on CEPH_RGW_PORT and waits until it answers, at most a
# minute; CEPH_RGW_PID is its pid. At the first start only, a radosgw that exits at once is
# started again, twice at most: one whose port was taken since it was chosen (another test's
# connection) on a new port, one whose first command went out before it knew the cluster's fsid
# (see 'ceph osd new' above) as it was.
ceph_rgw_start() {
        _tries=${1:-3}
        _ceph_daemon client.rgw radosgw -c "$CEPH_CONF" -n client.rgw
        CEPH_RGW_PID=$_ceph_pid_client_rgw
        # radosgw answers once the OSD is up and its pools are made.
        _i=0
        until curl -s -o /dev/null --max-time 2 "$S3_ENDPOINT/"; do
                if [ "$_tries" -lt 3 ] && ! kill -0 "$CEPH_RGW_PID" 2>/dev/null; then
                        ceph_rgw_stop
                        if grep -aqs "failed to bind address 127.0.0.1:$CEPH_RGW_PORT" \
                                "$CEPH_DIR/log/client.rgw.log"; then
                                CEPH_RGW_PORT=$(ceph_free_port)
                                sed -i "s/^rgw frontends = .*/rgw frontends = beast endpoint=127.0.0.1:$CEPH_RGW_PORT/" \
                                        "$CEPH_CONF"
                                S3_ENDPOINT=http://127.0.0.1:$CEPH_RGW_PORT
                        fi
                        echo "ceph-lib: client.rgw exited at its start ($(grep -ahs -- ' -1 ' \
                                "$CEPH_DIR/log/client.rgw.log" "$CEPH_DIR/log/client.rgw.out" |
                                tail -n 1)); starting it again" >&2
                        mv "$CEPH_DIR/log/client.rgw.log" "$CEPH_DIR/log/client.rgw.log.$_tries" \
                                2>/dev/null || true
                        ceph_rgw_start $((_tries + 1))
                        return
                fi
                _ceph_alive
                _i=$((_i + 1))
                [ "$_i" -lt 1200 ] || _ceph_fail client.rgw "does not answer on $S3_ENDPOINT after a minute"
                sleep 0.05
        done
}

# ceph_rgw_stop: kills radosgw (SIGKILL, as a crash or a cut would end it) and waits until it is
# gone; the rest of Ceph stays up, and ceph_rgw_start brings it back on the same port.
ceph_rgw_stop() {
        [ -n "$CEPH_RGW_PID" ] || return 0
        kill -9 "$CEPH_RGW_PID" 2>/dev/null || true
        wait "$CEPH_RGW_PID" 2>/dev/null || true
        _rest=
        for _p in $CEPH_PIDS; do
                [ "$_p" = "$CEPH_RGW_PID" ] || _rest="$_rest $_p"
        done
        CEPH_PIDS=$_rest
        CEPH_RGW_PID=
        _ceph_pid_client_rgw=
}

ceph_rgw_start 1

s3_admin() { radosgw-admin -c "$CEPH_CONF" -n client.admin "$@"; }
S3_ACCESS=YBTESTACCESS$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
S3_SECRET=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
s3_admin user create --uid yunbak --display-name yunbak --access-key "$S3_ACCESS" \
        --secret-key "$S3_SECRET" >/dev/null 2>"$CEPH_DIR/log/user-create.out" ||
        _ceph_fail user-create "radosgw-admin user create failed"
S3_CREDS=$CEPH_DIR/credentials
_umask_was=$(umask)
umask 077
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$S3_ACCESS" "$S3_SECRET" >"$S3_CREDS"
umask "$_umask_was"

# s3_curl METHOD PATH [curl args...]: a request to PATH (/bucket/key?query, path style) signed as
# the test's user; prints the body. curl 7.88 signs with --aws-sigv4 but sends no
# x-amz-content-sha256, which radosgw needs: UNSIGNED-PAYLOAD is sent unless the arguments give
# one. Nor does it canonicalise the query: write it canonical (parameters sorted, "uploads=",
# values percent-encoded). Add -f to fail on an HTTP error, -i to see the status and headers.
s3_curl() {
        _m=$1
        _p=$2
        shift 2
        for _a in "$@"; do
                case $_a in
                [Xx]-[Aa][Mm][Zz]-[Cc]ontent-[Ss][Hh][Aa]256:*)
                        curl -sS --aws-sigv4 "aws:amz:default:s3" --user "$S3_ACCESS:$S3_SECRET" \
                                -X "$_m" "$@" "$S3_ENDPOINT$_p"
                        return
                        ;;
                esac
        done
        curl -sS --aws-sigv4 "aws:amz:default:s3" --user "$S3_ACCESS:$S3_SECRET" -X "$_m" \
                -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@" "$S3_ENDPOINT$_p"
}

# s3_bucket NAME [lock]: a new bucket (with Object Lock enabled, and so versioned, if "lock").
s3_bucket() {
        if [ "${2:-}" = lock ]; then
                s3_curl PUT "/$1" -H "x-amz-bucket-object-lock-enabled: true" -f >/dev/null
        else
                s3_curl PUT "/$1" -f >/dev/null
        fi
}

# _s3_xml TAG...: reads an S3 XML answer on stdin and prints, for each element of the first tag
# (Contents, Upload, ...), the text of its children named by the other tags, tab-separated, one
# element a line; the last line is "#next\tTOKEN" when the answer is truncated.
_s3_xml() {
        python3 -c 'import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.stdin).getroot()
ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
for e in root.iter(ns + sys.argv[1]):
    print("\t".join(e.findtext(ns + t, "") for t in sys.argv[2:]))
if root.findtext(ns + "IsTruncated") == "true":
    print("#next\t" + (root.findtext(ns + "NextContinuationToken") or ""))' "$@"
}

# _s3_enc TEXT: TEXT percent-encoded as SigV4 wants a query value.
_s3_enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe="-_.~"))' "$1"; }

# s3_keys BUCKET [PREFIX]: every key in BUCKET under PREFIX (current versions), one a line, in
# S3's order, asked S3_KEYS_PAGE (default 1000) at a time; fails when the listing does.
s3_keys() {
        _q="&max-keys=${S3_KEYS_PAGE:-1000}"
        [ -z "${2:-}" ] || _q="$_q&prefix=$(_s3_enc "$2")"
        _tok=
        while :; do
                s3_curl GET "/$1?${_tok:+continuation-token=$(_s3_enc "$_tok")&}list-type=2$_q" \
                        -f >"$CEPH_DIR/list.xml" || return 1
                _s3_xml Contents Key <"$CEPH_DIR/list.xml" >"$CEPH_DIR/list.txt" || return 1
                grep -v '^#next	' "$CEPH_DIR/list.txt" || true
                _tok=$(sed -n 's/^#next	//p' "$CEPH_DIR/list.txt")
                [ -n "$_tok" ] || return 0
        done
}

# s3_versions BUCKET [PREFIX]: every version and delete marker in BUCKET under PREFIX,
# "KEY<tab>VERSION-ID<tab>version|marker" a line (at most 1000: the tests make few; more fails).
s3_versions() {
        _q=
        [ -z "${2:-}" ] || _q="&prefix=$(_s3_enc "$2")"
        s3_curl GET "/$1?max-keys=1000$_q&versions=" -f >"$CEPH_DIR/versions.xml" || return 1
        python3 -c 'import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.stdin).getroot()
ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
if root.findtext(ns + "IsTruncated") == "true":
    sys.exit("s3_versions: more than 1000 versions")
for e in root:
    kind = {ns + "Version": "version", ns + "DeleteMarker": "marker"}.get(e.tag)
    if kind:
        print(e.findtext(ns + "Key"), e.findtext(ns + "VersionId"), kind, sep="\t")' \
                <"$CEPH_DIR/versions.xml"
}

# s3_uploads BUCKET: the pending multipart uploads in BUCKET, "KEY<tab>UPLOAD-ID" a line (at most
# 1000: the tests make few).
s3_uploads() {
        s3_curl GET "/$1?uploads=" -f >"$CEPH_DIR/uploads.xml" || return 1
        _s3_xml Upload Key UploadId <"$CEPH_DIR/uploads.xml" | grep -v '^#next	' || true
}
