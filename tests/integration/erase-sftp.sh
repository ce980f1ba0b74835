#!/bin/sh
# A system's repository erased from an SFTP store on a real OpenSSH sshd (ssh-lib.sh): everything
# in it counted (files, directories, bytes) and removed through the store, the medium "remote
# SFTP server" with the overwrite never claimed (not even when asked for always), a symlink in it
# to a file outside the store removed and its target untouched, the other system's repository
# beside it untouched, and a run again harmless.
. "$TESTS/integration/lib.sh"

SSH_DIR=$SCRATCH/ssh
finish() {
        ssh_finish
        cleanup
}
trap finish EXIT
trap 'exit 1' HUP INT TERM
. "$TESTS/integration/ssh-lib.sh"

field() {
        python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

S=$SCRATCH/store
mkdir -p "$S/hr/snapshots/a/b" "$S/hr/locks" "$S/payroll/snapshots" "$SCRATCH/outside"
printf 'one' >"$S/hr/config"
head -c 100000 /dev/urandom >"$S/hr/snapshots/a/b/vol-1"
printf 'x' >"$S/hr/snapshots/a/idx"
printf 'keep' >"$S/payroll/config"
printf 'secret' >"$SCRATCH/outside/target"
ln -s "$SCRATCH/outside/target" "$S/hr/snapshots/link-out"
export YB_SSH_KEY="$SSH_DIR/client_key" YB_KNOWN_HOSTS="$SSH_DIR/known_hosts"
STORE="sftp://$ME@$ADDR:$PORT$S"

yb-erase store always "$STORE" hr >"$SCRATCH/erase.json" || {
        cat "$SCRATCH/erase.json" >&2
        die "yb-erase store failed"
}
J=$SCRATCH/erase.json
[ ! -e "$S/hr" ] && [ ! -L "$S/hr" ] || die "the repository is still on the server"
[ "$(cat "$S/payroll/config")" = keep ] || die "the other system's repository was touched"
[ "$(cat "$SCRATCH/outside/target")" = secret ] || die "the symlink's target was touched"
[ "$(field "$J" 'j["files"]')" = 4 ] || die "files: $(field "$J" 'j["files"]') (config, vol-1, idx, the symlink)"
[ "$(field "$J" 'j["dirs"]')" = 5 ] || die "dirs: $(field "$J" 'j["dirs"]')"
[ "$(field "$J" 'j["bytes"] >= 100004')" = True ] || die "bytes: $(field "$J" 'j["bytes"]')"
[ "$(field "$J" 'j["overwritten"]')" = False ] || die "an overwrite over SFTP claimed"
[ "$(field "$J" 'j["left"]')" = 0 ] || die "left: $(field "$J" 'j["left"]')"
[ "$(field "$J" 'j["medium"]["kind"]')" = "remote SFTP server" ] || die "medium kind"
[ "$(field "$J" 'j["medium"]["filesystem"]')" = sftp ] || die "medium filesystem"
[ "$(field "$J" 'j["medium"]["overwrite_effective"]')" = False ] || die "effective over SFTP"
field "$J" 'j["medium"]["why"]' | grep -qF "an overwrite over SFTP proves nothing about the server's disk" ||
        die "why: $(field "$J" 'j["medium"]["why"]')"

yb-erase store always "$STORE" hr >"$SCRATCH/again.json" || die "a run again failed"
[ "$(field "$SCRATCH/again.json" 'j["files"] + j["dirs"] + j["left"]')" = 0 ] ||
        die "a run again found something"
# A path that climbs out of the store is refused before anything is done.
set +e
yb-erase store always "$STORE" ../outside >"$SCRATCH/bad.json"
rc=$?
set -e
[ $rc -eq 1 ] || die "../outside: exit $rc"
[ "$(cat "$SCRATCH/outside/target")" = secret ] || die "../outside was touched"
echo "erase-sftp: ok"
