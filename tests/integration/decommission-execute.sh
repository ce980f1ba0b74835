#!/bin/sh
# A decommission executed end to end (docs/decommission.md, "Execution", "Verification",
# "Certificate"): hr-portal has a full in a tier-1 store and its copy in a tier-3 store, beside
# hotline in the same stores; its final export is made into a third store, sealed to a new key,
# and confirmed; two file copies of its key are destroyed and an offline one is attested;
# execute stops its tiers (cancelling its running backup), erases its repository in both
# stores, wipes its sources and the agent's state for it, verifies and issues a signed
# certificate. Afterwards: nothing of hr-portal in either store, no snapshot of it in the
# catalog, its sources empty (the export left alone: the department's, named in the certificate
# as handed over), hotline's snapshots still verify and its tree is untouched, the certificate
# verifies (and an auditor may read it, an unknown caller not), status and metrics say
# decommissioned, a backup now is refused, and on the test clock the next due backup runs for
# hotline only.
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/daemon-lib.sh"
. "$TESTS/integration/decommission-api-lib.sh"

decom_system hr-portal
decom_system hotline
echo "hotline's own state" >"$D/agent-state/hotline-marker"
start_yunbakd
snapshots hr-portal
snapshots hotline
hot_tree=$(tree_digest "$D/trees/hotline/data")

k1=$(file_copy hr-portal "$D/keys/hr-portal.copy.key")
k2=$(file_copy hr-portal "$SCRATCH/usb-stick.key")
k3=$(offline_copy hr-portal)
n=$(decom_ready hr-portal export)
# Before the execution, nothing is stopped.
[ "$(api GET /v1/status | json "[s['stopped'] for s in j['systems'] if s['id'] == 'hr-portal'][0]")" = None ] ||
        die "hr-portal is stopped before its execution"
destroy_copy "$k1" "$D/keys/hr-portal.copy.key"
destroy_copy "$k2" "$SCRATCH/usb-stick.key"
attest_copy "$k3"
# A backup of hr-portal runs when the execution starts (its hook sleeps): the stop step cancels
# it and waits for it to end.
sed -i "s|^    - $D/trees/hr-portal/data\$|&\n  hooks:\n    - name: slow\n      type: command\n      run: sleep 300|" \
        "$D/policies/hr-portal.yaml"
api POST /v1/reload >/dev/null
[ "$(api_status)" = 200 ] || die "reload: $(cat "$D/body")"
slow=$(api POST /v1/systems/hr-portal/backup '{"level":"full"}' | json 'j["job"]')
i=0
until [ "$(api GET "/v1/jobs/$slow" | json 'j["state"]')" = running ]; do
        i=$((i + 1))
        [ "$i" -lt 600 ] || die "job $slow did not start"
        sleep 0.1
done
# Only an operator executes.
as "$DEPT" POST "/v1/decommissions/$n/execute" >/dev/null
expect 403 "the department executing"

state=$(decom_run "$n" execute)
[ "$state" = certified ] || die "decommission $n ended $state: $(cat "$D/body")"
api GET "/v1/decommissions/$n" >"$D/decom.json"
[ "$(api GET "/v1/jobs/$slow" | json 'j["state"]')" = cancelled ] || die "job $slow was not cancelled: $(cat "$D/body")"
json '[s["detail"] for s in j["steps"] if s["step"] == "stop"][0]' <"$D/decom.json" | grep -q "1 running job cancelled and ended" ||
        die "the stop step: $(cat "$D/decom.json")"
for s in stop "store local" "store offsite" "agent here" keys verify certificate; do
        set -- $s
        [ "$(step "$n" "$1" "${2:--}")" = done ] || die "step $s is not done: $(cat "$D/decom.json")"
done
! json '[s["target"] for s in j["steps"] if s["step"] == "store"]' <"$D/decom.json" | grep -q handover ||
        die "a store step for the export store"

# Nothing of hr-portal in either store, nor in the catalog; hotline untouched.
[ ! -e "$D/store/hr-portal" ] && [ ! -e "$D/offsite/hr-portal" ] || die "hr-portal's repository is still in a store"
[ "$(sql "SELECT count(*) FROM snapshots WHERE system = 'hr-portal' AND store != 'handover'")" = 0 ] ||
        die "the catalog still lists hr-portal's snapshots"
