#!/bin/sh
# `yunbak key` registering the copies of a system's private key, against a real yunbakd, by
# real uids (daemon: the department of hr-portal, bin: another department, sys: an auditor):
# key init says plainly when it did not register (no yunbakd; a key yunbakd does not hold, such
# as a handover key); key register, key copy --to and --offline register; key list shows them
# to the department and the auditor, not to another department; an auditor registers nothing.
# key-copies-destroy.sh destroys and attests them.
. "$TESTS/integration/key-copies-lib.sh"

# Without yunbakd, key init makes the key pair and says it did not register it, and how to.
expect_as 0 daemon key init --system hr-portal --out "$DEPT/early" --passphrase-file "$DEPT/pass"
out_has "Not registered with yunbakd: yunbakd did not answer at $SOCK"
out_has "yunbak key register $DEPT/early/hr-portal.key"
out_has "once yunbakd answers and holds the system's public key"
[ -f "$DEPT/early/hr-portal.key" ] || die "key init without yunbakd made no key"

start_yunbakd

# A new key pair of the same system (a handover key): yunbakd holds another key, so it is not
# registered as a copy of the system's key, and key init says why; the key pair is made.
expect_as 0 daemon key init --system hr-portal --out "$DEPT/handover" --passphrase-file "$DEPT/pass"
out_has "Not registered with yunbakd: yunbakd refused it (HTTP 400): key id"
out_has "A handover key (for a final export) is never registered"
out_has "key id $KID"
[ "$(sql "SELECT count(*) FROM key_copies")" = 0 ] || die "a handover key was registered"

# key register: the department's file; twice is the same copy.
expect_as 0 daemon key register "$DEPT/hr-portal.key"
out_has "registered: $(hostname):$DEPT/hr-portal.key, held by daemon"
first=$(sql "SELECT id FROM key_copies WHERE path = '$DEPT/hr-portal.key'")
expect_as 0 daemon key register "$DEPT/hr-portal.key" --holder root
[ "$(sql "SELECT count(*) FROM key_copies WHERE path = '$DEPT/hr-portal.key'")" = 1 ] ||
        die "a second registration made another copy"
expect_as 2 daemon key register "$D/keys/hr-portal.pub"
err_has "the public half"

# key copy --to: a new 0600 file, registered; never over an existing file.
expect_as 0 daemon key copy "$DEPT/hr-portal.key" --to "$DEPT/backup/"
[ "$(stat -c %a "$DEPT/backup/hr-portal.key")" = 600 ] || die "the copy is not 0600"
cmp -s "$DEPT/hr-portal.key" "$DEPT/backup/hr-portal.key" || die "the copy differs"
copy=$(sql "SELECT id FROM key_copies WHERE path = '$DEPT/backup/hr-portal.key'")
[ -n "$copy" ] || die "the copy --to was not registered"
expect_as 1 daemon key copy "$DEPT/hr-portal.key" --to "$DEPT/backup/hr-portal.key"
err_has "never replaces a file"
# key copy --offline: registered with its note.
expect_as 0 daemon key copy "$DEPT/hr-portal.key" --offline --note "paper, safe 3, room 402"
off=$(sql "SELECT id FROM key_copies WHERE kind = 'offline'")
out_has "offline (paper, safe 3, room 402)"

# key list: the department and the auditor see the three copies; another department nothing;
# the auditor registers nothing.
expect_as 0 daemon key list --system hr-portal
[ "$(grep -c ' held ' "$SCRATCH/stdout")" = 3 ] || die "key list: $(cat "$SCRATCH/stdout")"
out_has "offline (paper, safe 3, room 402)"
expect_as 0 sys key list --system hr-portal --json
[ "$(json 'len(j["copies"])' <"$SCRATCH/stdout")" = 3 ] || die "the auditor's list"
expect_as 1 bin key list --system hr-portal
err_has "no system 'hr-portal'"
cp "$DEPT/hr-portal.key" "$SCRATCH/auditor.key"
chown sys "$SCRATCH/auditor.key"
expect_as 4 sys key register "$SCRATCH/auditor.key"
expect_as 4 sys key copy "$SCRATCH/auditor.key" --offline --note "auditor's"
[ "$(sql "SELECT count(*) FROM key_copies")" = 3 ] || die "the auditor registered a copy"

echo "key-copies-cli: ok"
