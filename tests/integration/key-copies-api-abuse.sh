#!/bin/sh
# The key copies' API against careless and hostile callers (docs/api.md, "Key copies"), real
# uids on a real yunbakd (daemon: hr-portal's department 人社局; bin: another department; sys:
# an auditor; root: an operator):
# - a holder must be a person who may act on the system: never a name nobody logs in as (the
#   copy could never be attested), an auditor (who changes nothing) or another department;
# - texts with control characters, C1 ones included (the certificate and the signed attestation
#   refuse them), or too long, are refused with what is wrong and where;
# - a file path in another spelling than its real path, and a host every machine answers to,
#   are refused (the copy would never be found again by `key destroy`);
# - `destroyed` takes evidence of the copy's own file only (a report of a file elsewhere, say a
#   host/path spoofed in `seen`, cannot close it), and only what the certificate can carry;
# - a copy registered while the system's decommission executes is a warning in the audit log;
# - JSON of the wrong types and odd ids are refused; nothing refused changes a copy.
. "$TESTS/integration/key-copies-lib.sh"
start_yunbakd

# expect STATUS [TEXT]: the last call answered STATUS, its body holding TEXT.
expect() {
        [ "$(cat "$D/status")" = "$1" ] || die "expected $1, got $(cat "$D/status"): $(cat "$D/body")"
        [ -z "${2:-}" ] || grep -qF -- "$2" "$D/body" || die "the answer lacks '$2': $(cat "$D/body")"
}
copies() { sql "SELECT count(*) FROM key_copies"; }
POST=/v1/systems/hr-portal/key-copies
OFF='"key_id":"'$KID'","kind":"offline","note":"paper, safe 3"'

# Holders.
call daemon POST $POST "{$OFF,\"holder\":\"lihua\"}"
expect 400 "holder 'lihua' is not one of the people in yunbakd's configuration"
audit_has key.register denied daemon "holder 'lihua'"
call daemon POST $POST "{$OFF,\"holder\":\"sys\"}"
expect 400 "holder 'sys' is an auditor"
call daemon POST $POST "{$OFF,\"holder\":\"bin\"}"
expect 400 "holder 'bin' is of another department (政数局)"
[ "$(copies)" = 0 ] || die "a refused holder was registered"
call daemon POST $POST "{$OFF,\"holder\":\"root\"}"
expect 201 '"holder":"root"'
call daemon POST $POST "{$OFF}"
expect 201 '"holder":"daemon"'
off=$(json 'j["id"]' <"$D/body")

# Texts: control characters (C0 and C1), length, types.
call daemon POST $POST '{"key_id":"'$KID'","kind":"offline","note":"paper\u0085safe 3"}'
expect 400 "a control character (U+0085)"
call daemon POST $POST '{"key_id":"'$KID'","kind":"offline","note":"paper\u001b[31m"}'
expect 400 "a control character (U+001B)"
call daemon POST $POST "{$OFF,\"holder\":\"dae\\u0000mon\"}"
expect 400
call daemon POST $POST "{\"key_id\":\"$KID\",\"kind\":\"offline\",\"note\":\"$(head -c 2001 /dev/zero | tr '\0' x)\"}"
expect 400 "note must be a text of 1 to 2000 bytes"
call daemon POST $POST '{"key_id":5,"kind":"offline","note":"x"}'
expect 400 "key_id must be a text"
call daemon POST $POST '{"key_id":"'$KID'","kind":["file"],"note":"x"}'
expect 400 "kind must be"
call daemon POST $POST "{$OFF,\"holder\":[\"daemon\"]}"
expect 400 "holder must be a text"
call daemon POST $POST '[1]'
expect 400 "the body must be a JSON object"
call daemon POST $POST '{"key_id":'
expect 400 "the body must be a JSON object"
for id in abc 0 -1 99999999999999999999 1e3; do
        call daemon POST "/v1/key-copies/$id/destroyed" '{"evidence":{}}'
        expect 404 "no key copy"
