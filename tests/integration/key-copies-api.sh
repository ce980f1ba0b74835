#!/bin/sh
# Key copies through yunbakd's control API (docs/api.md, "Key copies"), callers of other uids:
# a department registers file and offline copies of its system's key (only of the key yunbakd
# holds: another key id is refused, naming both), the same file registered twice is one copy,
# an auditor lists and cannot register, another department sees nothing; a key file nobody
# registered is recorded as found and warned about in the audit log; a file copy is reported
# destroyed once, an offline copy only attested, and only by its holder, the attestation signed
# by yunbakd (checked with Python's cryptography); every refusal audited.
. "$TESTS/integration/key-copies-lib.sh"
start_yunbakd

# as USER METHOD PATH [BODY]: call (key-copies-lib.sh), the body on stdout and kept per user.
as() {
        call "$@"
        cp "$D/body" "$D/body.$1"
        cat "$D/body"
}
# expect STATUS: the last call answered STATUS.
expect() {
        [ "$(cat "$D/status")" = "$1" ] || die "expected $1, got $(cat "$D/status"): $(cat "$D"/body.*)"
}
audit_has() { # ACTION RESULT TEXT: an audit record of ACTION with RESULT whose detail has TEXT
        sql "SELECT count(*) FROM audit WHERE action = '$1' AND result = '$2' AND detail LIKE '%$3%'" |
                grep -qv '^0$' || die "no audit record $1 $2 with '$3': $(sql "SELECT action, result, detail FROM audit WHERE action LIKE 'key.%'")"
}

FILE='{"key_id":"'$KID'","kind":"file","host":"hr-app-1","path":"/etc/yunbak/keys/hr-portal.key"}'
id=$(as daemon POST /v1/systems/hr-portal/key-copies "$FILE" | json 'j["id"]')
expect 201
as daemon GET /v1/systems/hr-portal/key-copies >/dev/null
expect 200
json '(j["copies"][0]["holder"], j["copies"][0]["registered_by"], j["copies"][0]["state"], j["copies"][0]["found"])' \
        <"$D/body.daemon" | grep -qx "('daemon', 'daemon', 'held', False)" || die "the copy: $(cat "$D/body.daemon")"
# The same held file registered again (key init, then key register): the same copy, 200.
[ "$(as daemon POST /v1/systems/hr-portal/key-copies "$FILE" | json 'j["id"]')" = "$id" ] ||
        die "a second registration made another copy"
expect 200
# Another key id: refused, naming both.
as daemon POST /v1/systems/hr-portal/key-copies \
        '{"key_id":"0123456789abcdef","kind":"file","host":"h","path":"/k/x.key"}' >/dev/null
expect 400
grep -q "0123456789abcdef" "$D/body.daemon" && grep -q "$KID" "$D/body.daemon" ||
        die "the refusal does not name both key ids: $(cat "$D/body.daemon")"
audit_has key.register denied 0123456789abcdef
# A file copy needs an absolute path and a host; an offline one a note.
as daemon POST /v1/systems/hr-portal/key-copies '{"key_id":"'$KID'","kind":"file","host":"h","path":"k.key"}' >/dev/null
expect 400
as daemon POST /v1/systems/hr-portal/key-copies '{"key_id":"'$KID'","kind":"file","path":"/k.key"}' >/dev/null
expect 400
as daemon POST /v1/systems/hr-portal/key-copies '{"key_id":"'$KID'","kind":"offline"}' >/dev/null
expect 400
off=$(as daemon POST /v1/systems/hr-portal/key-copies \
        '{"key_id":"'$KID'","kind":"offline","note":"paper, safe 3, room 402"}' | json 'j["id"]')
expect 201
audit_has key.register ok "paper, safe 3"

# Roles: an auditor lists and cannot register; another department sees nothing of it.
as sys GET /v1/systems/hr-portal/key-copies | json 'len(j["copies"])' | grep -qx 2 || die "auditor list"
expect 200
as sys POST /v1/systems/hr-portal/key-copies "$FILE" >/dev/null
expect 403
as bin GET /v1/systems/hr-portal/key-copies >/dev/null
expect 404
as bin POST /v1/systems/hr-portal/key-copies "$FILE" >/dev/null
expect 404
as nobody GET /v1/systems/hr-portal/key-copies >/dev/null
expect 403

# seen: the registered file is known; another path is an unregistered copy, recorded and warned.
as daemon POST /v1/systems/hr-portal/key-copies/seen \
        '{"key_id":"'$KID'","host":"hr-app-1","path":"/etc/yunbak/keys/hr-portal.key"}' |
        json '(j["registered"], j["copy"]["id"])' | grep -qx "(True, $id)" || die "seen: $(cat "$D/body.daemon")"
found=$(as daemon POST /v1/systems/hr-portal/key-copies/seen \
        '{"key_id":"'$KID'","host":"laptop","path":"/home/li/hr-portal.key"}' |
        json '"%s %s %s" % (j["registered"], j["copy"]["found"], j["copy"]["id"])')
