#!/bin/sh
# yunbakd's off-site copy to an SFTP store (a real sshd in its own network namespace), cut by
# SIGKILL of yunbakd mid-copy 10 times: after each cut no partial snapshot is listed off-site;
# each restart resumes the copy by itself (trigger "resume"); over all runs the bytes that
# crossed the link stay within 1.1x of the snapshot's size; the off-site repository then
# verifies key-less and restores byte for byte on its own.
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/daemon-lib.sh"

SSH_DIR=$SCRATCH/ssh
YUNBAKD_PID=
finish() {
        set +e
        [ -z "$YUNBAKD_PID" ] || {
                kill -KILL "$YUNBAKD_PID" 2>/dev/null
                wait "$YUNBAKD_PID" 2>/dev/null
        }
        ssh_finish
        cleanup
}
trap finish EXIT
trap 'exit 1' HUP INT TERM
. "$TESTS/integration/ssh-lib.sh"
[ "$MODE" = netns ] || skip "counting what crosses the link needs a network namespace of its own (run as root)"

mkdir -p "$D/offsite"
URL="sftp://$ME@$ADDR:$PORT$D/offsite"
daemon_config
python3 - "$D/yunbakd.yaml" "$URL" "$SSH_DIR" <<'PY'
import sys
p, url, ssh = sys.argv[1:]
s = open(p).read()
entry = f"""stores:
  offsite:
    url: {url}
    ssh_key: {ssh}/client_key
    known_hosts: {ssh}/known_hosts
    bandwidth: 4MiB/s
"""
open(p, "w").write(s.replace("stores:\n", entry, 1))
PY
daemon_system sys1 人社局 "2099-01-01 02:00 UTC" "2099-01-01 02:00 UTC" "tier3:
  store: offsite
  on_request: true
  approval: automatic"
# 128 MiB of random bytes: ten cuts lose little (a killed process's socket is closed by the
# kernel, which still delivers what it holds).
head -c 128M /dev/urandom >"$D/trees/sys1/data/random.bin"
export YUNBAK_SOCKET="$SOCK"
start_yunbakd
yunbak backup now --system sys1 --level full --wait >/dev/null
SNAP=$(ls "$D/store/sys1/snapshots")
SIZE=$(du -cb "$D/store/sys1/snapshots/$SNAP"/* | tail -n 1 | cut -f1)
TX0=$(cat "/sys/class/net/$VETH/statistics/tx_bytes")
yunbak offsite request --system sys1 --reason "drill" >/dev/null

# copied: the bytes under the copy's working directory at the server.
copied() {
        du -cb "$D/offsite/sys1/tmp"/copy-* 2>/dev/null | tail -n 1 | cut -f1 || echo 0
}
k=1
while [ $k -le 10 ]; do
        goal=$(($(copied) + 2000000))
        i=0
        until [ "$(copied)" -ge "$goal" ]; do
                [ ! -d "$D/offsite/sys1/snapshots/$SNAP" ] || die "cut $k: the copy ended before it was cut"
                i=$((i + 1))
                [ $i -lt 600 ] || die "cut $k: no progress off-site within 60 s: $(tail -5 "$D/yunbakd.log")"
                sleep 0.1
        done
        kill -KILL "$YUNBAKD_PID"
        wait "$YUNBAKD_PID" 2>/dev/null || true
        YUNBAKD_PID=
        [ ! -e "$D/offsite/sys1/snapshots/$SNAP" ] || die "cut $k: a snapshot is listed off-site"
        start_yunbakd
        k=$((k + 1))
done

# The last restart goes on to the end by itself.
i=0
until [ -f "$D/offsite/sys1/snapshots/$SNAP/header" ]; do
        i=$((i + 1))
        [ $i -lt 1200 ] || die "the copy did not complete within 120 s of the last restart"
        sleep 0.1
done
i=0
until [ "$(sql "SELECT count(*) FROM jobs WHERE tier = 3 AND state = 'succeeded'")" = 1 ]; do
        i=$((i + 1))
        [ $i -lt 300 ] || die "no copy job succeeded: $(sql "SELECT id, trigger, state, error FROM jobs WHERE tier = 3")"
        sleep 0.1
done
resumes=$(sql "SELECT count(*) FROM jobs WHERE tier = 3 AND trigger = 'resume'")
[ "$resumes" -ge 10 ] || die "only $resumes copies were resumed at start: $(sql "SELECT id, trigger, state FROM jobs WHERE tier = 3")"
TX=$(($(cat "/sys/class/net/$VETH/statistics/tx_bytes") - TX0))
python3 - "$SIZE" "$TX" <<'EOF' || die "too much was sent again"
import sys
size, tx = int(sys.argv[1]), int(sys.argv[2])
print(f"daemon-offsite-kill: {size} bytes of snapshot, {tx} bytes crossed the link over 11 runs "
      f"of yunbakd ({tx / size:.3f}x)")
assert tx <= 1.1 * size
EOF
stop_yunbakd
YUNBAKD_PID=
yunbak verify --store "$URL" --system sys1 --ssh-key "$SSH_DIR/client_key" \
        --known-hosts "$SSH_DIR/known_hosts" >/dev/null || die "the off-site repository does not verify"
yunbak restore --store "$URL" --system sys1 --ssh-key "$SSH_DIR/client_key" \
        --known-hosts "$SSH_DIR/known_hosts" --key "$D/keys/sys1.key" \
        --passphrase-file "$SCRATCH/pass" --target "$SCRATCH/out" >/dev/null ||
        die "the off-site repository does not restore"
[ "$(tree_digest "$SCRATCH/out/data")" = "$(tree_digest "$D/trees/sys1/data")" ] ||
        die "the restore from off-site differs from the source"
echo "daemon-offsite-kill: ok"
