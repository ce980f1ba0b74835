#!/bin/sh
# An SFTP store on a real OpenSSH sshd (internal-sftp), in its own network namespace over veth as
# root (on 127.0.0.1 otherwise, said in the output; see ssh-lib.sh). yunbak-agent backs up
# straight to it (full, then an incremental after a change); yunbak lists, verifies, restores
# (byte for byte, treedigest.py) and prunes from it. A host key that known_hosts lacks or that
# differs from it is refused with the host, the file and the SHA256 fingerprint, and nothing is
# written. The store's guarantees on the server itself (CREAT|EXCL, a rename that never
# replaces, no operation through a symlink) are checked by yb-sftp-check; a symlink planted in
# the store pointing outside it stops a backup before anything is written there. A read-only
# SFTP account (internal-sftp -R, on a second port) can list, verify and restore, and a backup
# there fails without writing.
. "$TESTS/integration/lib.sh"

SSH_DIR=$SCRATCH/ssh
finish() {
        ssh_finish
        cleanup
}
trap finish EXIT
trap 'exit 1' HUP INT TERM
ssh_extra_config() {
        if [ "$MODE" = netns ]; then RO_PORT=2224; else RO_PORT=$(free_port); fi
        printf 'ListenAddress %s:%s\nMatch LocalPort %s\n  ForceCommand internal-sftp -R\n' \
                "$ADDR" "$RO_PORT" "$RO_PORT"
}
. "$TESTS/integration/ssh-lib.sh"
RO_PORT=$(sed -n 's/^Match LocalPort //p' "$SSH_DIR/sshd_config")

SRC="$SCRATCH/src/app"
mkdir -p "$SCRATCH/src" "$SCRATCH/store" "$SCRATCH/empty"
make_rich_tree "$SRC"
age_recent "$SRC"
make_key hr
STORE="sftp://$ME@$ADDR:$PORT$SCRATCH/store"
SSHO="--ssh-key $SSH_DIR/client_key --known-hosts $SSH_DIR/known_hosts"

backup() { # LEVEL NAME [STORE [SSH OPTIONS]]
        # shellcheck disable=SC2086
        yunbak-agent backup --store "${3:-$STORE}" ${4:-$SSHO} --system hr \
                --public-key "$SCRATCH/keys/hr.pub" --level "$1" --json "$SRC" >"$SCRATCH/$2.json"
}
snap_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot"])' "$SCRATCH/$1.json"; }
restore_and_compare() { # SNAPSHOT DIGEST-FILE
        rm -rf "$SCRATCH/out"
        # shellcheck disable=SC2086
        yunbak restore --store "$STORE" $SSHO --system hr --key "$SCRATCH/keys/hr.key" \
                --passphrase-file "$SCRATCH/pass" --snapshot "$1" --target "$SCRATCH/out" >/dev/null
        tree_digest "$SCRATCH/out/app" >"$SCRATCH/got.digest"
        diff -u "$2" "$SCRATCH/got.digest" >&2 || die "snapshot $1 does not restore to its tree"
}

# --- Tier 1 straight to the SFTP store -------------------------------------------------------
backup full full
FULL=$(snap_of full)
tree_digest "$SRC" >"$SCRATCH/full.digest"
# The repository is where the URL says, on the server's disk.
[ -f "$SCRATCH/store/hr/snapshots/$FULL/header" ] || die "no snapshot in the server's directory"

printf 'CHANGED PAGE' | dd of="$SRC/data/random.bin" bs=4096 seek=20 conv=notrunc 2>/dev/null
printf 'fresh' >"$SRC/data/new-file"
age_recent "$SRC"
backup incremental incr
INCR=$(snap_of incr)
tree_digest "$SRC" >"$SCRATCH/incr.digest"
python3 - "$SCRATCH/incr.json" "$FULL" <<'PY' || die "the incremental is not built on the full"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["parent"] == sys.argv[2], j
PY

# shellcheck disable=SC2086
yunbak snapshots --store "$STORE" $SSHO --system hr >"$SCRATCH/list"
grep -q "^$FULL " "$SCRATCH/list" && grep -q "^$INCR " "$SCRATCH/list" ||
        die "snapshots does not list both: $(cat "$SCRATCH/list")"
# shellcheck disable=SC2086
yunbak verify --store "$STORE" $SSHO --system hr >"$SCRATCH/verify" ||
        die "verify failed: $(cat "$SCRATCH/verify")"
grep -q "2 snapshots checked, 0 damaged" "$SCRATCH/verify" || die "verify: $(cat "$SCRATCH/verify")"
restore_and_compare "$FULL" "$SCRATCH/full.digest"
restore_and_compare "$INCR" "$SCRATCH/incr.digest"

# A new full, then prune to the last one: the older chain goes, the new full stays whole.
backup full full2
FULL2=$(snap_of full2)
# shellcheck disable=SC2086
yunbak prune --store "$STORE" $SSHO --system hr --keep-last 1 >/dev/null
# shellcheck disable=SC2086
yunbak snapshots --store "$STORE" $SSHO --system hr >"$SCRATCH/list"
grep -q "^$FULL2 " "$SCRATCH/list" || die "prune removed the kept snapshot"
! grep -q "^$FULL \|^$INCR " "$SCRATCH/list" || die "prune kept the old chain: $(cat "$SCRATCH/list")"
[ ! -e "$SCRATCH/store/hr/snapshots/$FULL" ] || die "the pruned snapshot is still on the server"
restore_and_compare "$FULL2" "$SCRATCH/incr.digest"