# The export is the department's: untouched, still in the catalog, restorable with its key.
[ "$(sql "SELECT count(*) FROM snapshots WHERE system = 'hr-portal' AND store = 'handover'")" = 1 ] ||
        die "the export's snapshot left the catalog"
yunbak verify --store "$D/handover" --system hr-portal >"$D/verify.out" 2>&1 || {
        cat "$D/verify.out" >&2
        die "the export does not verify after the decommission"
}
[ "$(sql "SELECT count(*) FROM snapshots WHERE system = 'hotline'")" = 2 ] || die "hotline's snapshots left the catalog"
for st in store offsite; do
        yunbak verify --store "$D/$st" --system hotline >"$D/verify.out" 2>&1 || {
                cat "$D/verify.out" >&2
                die "hotline's repository in $st does not verify after hr-portal's decommission"
        }
done
[ "$(tree_digest "$D/trees/hotline/data")" = "$hot_tree" ] || die "hotline's sources changed"
[ -f "$D/agent-state/hotline-marker" ] || die "hotline's agent state was removed"
# hr-portal's sources are cleared (the directory kept: it may be a mount point).
[ -d "$D/trees/hr-portal/data" ] && [ -z "$(ls -A "$D/trees/hr-portal/data")" ] ||
        die "hr-portal's sources are not empty: $(ls -A "$D/trees/hr-portal/data")"

# The certificate: as issued, signed by yunbakd, naming both stores and the three key copies.
cert=$(json 'j["certificate"]' <"$D/decom.json")
api GET "/v1/certificates/$cert" >"$D/cert.json"
[ "$(api_status)" = 200 ] || die "GET /v1/certificates/$cert: $(api_status)"
[ "$(sql "SELECT body FROM certificates WHERE id = $cert")" = "$(cat "$D/cert.json")" ] ||
        die "the certificate served is not the one kept"
python3 - "$D/cert.json" "$n" <<'PY' || die "the certificate: $(cat "$D/cert.json")"
import json, sys
c = json.load(open(sys.argv[1]))
assert c["type"] == "yunbak-decommission-certificate" and c["system"]["id"] == "hr-portal", c
e = c["decommission"]["export"]
assert c["decommission"]["id"] == int(sys.argv[2]) and e["state"] == "confirmed", e
assert e["store"] == "handover" and e["snapshot"] and e["key_id"] != c["system"]["key_id"], e
assert c["handed_over"] == {"store": "handover", "snapshot": e["snapshot"], "key_id": e["key_id"]}, c["handed_over"]
assert c["decommission"]["verified"]["result"] == "passed"
arts = c["artifacts"]
backups = {a["name"]: a for a in arts if a["kind"] == "backups"}
assert sorted(backups) == ["local", "offsite"], backups  # never the export store
assert backups["local"]["tiers"] == [1] and backups["offsite"]["tiers"] == [3], backups
for a in backups.values():
    assert "cryptographic-erase" in a["methods"] and "delete" in a["methods"], a
    assert ("overwrite" in a["methods"]) == a["medium"]["overwrite_effective"], a
    assert a["files"] > 0 and a["size_bytes"] > 0, a
keys = [a for a in arts if a["kind"] == "key-copy"]
assert sorted(a["state"] for a in keys) == ["attested", "destroyed", "destroyed"], keys
assert [a["verification"]["result"] for a in keys if a["state"] == "attested"] == ["attested"], keys
assert [a for a in arts if a["kind"] == "source-path"], arts
assert [a for a in arts if a["kind"] == "agent-state"], arts
PY
if yunbak certificate verify --help >/dev/null 2>&1; then
        yunbak certificate verify "$D/cert.json" --public-key "$D/state/yunbakd.pub" >"$D/cv.out" 2>&1 ||
                die "the certificate does not verify: $(cat "$D/cv.out")"
        sed 's/"hr-portal"/"hr-portal2"/' "$D/cert.json" >"$D/cert-changed.json"
        ! yunbak certificate verify "$D/cert-changed.json" --public-key "$D/state/yunbakd.pub" >/dev/null 2>&1 ||
                die "a changed certificate verifies"