case $found in "False True "*) ;; *) die "an unregistered copy: $(cat "$D/body.daemon")" ;; esac
found=${found##* }
audit_has key.unregistered warning "laptop:/home/li/hr-portal.key"
as sys POST /v1/systems/hr-portal/key-copies/seen \
        '{"key_id":"'$KID'","host":"x","path":"/x"}' >/dev/null
expect 403

# destroyed: a file copy, once; an offline copy is not destroyed this way.
EV='{"evidence":{"method":"overwrite + unlink","bytes":420,"overwritten":true,"host":"laptop","path":"/home/li/hr-portal.key"}}'
as sys POST "/v1/key-copies/$found/destroyed" "$EV" >/dev/null
expect 403
as bin POST "/v1/key-copies/$found/destroyed" "$EV" >/dev/null
expect 404
as daemon POST "/v1/key-copies/$found/destroyed" "$EV" |
        json '(j["state"], j["destroyed_by"], j["evidence"]["bytes"])' |
        grep -qx "('destroyed', 'daemon', 420)" || die "destroyed: $(cat "$D/body.daemon")"
as daemon POST "/v1/key-copies/$found/destroyed" "$EV" >/dev/null
expect 409
grep -q "destroyed already" "$D/body.daemon" || die "a second report: $(cat "$D/body.daemon")"
as daemon POST "/v1/key-copies/$off/destroyed" "$EV" >/dev/null
expect 409
grep -q "attest-destroyed --copy $off" "$D/body.daemon" || die "offline destroyed: $(cat "$D/body.daemon")"
audit_has key.destroyed ok "laptop:/home/li/hr-portal.key"

# attest: the holder only (daemon registered it, so holds it), an offline copy only.
ATT='{"method":"shredded","witness":"wang"}'
as root POST "/v1/key-copies/$off/attest" "$ATT" >/dev/null
expect 403
as bin POST "/v1/key-copies/$off/attest" "$ATT" >/dev/null
expect 404
as sys POST "/v1/key-copies/$off/attest" "$ATT" >/dev/null
expect 403
as daemon POST "/v1/key-copies/$id/attest" "$ATT" >/dev/null
expect 409
grep -q "yunbak key destroy" "$D/body.daemon" || die "attesting a file: $(cat "$D/body.daemon")"
sql "SELECT state FROM key_copies WHERE id = $off" | grep -qx held || die "the offline copy changed"
audit_has api.denied denied "only the holder of key copy $off"
# The holder attests: the copy is attested (never destroyed or verified), the attestation names
# the holder as authenticated (not as the body says) and is signed by yunbakd's key, which an
# independent Ed25519 check over the canonical form confirms.
as daemon POST "/v1/key-copies/$off/attest" '{"method":"shredded","witness":"wang","holder":"mallory"}' >/dev/null
expect 200
json '(j["state"], j["destroyed_by"], j["evidence"]["holder"], j["evidence"]["witness"], j["evidence"]["copy"])' \
        <"$D/body.daemon" | grep -qx "('attested', 'daemon', 'daemon', 'wang', $off)" ||
        die "the attestation: $(cat "$D/body.daemon")"
grep -q "I, daemon, destroyed copy $off of the private key of system 'hr-portal' (key id $KID)" \
        "$D/body.daemon" || die "the default statement: $(cat "$D/body.daemon")"
python3 - "$D/body.daemon" "$D/state/yunbakd.pub" <<'PY' || die "the attestation's signature does not verify"
import base64, json, sys
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
ev = json.load(open(sys.argv[1]))["evidence"]
sig = ev.pop("signature")
assert sig["alg"] == "ed25519" and sig["key"] == open(sys.argv[2]).read().strip(), sig
canon = json.dumps(ev, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
Ed25519PublicKey.from_public_bytes(base64.b64decode(sig["key"])).verify(base64.b64decode(sig["value"]), canon)
ev["statement"] += " (changed)"
canon = json.dumps(ev, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
try:
    Ed25519PublicKey.from_public_bytes(base64.b64decode(sig["key"])).verify(base64.b64decode(sig["value"]), canon)
except InvalidSignature:
    pass
else:
    sys.exit("a changed statement verifies")
PY
audit_has key.attested ok "attested destroyed"
as daemon POST "/v1/key-copies/$off/attest" "$ATT" >/dev/null
expect 409

# A key of a system being decommissioned presented again: a warning (a copy survived). The
# decommission is written into the catalog as execution leaves it (part of the flow's own tests).
sql "INSERT INTO decommissions (system, department, state, reason, requested_by, requested_usec,
     updated_usec) VALUES ('hr-portal', '人社局', 'executing', 'test', 'daemon', 1, 1)"
as daemon POST /v1/systems/hr-portal/key-copies/seen \
        '{"key_id":"'$KID'","host":"hr-app-1","path":"/etc/yunbak/keys/hr-portal.key"}' >/dev/null
expect 200
audit_has key.seen warning "decommission 1 is executing, yet a copy"
echo "key-copies-api: ok"