# --- A read-only account ------------------------------------------------------------------------
RO="sftp://$ME@$ADDR:$RO_PORT$SCRATCH/store"
cp "$SSH_DIR/known_hosts" "$SSH_DIR/kh_ro"
printf '[%s]:%s %s\n' "$ADDR" "$RO_PORT" "$(cut -d' ' -f1,2 "$SSH_DIR/host_key.pub")" >>"$SSH_DIR/kh_ro"
ROO="--ssh-key $SSH_DIR/client_key --known-hosts $SSH_DIR/kh_ro"
# shellcheck disable=SC2086
yunbak verify --store "$RO" $ROO --system hr >"$SCRATCH/verify" ||
        die "verify from a read-only account failed: $(cat "$SCRATCH/verify")"
rm -rf "$SCRATCH/out"
# shellcheck disable=SC2086
yunbak restore --store "$RO" $ROO --system hr --key "$SCRATCH/keys/hr.key" \
        --passphrase-file "$SCRATCH/pass" --snapshot "$FULL2" --target "$SCRATCH/out" >/dev/null ||
        die "restore from a read-only account failed"
[ "$(tree_digest "$SCRATCH/out/app")" = "$(cat "$SCRATCH/incr.digest")" ] ||
        die "the tree restored from a read-only account differs"
ls -lR "$SCRATCH/store" >"$SCRATCH/before-ro"
expect_exit 1 backup full ro "$RO" "$ROO"
expect_stderr "Cannot lock the repository of system 'hr' in '$RO': Permission denied"
ls -lR "$SCRATCH/store" >"$SCRATCH/after-ro"
cmp -s "$SCRATCH/before-ro" "$SCRATCH/after-ro" || die "a backup through a read-only account changed the store"

# --- A server that is not there: exit 6, naming it --------------------------------------------
expect_exit 6 yunbak snapshots --store "sftp://$ME@$ADDR:$CLOSED_PORT$SCRATCH/store" \
        --ssh-key "$SSH_DIR/client_key" --known-hosts "$SSH_DIR/known_hosts" --system hr
expect_stderr "Cannot open the store 'sftp://$ME@$ADDR:$CLOSED_PORT.*': $ME@$ADDR:$CLOSED_PORT: connection refused"
# A directory that does not exist on the server.
expect_exit 6 yunbak snapshots --store "sftp://$ME@$ADDR:$PORT$SCRATCH/no-such-dir" $SSHO --system hr
expect_stderr "the directory $SCRATCH/no-such-dir does not exist there"

# --- Host keys ----------------------------------------------------------------------------------
EMPTY="sftp://$ME@$ADDR:$PORT$SCRATCH/empty"
FPRE=$(printf '%s' "$FP" | sed 's/[]+.*?()[^$|{}]/\\&/g') # the fingerprint as a regex
# Unknown: a known_hosts file that knows only another host.
printf '[10.9.9.9]:%s %s\n' "$PORT" "$(cut -d' ' -f1,2 "$SSH_DIR/host_key.pub")" >"$SSH_DIR/kh_unknown"
expect_exit 6 backup full refused "$EMPTY" "--ssh-key $SSH_DIR/client_key --known-hosts $SSH_DIR/kh_unknown"
expect_stderr "$ADDR:$PORT.*host key not in $SSH_DIR/kh_unknown \\(ssh-ed25519 $FPRE\\).*nothing was written"
# Changed: the host's name with another key.
if [ "$PORT" = 22 ]; then hostname=$ADDR; else hostname="[$ADDR]:$PORT"; fi
printf '%s %s\n' "$hostname" "$(cut -d' ' -f1,2 "$SSH_DIR/other_host_key.pub")" >"$SSH_DIR/kh_changed"
expect_exit 6 backup full refused "$EMPTY" "--ssh-key $SSH_DIR/client_key --known-hosts $SSH_DIR/kh_changed"
expect_stderr "$ADDR:$PORT.*host key \\(ssh-ed25519 $FPRE\\) does not match $SSH_DIR/kh_changed:1"
expect_exit 6 yunbak snapshots --store "$STORE" --ssh-key "$SSH_DIR/client_key" \
        --known-hosts "$SSH_DIR/kh_changed" --system hr
expect_stderr "Cannot open the store '$STORE'.*does not match $SSH_DIR/kh_changed:1"
[ -z "$(ls -A "$SCRATCH/empty")" ] || die "something was written after a refused host key: $(ls -A "$SCRATCH/empty")"

# --- The store's guarantees on the server, and symlinks ---------------------------------------
mkdir -p "$SCRATCH/check" "$SCRATCH/outside"
echo secret >"$SCRATCH/outside/secret"
ln -s "$SCRATCH/outside" "$SCRATCH/check/link"
ln -s "$SCRATCH/outside/secret" "$SCRATCH/check/file-link"
yb-sftp-check "sftp://$ME@$ADDR:$PORT$SCRATCH/check" "$SSH_DIR/client_key" "$SSH_DIR/known_hosts" \
        >"$SCRATCH/check.out" 2>&1 || {
        cat "$SCRATCH/check.out" >&2
        die "yb-sftp-check failed"
}
cat "$SCRATCH/check.out"
[ "$(ls -A "$SCRATCH/outside")" = secret ] && [ "$(cat "$SCRATCH/outside/secret")" = secret ] ||
        die "something outside the store changed: $(ls -A "$SCRATCH/outside")"
# A backup to a system whose directory is a symlink out of the store is refused there.
mkdir -p "$SCRATCH/planted"
ln -s "$SCRATCH/outside" "$SCRATCH/planted/hr"
expect_exit 1 backup full planted "sftp://$ME@$ADDR:$PORT$SCRATCH/planted"
expect_stderr "Cannot open the repository of system 'hr' in 'sftp://.*/planted': Not a directory"
[ "$(ls -A "$SCRATCH/outside")" = secret ] || die "the backup wrote outside the store: $(ls -A "$SCRATCH/outside")"
echo "sftp-store: all checks passed ($MODE)"