fi
# Who reads it: the department and the auditor, as issued; an unknown caller, no; the list too.
[ "$(as "$DEPT" GET "/v1/certificates/$cert")" = "$(cat "$D/cert.json")" ] ||
        die "the department does not read the certificate as issued: $(cat "$D/status")"
as sys GET "/v1/certificates/$cert" >/dev/null
expect 200 "the auditor reading the certificate"
[ "$(as sys GET "/v1/certificates?system=hr-portal" | json 'len(j["certificates"])')" = 1 ] ||
        die "the auditor's list: $(cat "$D/body")"
as nobody GET "/v1/certificates/$cert" >/dev/null
[ "$(cat "$D/status")" != 200 ] || die "an unknown caller read the certificate"

# Status: decommissioned, never ok; a backup now is refused, naming the decommission.
api GET /v1/status | json "[s['stopped'] for s in j['systems'] if s['id'] == 'hr-portal'][0]" |
        grep -q "decommissioned (certificate $cert): remove its policy file" || die "status: $(cat "$D/body")"
yunbak status --socket "$SOCK" >"$D/status.out" 2>&1 || true
grep "^hr-portal" "$D/status.out" | grep -q "decommissioned (certificate $cert)" || die "yunbak status: $(cat "$D/status.out")"
api POST /v1/systems/hr-portal/backup '{"level":"full"}' >/dev/null
[ "$(api_status)" = 409 ] && grep -q "decommissioned (decommission $n" "$D/body" || die "a backup now of hr-portal: $(api_status) $(cat "$D/body")"
# Metrics: the state of the decommission, the tiers not running, no stale success.
curl -s "http://127.0.0.1:$PORT/metrics" >"$D/metrics"
grep -qx 'yunbak_decommission_state{system="hr-portal",state="certified"} 1' "$D/metrics" &&
        grep -qx 'yunbak_decommission_state{system="hr-portal",state="executing"} 0' "$D/metrics" &&
        grep -qx 'yunbak_tier_running{system="hr-portal",tier="1"} 0' "$D/metrics" &&
        grep -qx 'yunbak_tier_running{system="hr-portal",tier="3"} 0' "$D/metrics" &&
        grep -qx 'yunbak_tier_running{system="hotline",tier="1"} 1' "$D/metrics" || die "metrics: $(grep -e decommission -e tier_running "$D/metrics")"
! grep -q 'yunbak_last_success_timestamp_seconds{system="hr-portal"' "$D/metrics" || die "metrics give hr-portal a last success"
grep -q 'yunbak_last_success_timestamp_seconds{system="hotline"' "$D/metrics" || die "metrics lost hotline's last success"
! grep -q 'yunbak_decommission_state{system="hotline"' "$D/metrics" || die "metrics give hotline a decommission"
jobs_before=$(sql "SELECT count(*) FROM jobs WHERE system = 'hr-portal'")
hot_before=$(sql "SELECT count(*) FROM jobs WHERE system = 'hotline'")
stop_yunbakd

# The test clock, from tomorrow: the incremental due at 02:00 runs for hotline only.
day=$(date -u -d tomorrow +%Y-%m-%d)
YUNBAKD_TEST_CLOCK="${day}T00:00:00Z" YUNBAKD_TEST_UNTIL="${day}T06:00:00Z" \
        yunbakd --config "$D/yunbakd.yaml" --foreground >>"$D/yunbakd.log" 2>&1 || die "yunbakd on the test clock failed"
[ "$(sql "SELECT count(*) FROM jobs WHERE system = 'hr-portal'")" = "$jobs_before" ] ||
        die "a job ran for hr-portal after its decommission: $(sql "SELECT * FROM jobs WHERE system = 'hr-portal'")"
[ "$(sql "SELECT count(*) FROM jobs WHERE system = 'hotline'")" -gt "$hot_before" ] ||
        die "hotline's due incremental did not run on the test clock"
[ ! -e "$D/store/hr-portal" ] || die "something of hr-portal came back into the store"
echo "ok"
