#!/bin/sh
# `yunbak key destroy` and `key attest-destroyed` against a real yunbakd, by real uids (daemon:
# the department of hr-portal, bin: another department, sys: an auditor, root: an operator):
# destroy overwrites and unlinks (the file is gone, the copy destroyed, the evidence recorded,
# what the overwrite proves said as the medium allows), refuses a link and a public key, and
# refuses without yunbakd unless --no-daemon; an unregistered copy presented (or a file put back
# where a destroyed copy was) is recorded as found and warned about in the audit log; an offline
# copy is attested by its holder (signed by yunbakd), by nobody else, and a file copy never.
. "$TESTS/integration/key-copies-lib.sh"

start_yunbakd
expect_as 0 daemon key register "$DEPT/hr-portal.key"
first=$(sql "SELECT id FROM key_copies WHERE path = '$DEPT/hr-portal.key'")
expect_as 0 daemon key copy "$DEPT/hr-portal.key" --to "$DEPT/backup/"
copy=$(sql "SELECT id FROM key_copies WHERE path = '$DEPT/backup/hr-portal.key'")
expect_as 0 daemon key copy "$DEPT/hr-portal.key" --offline --note "paper, safe 3, room 402"
off=$(sql "SELECT id FROM key_copies WHERE kind = 'offline'")

# key destroy: a link and a public key are refused; the copy is overwritten and unlinked, its
# state destroyed and the evidence recorded; destroyed once.
ln -s "$DEPT/backup/hr-portal.key" "$DEPT/link.key"
expect_as 2 daemon key destroy "$DEPT/link.key"
err_has "symbolic link"
expect_as 2 daemon key destroy "$D/keys/hr-portal.pub"
err_has "public half"
[ -f "$DEPT/backup/hr-portal.key" ] || die "a refused destroy removed the file"
# A key yunbakd does not hold for the system (a handover key) is none of its copies: refused,
# kept, and --no-daemon named.
expect_as 0 daemon key init --system hr-portal --out "$DEPT/handover" --passphrase-file "$DEPT/pass" \
        --no-register
expect_as 2 daemon key destroy "$DEPT/handover/hr-portal.key"
err_has "is destroyed with --no-daemon"
[ -f "$DEPT/handover/hr-portal.key" ] || die "a refused destroy removed the handover key"
expect_as 0 daemon key destroy "$DEPT/backup/hr-portal.key"
[ ! -e "$DEPT/backup/hr-portal.key" ] || die "key destroy left the file"
out_has "Destroyed $(hostname):$DEPT/backup/hr-portal.key (key copy $copy)"
out_has "opening it now fails (ENOENT)"
[ "$(state_of "$copy")" = destroyed ] || die "copy $copy is $(state_of "$copy")"
sql "SELECT evidence FROM key_copies WHERE id = $copy" |
        json '(j["method"], j["overwritten"], j["checks"][-1], j["path"], j["bytes"] > 0, j["medium"]["filesystem"] != "")' |
        grep -qx "('overwrite + unlink', True, 'open fails: ENOENT', '$DEPT/backup/hr-portal.key', True, True)" ||
        die "the evidence: $(sql "SELECT evidence FROM key_copies WHERE id = $copy")"
audit_has key.destroyed ok daemon "$DEPT/backup/hr-portal.key"
# What the overwrite proves is said as the medium allows, never more.
if sql "SELECT evidence FROM key_copies WHERE id = $copy" | json 'j["medium"]["overwrite_effective"]' | grep -qx True; then
        out_has "The overwrite reached the blocks"
else
        out_has "proves nothing"
        grep -q "reached the blocks" "$SCRATCH/stdout" && die "an ineffective overwrite is claimed"