done
call daemon POST "/v1/key-copies/$off/attest" '{"method":"shredded","statement":"I shredded it\u009b"}'
expect 400 "a control character (U+009B)"
[ "$(sql "SELECT state FROM key_copies WHERE id = $off")" = held ] || die "a refused attestation changed the copy"
[ "$(copies)" = 2 ] || die "a refused registration was recorded: $(copies) copies"

# Paths and hosts: the one plain spelling of a real path; a host of its own.
for p in /keys/../etc/hr.key /keys//hr.key /keys/./hr.key /keys/hr.key/ /keys/.. keys/hr.key; do
        call daemon POST $POST '{"key_id":"'$KID'","kind":"file","host":"hr-app-1","path":"'$p'"}'
        expect 400 "path must be the file's absolute path in its plain form"
        call daemon POST $POST/seen '{"key_id":"'$KID'","host":"hr-app-1","path":"'$p'"}'
        expect 400 "plain form"
done
call daemon POST $POST '{"key_id":"'$KID'","kind":"file","host":"localhost","path":"/keys/hr.key"}'
expect 400 "host must name the machine the file is on, not 'localhost'"
[ "$(copies)" = 2 ] || die "a refused path was recorded"

# destroyed: only evidence of the copy's own file, and only what the certificate can carry.
call daemon POST $POST '{"key_id":"'$KID'","kind":"file","host":"hr-app-1","path":"/keys/hr.key"}'
expect 201
file=$(json 'j["id"]' <"$D/body")
# seen with a spoofed host/path answers that copy; a report of another file cannot close it.
call daemon POST $POST/seen '{"key_id":"'$KID'","host":"hr-app-1","path":"/keys/hr.key"}'
expect 200 "\"id\":$file"
call daemon POST "/v1/key-copies/$file/destroyed" \
        '{"evidence":{"method":"overwrite + unlink","host":"laptop","path":"/tmp/other.key"}}'
expect 400 "the evidence is of the file laptop:/tmp/other.key, not of key copy $file"
audit_has key.destroyed denied daemon "not of key copy $file"
call daemon POST "/v1/key-copies/$file/destroyed" '{"evidence":{"method":"overwrite + unlink"}}'
expect 400 "(no host):(no path)"
call daemon POST "/v1/key-copies/$file/destroyed" \
        '{"evidence":{"host":"hr-app-1","path":"/keys/hr.key","bytes":4.5e2}}'
expect 400 "cannot be kept"
call daemon POST "/v1/key-copies/$file/destroyed" \
        '{"evidence":{"host":"hr-app-1","path":"/keys/hr.key","checks":["unlink","\u0085"]}}'
expect 400 "a control character (U+0085)"
call daemon POST "/v1/key-copies/$file/destroyed" '{"evidence":"destroyed"}'
expect 400 "evidence must be a JSON object"
[ "$(sql "SELECT state FROM key_copies WHERE id = $file")" = held ] || die "a refused report changed the copy"
EV='{"evidence":{"method":"overwrite + unlink","bytes":458,"host":"hr-app-1","path":"/keys/hr.key"}}'
call daemon POST "/v1/key-copies/$file/destroyed" "$EV"
expect 200 '"state":"destroyed"'
call daemon POST "/v1/key-copies/$file/destroyed" "$EV"
expect 409 "destroyed already (by daemon"

# A copy registered while the decommission executes: registered (it exists) and warned.
sql "INSERT INTO decommissions (system, department, state, reason, requested_by, requested_usec,
     updated_usec) VALUES ('hr-portal', '人社局', 'executing', 'test', 'daemon', 1, 1)"
call daemon POST $POST '{"key_id":"'$KID'","kind":"file","host":"hr-app-2","path":"/keys/late.key"}'
expect 201
audit_has key.register warning daemon "decommission 1 is executing, yet a copy of the system's key is registered now"
echo "key-copies-api-abuse: ok"
