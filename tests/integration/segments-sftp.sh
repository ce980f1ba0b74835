#!/bin/sh
# Segment chains read over SFTP (a real OpenSSH sshd, in its own network namespace as root, on
# 127.0.0.1 otherwise: ssh-lib.sh): `yunbak snapshots` lists the same chains and segments as from
# the directory itself, and `yunbak verify` checks them the same way, the new ones alone too,
# naming a damaged segment and file.
. "$TESTS/integration/lib.sh"

SSH_DIR=$SCRATCH/ssh
finish() {
        ssh_finish
        cleanup
}
trap finish EXIT
trap 'exit 1' HUP INT TERM
. "$TESTS/integration/ssh-lib.sh"

make_key hr
mkdir -p "$SCRATCH/store"
# 2026-12-06T08:00:00Z: 2 hours of 30 segments, a new chain every 40.
yb-seggen "$SCRATCH/store" hr "$SCRATCH/keys/hr.pub" "$SCRATCH/agent-state" 1796544000 2 30 40 >"$SCRATCH/roots"
R2=$(sed -n 2p "$SCRATCH/roots" | awk '{print $2}')
STORE="sftp://$ME@$ADDR:$PORT$SCRATCH/store"
SSHO="--ssh-key $SSH_DIR/client_key --known-hosts $SSH_DIR/known_hosts"

for args in "" "--json" "--segments $R2" "--segments $R2 --json"; do
        # shellcheck disable=SC2086
        yunbak snapshots --store "$SCRATCH/store" --system hr $args >"$SCRATCH/local.out"
        # shellcheck disable=SC2086
        yunbak snapshots --store "$STORE" $SSHO --system hr $args >"$SCRATCH/sftp.out" ||
                die "snapshots $args over SFTP failed"
        cmp -s "$SCRATCH/local.out" "$SCRATCH/sftp.out" || {
                diff "$SCRATCH/local.out" "$SCRATCH/sftp.out" >&2
                die "snapshots $args differs over SFTP ($MODE)"
        }
done

# shellcheck disable=SC2086
expect_exit 0 yunbak verify --store "$STORE" $SSHO --system hr
grep -q "^60 segments checked in 2 chains, 0 damaged" "$SCRATCH/stdout" || die "verify over SFTP: $(cat "$SCRATCH/stdout")"

SEG15=$(yunbak snapshots --store "$SCRATCH/store" --system hr --segments "$R2" | awk '$2 == 15 {print $1}')
VOL=$(find "$SCRATCH/store/hr/segments/$R2" -path "*/$SEG15/vol-000001")
flip_byte "$VOL" 40
# shellcheck disable=SC2086
expect_exit 5 yunbak verify --store "$STORE" $SSHO --system hr --chain "$R2" --since-seq 14
grep -q "^DAMAGED  segment $SEG15/vol-000001: content does not match" "$SCRATCH/stdout" || die "verify over SFTP: $(cat "$SCRATCH/stdout")"
grep -q "^DAMAGED  chain $R2  sound through seq 14 only" "$SCRATCH/stdout" || die "verify over SFTP: $(cat "$SCRATCH/stdout")"
# shellcheck disable=SC2086
expect_exit 0 yunbak verify --store "$STORE" $SSHO --system hr --chain "$R2" --since-seq 16
echo "segments-sftp: ok ($MODE)"
