#!/bin/sh
# An off-site copy to an SFTP store cut again and again (docs/format.md, "Copies"): a real sshd in
# its own network namespace, the link black-holed by iptables DROP mid-file 10 times and the
# copying process SIGKILLed mid-file 5 times. Each cut run fails (exit 6 naming the store, within
# its timeout, for a DROP); no partial snapshot is ever listed off-site; the next run resumes;
# over all runs the bytes that crossed the link stay within 1.1x of the snapshots' size; the
# off-site repository then verifies key-less and restores byte for byte on its own.
. "$TESTS/integration/lib.sh"

SSH_DIR=$SCRATCH/ssh
COPY_PID=
finish() {
        set +e
        [ -z "$COPY_PID" ] || kill -9 "$COPY_PID" 2>/dev/null
        [ -z "$NS" ] || ip netns exec "$NS" iptables -F INPUT 2>/dev/null
        ssh_finish
        cleanup
}
trap finish EXIT
trap 'exit 1' HUP INT TERM
. "$TESTS/integration/ssh-lib.sh"
need_link_cut

# --- A full and an incremental of incompressible data: 384 MiB to copy -----------------------
# What a cut loses is what was on the wire when the link went black: at most the SFTP store's
# window of writes in flight (2 MiB, docs/format.md "SFTP stores"), sent again by the next run.
# Ten of those (about 21 MB, measured) must fit in a tenth of the snapshots, with the framing
# (about 2%).
make_key sys
mkdir -p "$SCRATCH/src/data" "$SCRATCH/local" "$SCRATCH/offsite"
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do head -c 30M /dev/urandom >"$SCRATCH/src/data/f$i.bin"; done
backup() {
        yunbak-agent backup --store "$SCRATCH/local" --system sys \
                --public-key "$SCRATCH/keys/sys.pub" --level "$1" "$SCRATCH/src/data" >/dev/null
}
backup full
head -c 24M /dev/urandom >"$SCRATCH/src/data/f13.bin"
backup incremental
# The incremental by its level, not by sorting ids: two snapshots of the same second sort by
# their random suffix.
INCR=$(yunbak snapshots --store "$SCRATCH/local" --system sys --json |
        python3 -c 'import json,sys; print(next(s["id"] for s in json.load(sys.stdin) if s["level"] == "incremental"))')
