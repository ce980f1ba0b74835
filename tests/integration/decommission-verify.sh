#!/bin/sh
# Verification refuses a certificate while anything is left (docs/decommission.md,
# "Verification"), and an execution killed in a step resumes (the restart rule):
# - yunbakd is killed in the middle of the store step (YUNBAKD_TEST_DECOMMISSION_KILL=store, a
#   test hook): the decommission stays executing with the step running; the next yunbakd marks it
#   interrupted (audited), and execute again finishes the steps;
# - a store that looks empty while the catalog lists the system's snapshots there (unmounted)
#   fails its step, saying so, rather than being claimed erased;
# - a key copy still held: the execution ends executed, the keys step waiting and naming it, no
#   certificate;
# - the copy destroyed, but a file of the system planted back in a store and a copy of its
#   repository under another name: verify names both and refuses again;
# - both removed: verify passes and the certificate is issued.
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/daemon-lib.sh"
. "$TESTS/integration/decommission-api-lib.sh"

decom_system hr-portal
start_yunbakd
snapshots hr-portal
held=$(file_copy hr-portal "$SCRATCH/held.key")
n=$(decom_ready hr-portal)
stop_yunbakd

# Killed in the store step, after it erased its first store.
YUNBAKD_TEST_DECOMMISSION_KILL=store start_yunbakd
api POST "/v1/decommissions/$n/execute" >/dev/null
[ "$(api_status)" = 202 ] || die "execute: $(api_status) $(cat "$D/body")"
i=0
while kill -0 "$YUNBAKD_PID" 2>/dev/null && ! grep -q '^State:.*zombie' "/proc/$YUNBAKD_PID/status" 2>/dev/null; do
        i=$((i + 1))
        [ "$i" -lt 1200 ] || die "the test hook did not kill yunbakd within 120 s"
        sleep 0.1
done
set +e
wait "$YUNBAKD_PID"
rc=$?
set -e
[ "$rc" = 137 ] || die "yunbakd ended $rc, not by SIGKILL"
[ "$(sql "SELECT state FROM decommissions WHERE id = $n")" = executing ] || die "not executing after the kill"
[ "$(sql "SELECT count(*) FROM decommission_steps WHERE decommission = $n AND step = 'store' AND state = 'running'")" = 1 ] ||
        die "no store step left running: $(sql "SELECT step, target, state FROM decommission_steps")"
# The next yunbakd marks it interrupted, and says so in the audit log.
start_yunbakd
[ "$(sql "SELECT count(*) FROM decommission_steps WHERE decommission = $n AND state = 'running'")" = 0 ] ||
        die "a step still running after the restart"
[ "$(sql "SELECT count(*) FROM decommission_steps WHERE decommission = $n AND step = 'store' AND state = 'interrupted'")" = 1 ] ||
        die "the store step is not interrupted"
[ "$(sql "SELECT count(*) FROM audit WHERE action = 'decommission.step' AND result = 'interrupted'")" = 1 ] ||
        die "the interrupted step is not audited"
# Nothing runs for the system meanwhile.
api POST /v1/systems/hr-portal/backup '{"level":"full"}' >/dev/null
[ "$(api_status)" = 409 ] && grep -q "being decommissioned (decommission $n" "$D/body" || die "a backup now while executing: $(cat "$D/body")"

# A store that looks empty while the catalog lists snapshots there (unmounted): not claimed
# erased; its step fails, saying so, and the others go on.
mv "$D/offsite/hr-portal" "$SCRATCH/offsite-away"
state=$(decom_run "$n" execute)
[ "$state" = executed ] || die "with a store unmounted, decommission $n ended $state"
[ "$(step "$n" store offsite)" = failed ] && [ "$(step "$n" store local)" = done ] ||
        die "the store steps with offsite unmounted: $(cat "$D/body")"
