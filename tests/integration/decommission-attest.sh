#!/bin/sh
# A host whose sources yunbak-agent wipe cannot clear (docs/decommission.md, "Execution"):
# - etc-app's policy names /etc, which wipe refuses before touching anything; gone-app's host is
#   an SSH host on a port nobody listens on (its VM deleted). Executing either ends "executed",
#   the agent step "waiting" (not "failed"), its detail saying what to do, the attest-host command
#   included; no certificate.
# - Only an operator attests the host destroyed (the department and an auditor: 403, audited);
#   another host than the system's is refused (400); a second attestation too (409).
# - With the attestation, executing again ends the agent step "attested" and certifies: the
#   paths not cleared (all of them for the unreachable host) and the agent's state are artifacts
#   with methods ["attested"], verification "attested" (never "passed"); the certificate's
#   summary says how many artifacts rest on the attestation; it verifies; /etc is untouched.
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/daemon-lib.sh"

# The host "gone": SSH on a port of 127.0.0.1 nobody listens on (connection refused).
mkdir -p "$SCRATCH/ssh"
ssh-keygen -q -t ed25519 -N '' -f "$SCRATCH/ssh/client_key" >/dev/null 2>&1 ||
        { echo "skipped: no ssh-keygen (package openssh-client)" >&2; exit 77; }
: >"$SCRATCH/ssh/known_hosts"
CLOSED_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
EXTRA_HOSTS="  gone:
    ssh: $(id -un)@127.0.0.1:$CLOSED_PORT
    ssh_key: $SCRATCH/ssh/client_key
    known_hosts: $SCRATCH/ssh/known_hosts
    state_dir: $SCRATCH/gone-state"
. "$TESTS/integration/decommission-api-lib.sh"

decom_system etc-app
sed -i "s|^    - $D/trees/etc-app/data\$|    - /etc|" "$D/policies/etc-app.yaml"
grep -q '^    - /etc$' "$D/policies/etc-app.yaml" || die "etc-app's policy does not name /etc"
HOST=gone decom_system gone-app
grep -q '^  host: gone$' "$D/policies/gone-app.yaml" || die "gone-app is not on host gone"
etc_before=$(ls -A /etc | wc -l)
start_yunbakd

# waiting N HOST EXPECTED...: executing N ends executed, its agent step on HOST waiting, with
# each EXPECTED in its detail; no certificate.
waiting() {
        _n=$1
        _h=$2
        shift 2
        state=$(decom_run "$_n" execute)
        [ "$state" = executed ] || die "decommission $_n ended $state: $(cat "$D/body")"
        [ "$(step "$_n" agent "$_h")" = waiting ] || die "the agent step of $_n is not waiting: $(cat "$D/body")"
        api GET "/v1/decommissions/$_n" | json "[s['detail'] for s in j['steps'] if s['step'] == 'agent'][0]" >"$D/detail"
        for _e in "$@" "'yunbak decommission attest-host $_n --host $_h --statement TEXT [--reference TICKET]', then executes again"; do
                grep -qF -- "$_e" "$D/detail" || die "the agent step's detail does not say '$_e': $(cat "$D/detail")"
        done
        grep -qF "attest-host $_n --host $_h" "$D/body" || die "last_error does not say to attest: $(cat "$D/body")"
        [ "$(api GET "/v1/decommissions/$_n" | json 'j["certificate"]')" = None ] || die "a certificate for $_n"
}

n1=$(decom_ready etc-app)
attest_copy "$(offline_copy etc-app)"
waiting "$n1" here "yunbak-agent wipe on host here did not clear everything: /etc: refused" \
        "fix the policy's sources (the system's own directories, not a top-level one), stop what holds them (a running cluster), reload and execute again"
[ "$(ls -A /etc | wc -l)" = "$etc_before" ] || die "/etc changed"

n2=$(decom_ready gone-app)
attest_copy "$(offline_copy gone-app)"
waiting "$n2" gone "host gone cannot be reached to run yunbak-agent wipe" "make it reachable and execute again"

# Who attests: an operator only; the system's own host; once.
as "$DEPT" POST "/v1/decommissions/$n1/attest-host" '{"host":"here","statement":"destroyed"}' >/dev/null
expect 403 "the department attesting the host"
as sys POST "/v1/decommissions/$n1/attest-host" '{"host":"here","statement":"destroyed"}' >/dev/null
expect 403 "an auditor attesting the host"
api POST "/v1/decommissions/$n1/attest-host" '{"host":"gone","statement":"destroyed"}' >/dev/null
[ "$(api_status)" = 400 ] && grep -q "host 'gone' is not the host of system 'etc-app' (that is 'here')" "$D/body" ||
        die "another host attested: $(api_status) $(cat "$D/body")"