SIZE=$(du -cb "$SCRATCH/local/sys/snapshots"/*/* | tail -n 1 | cut -f1)
[ "$SIZE" -gt $((380 * 1048576)) ] || die "the snapshots hold only $SIZE bytes"
URL="sftp://$ME@$ADDR:$PORT$SCRATCH/offsite"
OFF=$SCRATCH/offsite/sys

# copy NAME [options]: one run of yunbak copy in the background; its JSON in $SCRATCH/NAME.json.
copy() {
        name=$1
        shift
        yunbak copy --store "$SCRATCH/local" --to "$URL" --system sys --snapshot "$INCR" \
                --ssh-key "$SSH_DIR/client_key" --known-hosts "$SSH_DIR/known_hosts" \
                --store-timeout 3s --bandwidth 16MiB/s --json "$@" \
                >"$SCRATCH/$name.json" 2>"$SCRATCH/$name.err" &
        COPY_PID=$!
}
# copied: the bytes under the copy's working directories at the server.
copied() {
        du -cb "$OFF"/tmp/copy-* 2>/dev/null | tail -n 1 | cut -f1 || echo 0
}
# wait_copied N: until N more bytes than now arrived (bounded: 60 s).
wait_copied() {
        goal=$(($(copied) + $1))
        i=0
        until [ "$(copied)" -ge "$goal" ]; do
                kill -0 "$COPY_PID" 2>/dev/null || {
                        cat "$SCRATCH/$name.err" "$SCRATCH/$name.json" >&2
                        ls -lR "$OFF" >&2
                        die "$name ended before it was cut"
                }
                i=$((i + 1))
                [ $i -lt 600 ] || die "$name: no progress within 60 s"
                sleep 0.1
        done
}
# no_partial: nothing under snapshots/ off-site that is not a whole, committed snapshot.
no_partial() {
        [ -d "$OFF/snapshots" ] || return 0
        for s in "$OFF"/snapshots/*; do
                [ -e "$s" ] || continue
                [ -f "$s/header" ] || die "$1: a snapshot without its header is listed off-site: $s"
        done
        yunbak snapshots --store "$URL" --system sys --ssh-key "$SSH_DIR/client_key" \
                --known-hosts "$SSH_DIR/known_hosts" >"$SCRATCH/list" 2>&1 ||
                die "$1: the off-site snapshots cannot be listed: $(cat "$SCRATCH/list")"
        ! grep -qi damaged "$SCRATCH/list" || die "$1: a damaged snapshot is listed off-site"
}

TX0=$(cat "/sys/class/net/$VETH/statistics/tx_bytes")

# --- 10 cuts by iptables DROP, about 6 MB further each time --------------------------------
k=1
while [ $k -le 10 ]; do
        copy "drop$k"
        wait_copied 6000000
        ip netns exec "$NS" iptables -A INPUT -p tcp --dport "$PORT" -j DROP
        # Every wait is bounded by the store's timeout (3 s): the run must end well within 20 s.
        i=0
        while kill -0 "$COPY_PID" 2>/dev/null; do
                i=$((i + 1))
                [ $i -lt 200 ] || die "drop$k: the copy still waits 20 s after the link went black"
                sleep 0.1
        done
        set +e
        wait "$COPY_PID"
        code=$?
        set -e
        COPY_PID=
        ip netns exec "$NS" iptables -F INPUT
        [ "$code" -eq 6 ] || {
                cat "$SCRATCH/drop$k.err" >&2
                die "drop$k: exit $code, not 6"
        }
        grep -q "$ADDR" "$SCRATCH/drop$k.err" || {
                cat "$SCRATCH/drop$k.err" >&2
                die "drop$k: the message does not name the store"
        }
        no_partial "drop$k"
        k=$((k + 1))
done

# --- 5 cuts by SIGKILL of the copying process -------------------------------------------------
k=1
while [ $k -le 5 ]; do
        copy "kill$k"
        wait_copied 3000000
        kill -9 "$COPY_PID"
        wait "$COPY_PID" 2>/dev/null || true
        COPY_PID=
        no_partial "kill$k"
        k=$((k + 1))
done

# --- The last run completes, sending only what is missing --------------------------------------
copy last
wait "$COPY_PID" || {
        cat "$SCRATCH/last.err" >&2
        die "the last copy failed"
}
COPY_PID=
TX=$(($(cat "/sys/class/net/$VETH/statistics/tx_bytes") - TX0))
python3 - "$SCRATCH" "$SIZE" "$TX" <<'EOF' || die "too much was sent again"
import json, sys
d, size, tx = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
import glob
last = json.load(open(f"{d}/last.json"))
runs = {f.split("/")[-1]: json.load(open(f)) for f in glob.glob(f"{d}/*.json") if open(f).read().strip()}
engine = sum(v.get("bytes_sent", 0) for v in runs.values())
print(f"offsite-cut: the copies counted {engine} bytes sent ({engine / size:.3f}x)")
assert last["ok"] and last["snapshots_copied"] + last["snapshots_present"] >= 1, last
assert last["bytes_reused"] > 0, "the last run resumed nothing: %r" % last
print(f"offsite-cut: {size} bytes of snapshots, {tx} bytes crossed the link in 16 runs "
      f"({tx / size:.3f}x); the last run sent {last['bytes_sent']}, kept {last['bytes_reused']}")
assert tx <= 1.1 * size, f"{tx} bytes crossed the link for {size} bytes of snapshots"
EOF
[ ! -e "$OFF/lock" ] || die "the off-site lock was left behind"
no_partial last
ls "$OFF/snapshots" | sort >"$SCRATCH/off.ids"
ls "$SCRATCH/local/sys/snapshots" | sort >"$SCRATCH/local.ids"
cmp -s "$SCRATCH/off.ids" "$SCRATCH/local.ids" || die "off-site holds other snapshots than the source"
for s in $(cat "$SCRATCH/local.ids"); do
        for f in "$SCRATCH/local/sys/snapshots/$s"/*; do
                cmp -s "$f" "$OFF/snapshots/$s/$(basename "$f")" || die "$s/$(basename "$f") differs off-site"
        done
done
yunbak verify --store "$URL" --system sys --ssh-key "$SSH_DIR/client_key" \
        --known-hosts "$SSH_DIR/known_hosts" >/dev/null || die "the off-site repository does not verify"
yunbak restore --store "$URL" --system sys --ssh-key "$SSH_DIR/client_key" \
        --known-hosts "$SSH_DIR/known_hosts" --key "$SCRATCH/keys/sys.key" \
        --passphrase-file "$SCRATCH/pass" --target "$SCRATCH/out" >/dev/null ||
        die "the off-site repository does not restore"
[ "$(tree_digest "$SCRATCH/out/data")" = "$(tree_digest "$SCRATCH/src/data")" ] ||
        die "the restore from off-site differs from the source"
echo "offsite-cut: ok"