fi
# A file put back at the destroyed copy's path is another copy: found, warned, and destroyed.
cp -p "$DEPT/hr-portal.key" "$DEPT/backup/hr-portal.key"
expect_as 0 daemon key destroy "$DEPT/backup/hr-portal.key"
err_has "was not a registered copy"
[ ! -e "$DEPT/backup/hr-portal.key" ] || die "the second file is still there"

# An unregistered copy presented: recorded as found, warned in the audit log, destroyed.
cp -p "$DEPT/hr-portal.key" "$DEPT/stray.key"
expect_as 0 daemon key destroy "$DEPT/stray.key"
err_has "was not a registered copy"
stray=$(sql "SELECT id FROM key_copies WHERE path = '$DEPT/stray.key'")
[ "$(sql "SELECT found, state FROM key_copies WHERE id = $stray")" = "1|destroyed" ] ||
        die "the stray copy: $(sql "SELECT * FROM key_copies WHERE id = $stray")"
audit_has key.unregistered warning daemon "$DEPT/stray.key"
[ ! -e "$DEPT/stray.key" ] || die "the stray copy is still there"

# Another department may not destroy this system's copy through yunbakd (no such system).
mkdir "$SCRATCH/bin"
cp -p "$DEPT/hr-portal.key" "$SCRATCH/bin/bin.key"
chown -R bin "$SCRATCH/bin"
expect_as 1 bin key destroy "$SCRATCH/bin/bin.key"
[ -f "$SCRATCH/bin/bin.key" ] || die "a refused destroy removed the file"

# Without yunbakd: refused, the file kept; --no-daemon destroys it and prints the evidence.
stop_yunbakd
expect_as 6 bin key destroy "$SCRATCH/bin/bin.key"
err_has "Not destroyed: yunbakd did not answer"
[ -f "$SCRATCH/bin/bin.key" ] || die "destroy without yunbakd removed the file"
expect_as 0 bin key destroy --no-daemon "$SCRATCH/bin/bin.key"
[ ! -e "$SCRATCH/bin/bin.key" ] || die "--no-daemon left the file"
out_has "yunbakd was not told"
out_has '"method": "overwrite + unlink"'
start_yunbakd

# attest-destroyed: the holder (daemon registered the offline copy, so holds it) only; an
# operator or the auditor is refused; a file copy is never attested.
expect_as 4 root key attest-destroyed --copy "$off" --method shredded --yes
err_has "only the holder"
expect_as 4 sys key attest-destroyed --copy "$off" --method shredded --yes
expect_as 2 daemon key attest-destroyed --copy "$off" --method shredded
err_has "confirm the statement with --yes"
expect_as 8 daemon key attest-destroyed --copy "$first" --method shredded --yes
err_has "yunbak key destroy"
[ "$(state_of "$off")" = held ] || die "a refused attestation changed the copy"
expect_as 0 daemon key attest-destroyed --copy "$off" --method "shredded, DIN 66399 P-4" \
        --witness wang --yes
out_has "attested destroyed by you, on your word"
[ "$(state_of "$off")" = attested ] || die "copy $off is $(state_of "$off")"
sql "SELECT evidence FROM key_copies WHERE id = $off" |
        json '(j["holder"], j["method"], j["witness"], j["signature"]["alg"], len(j["signature"]["value"]) > 0)' |
        grep -qx "('daemon', 'shredded, DIN 66399 P-4', 'wang', 'ed25519', True)" ||
        die "the attestation: $(sql "SELECT evidence FROM key_copies WHERE id = $off")"
audit_has key.attested ok daemon "copy $off"
expect_as 8 daemon key attest-destroyed --copy "$off" --method again --yes
err_has "attested already"

# The list says what is left: the department's own file, held; nothing called verified.
expect_as 0 daemon key list --system hr-portal
[ "$(grep -c ' held ' "$SCRATCH/stdout")" = 1 ] || die "key list after: $(cat "$SCRATCH/stdout")"
grep -qi verified "$SCRATCH/stdout" && die "key list calls something verified"
echo "key-copies-destroy: ok"