api POST "/v1/decommissions/$n1/attest-host" '{"host":"here"}' >/dev/null
[ "$(api_status)" = 400 ] || die "an attestation without a statement: $(api_status) $(cat "$D/body")"
api POST "/v1/decommissions/$n1/attest-host" \
        '{"host":"here","statement":"the VM and its volumes were deleted on the cloud platform","reference":"CLOUD-7"}' >/dev/null
[ "$(api_status)" = 200 ] || die "attest-host: $(api_status) $(cat "$D/body")"
api POST "/v1/decommissions/$n1/attest-host" '{"host":"here","statement":"again"}' >/dev/null
[ "$(api_status)" = 409 ] && grep -q "attested destroyed already, by $(id -un)" "$D/body" ||
        die "a second attestation: $(api_status) $(cat "$D/body")"
[ "$(sql "SELECT count(*) FROM audit WHERE action = 'decommission.attest-host' AND result = 'denied'")" = 2 ] ||
        die "the refused attestations are not audited as denied"
[ "$(sql "SELECT count(*) FROM audit WHERE action = 'decommission.attest-host' AND result = 'ok' AND detail LIKE '%CLOUD-7%'")" = 1 ] ||
        die "the attestation is not audited"
# The CLI, for the unreachable host.
yunbak decommission attest-host "$n2" --host gone --statement "VM gone-01 deleted, its disks destroyed" \
        --reference CLOUD-8 --socket "$SOCK" >"$D/attest.out" 2>&1 || die "yunbak decommission attest-host: $(cat "$D/attest.out")"
grep -q "Host gone of decommission $n2 is attested destroyed" "$D/attest.out" || die "attest-host says: $(cat "$D/attest.out")"

# certified N HOST NOT_CLEARED: executing again certifies, the agent step attested; the
# certificate's host artifacts rest on the attestation; it verifies.
certified() {
        state=$(decom_run "$1" execute)
        [ "$state" = certified ] || die "decommission $1 ended $state: $(cat "$D/body")"
        [ "$(step "$1" agent "$2")" = attested ] || die "the agent step of $1 is not attested: $(cat "$D/body")"
        cert=$(api GET "/v1/decommissions/$1" | json 'j["certificate"]')
        api GET "/v1/certificates/$cert" >"$D/cert.json"
        python3 - "$D/cert.json" "$2" "$3" <<'PY' || die "certificate $cert: $(cat "$D/cert.json")"
import json, sys
c = json.load(open(sys.argv[1]))
host, path = sys.argv[2], sys.argv[3]
on_host = [a for a in c["artifacts"] if a["kind"] in ("source-path", "agent-state")]
assert sorted(a["kind"] for a in on_host) == ["agent-state", "source-path"], on_host
for a in on_host:
    assert a["state"] == "attested" and a["methods"] == ["attested"], a
    assert a["claim"] == "host destroyed by the operator's word (attested)", a
    assert a["nist_category"] == "none" and a["medium"] is None, a
    assert a["verification"]["result"] == "attested", a
    assert a["location"].startswith(host + ":"), a
assert [a["name"] for a in on_host if a["kind"] == "source-path"] == [path], on_host
for a in c["artifacts"]:
    if a["kind"] == "backups":
        assert a["verification"]["result"] == "passed", a
PY
        yunbak certificate verify "$D/cert.json" --public-key "$D/state/yunbakd.pub" >"$D/cv.out" 2>&1 ||
                die "certificate $cert does not verify: $(cat "$D/cv.out")"
        yunbak certificate show "$cert" --socket "$SOCK" >"$D/show.out" 2>&1 || die "certificate show: $(cat "$D/show.out")"
        grep -q "on 1 host destroyed by the operator's word (attested)" "$D/show.out" &&
                grep -q "2 of the [0-9]* artifacts rest on the operator's attestation that the host was destroyed" "$D/show.out" ||
                die "the summary: $(cat "$D/show.out")"
}
certified "$n1" here /etc
grep -q "CLOUD-7" "$D/cert.json" || die "the certificate does not name the reference"
[ "$(ls -A /etc | wc -l)" = "$etc_before" ] || die "/etc changed"
certified "$n2" gone "$D/trees/gone-app/data"
grep -q "CLOUD-8" "$D/cert.json" || die "the certificate does not name the reference"
# Once certified, nothing more is attested.
api POST "/v1/decommissions/$n2/attest-host" '{"host":"gone","statement":"again"}' >/dev/null
[ "$(api_status)" = 409 ] || die "attest-host on a certified decommission: $(api_status)"
stop_yunbakd
echo "ok"