api GET "/v1/decommissions/$n" | json 'j["last_error"]' | grep -q "store 'offsite' has no repository at $D/offsite/hr-portal, though the catalog lists 1 snapshot of the system there: is the store mounted" ||
        die "last_error does not say the store looks unmounted: $(cat "$D/body")"
mv "$SCRATCH/offsite-away" "$D/offsite/hr-portal"

# Execute again: the stores are erased; the held copy keeps it executed, with no certificate.
state=$(decom_run "$n" execute)
[ "$state" = executed ] || die "with a key copy held, decommission $n ended $state"
[ "$(step "$n" store local)" = done ] && [ "$(step "$n" store offsite)" = done ] || die "the store steps: $(cat "$D/body")"
[ "$(step "$n" keys -)" = waiting ] || die "the keys step is not waiting: $(cat "$D/body")"
api GET "/v1/decommissions/$n" | json 'j["last_error"]' | grep -q "key copy $held ($(hostname):$SCRATCH/held.key)" ||
        die "last_error does not name the held copy: $(cat "$D/body")"
[ "$(api GET "/v1/decommissions/$n" | json 'j["certificate"]')" = None ] || die "a certificate with a key copy held"
[ "$(sql "SELECT count(*) FROM certificates")" = 0 ] || die "a certificate was kept"
[ ! -e "$D/store/hr-portal" ] && [ ! -e "$D/offsite/hr-portal" ] || die "the stores still hold hr-portal"

# The copy destroyed; but a file planted back, and the repository copied under another name.
destroy_copy "$held" "$SCRATCH/held.key"
api GET "/v1/decommissions/$n" >"$D/decom.json"
snap=$(json '[s["artifact"]["snapshot_ids"][0] for s in j["steps"] if s["target"] == "local"][0]' <"$D/decom.json")
mkdir -p "$D/store/hr-portal/snapshots/$snap"
echo planted >"$D/store/hr-portal/snapshots/$snap/header"
mkdir -p "$D/offsite/old-name"
kid=$(json 'j["key_id"]' <"$D/keys/hr-portal.pub")
printf '{"type":"yunbak-repository","format":1,"system":"hr-portal","key":{"key_id":"%s"}}\n' "$kid" \
        >"$D/offsite/old-name/config"
state=$(decom_run "$n" verify)
[ "$state" = executed ] || die "verification passed with files planted back: $state"
[ "$(step "$n" verify -)" = failed ] || die "the verify step did not fail"
err=$(api GET "/v1/decommissions/$n" | json 'j["last_error"]')
echo "$err" | grep -q "store 'local': $D/store/hr-portal is still there" || die "last_error does not name the planted file: $err"
echo "$err" | grep -q "$D/store/hr-portal/snapshots/$snap is there again" || die "last_error does not name the probed snapshot: $err"
echo "$err" | grep -q "$D/offsite/old-name is a repository sealed to the system's key $kid" ||
        die "last_error does not name the copy under another name: $err"
[ "$(sql "SELECT count(*) FROM certificates")" = 0 ] || die "a certificate despite what is left"
# Only an executed decommission is verified; the department may not verify.
as "$DEPT" POST "/v1/decommissions/$n/verify" >/dev/null
expect 403 "the department verifying"

# Removed: verification passes, the certificate is issued.
rm -rf "$D/store/hr-portal" "$D/offsite/old-name"
state=$(decom_run "$n" verify)
[ "$state" = certified ] || die "after the removal, decommission $n ended $state: $(cat "$D/body")"
cert=$(api GET "/v1/decommissions/$n" | json 'j["certificate"]')
[ "$(api GET "/v1/certificates/$cert" | json 'j["decommission"]["id"]')" = "$n" ] || die "certificate $cert: $(cat "$D/body")"
api POST "/v1/decommissions/$n/verify" >/dev/null
[ "$(api_status)" = 409 ] || die "verify of a certified decommission: $(api_status)"
stop_yunbakd
echo "ok"
