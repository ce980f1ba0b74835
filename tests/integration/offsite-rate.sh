#!/bin/sh
# An off-site copy over a slow link keeps to it and to its own limit: the sshd sits in a network
# namespace behind tc tbf at 8 Mbit/s. A copy with no limit of its own fills the link (it takes
# no less than the link allows and at most 10% more); a copy limited to 400 KiB/s (3.3 Mbit/s,
# under the link) takes no less than its limit allows and at most 10% more. What is timed is
# the copy's own account of its sending (the job's wall time also holds the read-back check,
# which goes the other way, unshaped).
. "$TESTS/integration/lib.sh"

SSH_DIR=$SCRATCH/ssh
finish() {
        set +e
        [ -z "$VETH" ] || tc qdisc del dev "$VETH" root 2>/dev/null
        ssh_finish
        cleanup
}
trap finish EXIT
trap 'exit 1' HUP INT TERM
. "$TESTS/integration/ssh-lib.sh"
[ "$MODE" = netns ] || skip "shaping the link needs a network namespace of its own (run as root)"
command -v tc >/dev/null || skip "no tc (package iproute2) to shape the link"
tc qdisc add dev "$VETH" root tbf rate 8mbit burst 16kb latency 100ms ||
        skip "tc cannot shape the veth here"

make_key sys
mkdir -p "$SCRATCH/src" "$SCRATCH/local" "$SCRATCH/off1" "$SCRATCH/off2"
head -c 6M /dev/urandom >"$SCRATCH/src/f.bin"
yunbak-agent backup --store "$SCRATCH/local" --system sys --public-key "$SCRATCH/keys/sys.pub" \
        --level full "$SCRATCH/src" >/dev/null
SIZE=$(du -cb "$SCRATCH/local/sys/snapshots"/*/* | tail -n 1 | cut -f1)

# timed DIR [options]: copies to DIR at the server; prints the seconds spent sending and the
# bytes sent, from the copy's JSON (send_seconds, bytes_sent).
timed() {
        dir=$1
        shift
        yunbak copy --store "$SCRATCH/local" --to "sftp://$ME@$ADDR:$PORT$dir" --system sys \
                --ssh-key "$SSH_DIR/client_key" --known-hosts "$SSH_DIR/known_hosts" --json "$@" \
                >"$SCRATCH/copy.json" 2>"$SCRATCH/copy.err" || {
                cat "$SCRATCH/copy.err" >&2
                die "the copy to $dir failed"
        }
        python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); print(o["send_seconds"], o["bytes_sent"])' \
                "$SCRATCH/copy.json"
}
# within SECONDS BYTES RATE WHAT: SECONDS is no less than BYTES at RATE (bytes/s) allow, less the
# burst of the limiter (at most a second's worth: of tbf, 16 KiB), and at most 10% more.
within() {
        python3 - "$@" <<'EOF' || die "$4 did not keep to its rate"
import sys
t, n, rate, what = float(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
ideal = n / rate
print(f"offsite-rate: {what}: {n} bytes in {t:.2f} s, {n / t / 1e6 * 8:.2f} Mbit/s; "
      f"the rate allows {ideal:.2f} s")
assert t >= ideal - 1.0, f"{what} went faster than its rate allows"
assert t <= ideal * 1.10, f"{what} took more than 10% longer than its rate allows"
EOF
}

set -- $(timed "$SCRATCH/off1")
# The link carries the SSH and TCP framing too: about 3% on top of the payload.
within "$1" "$2" "$((8000000 / 8 * 97 / 100))" "a copy over the 8 Mbit/s link"
set -- $(timed "$SCRATCH/off2" --bandwidth 400KiB/s)
within "$1" "$2" "$((400 * 1024))" "a copy limited to 400 KiB/s"
[ "$2" -ge "$SIZE" ] || die "the limited copy sent $2 bytes of $SIZE"
echo "offsite-rate: ok"
