#!/bin/sh
# Who may do what in a decommission, by real uids through `yunbak decommission` and the API:
# the requester (a department person) cannot approve their own request (403 naming the rule);
# another department can neither request nor read; an auditor lists and shows, and every action
# of theirs is 403; an operator cannot request or waive; a waiver needs a reason; an export
# sealed to the system's own key, or into one of its tier stores, is refused naming why; one
# live decommission per system (409 naming it); a wrong state is 409 naming the state and what
# comes next; the requester may withdraw, nobody else. Execution before --not-before or the
# policy's tier1.lock_until is refused with 409 naming the date. Each refusal is audited.
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/decommission-flow-lib.sh"
daemon_system hr-portal 人社局
daemon_system hotline 政数局
# A system under its policy's migration lock until far away.
daemon_system hr-locked 人社局 "" "" "  lock_until: 2099-12-31"
chmod -R a+rX "$D"
start_yunbakd
job=$(api POST "/v1/systems/hr-portal/backup" '{"level":"full"}' | json 'j["job"]')
[ "$(wait_job "$job")" = succeeded ] || die "the backup of hr-portal failed: $(cat "$D/body")"

# Requests are the department's: not an operator's, an auditor's or another department's.
expect_as 4 root decommission request --system hr-portal --reason "operator"
said stderr "requested by a person of its department \(人社局\), not by operator root"
expect_as 4 sys decommission request --system hr-portal --reason "auditor"
expect_as 1 bin decommission request --system hr-portal --reason "not mine"
said stderr "no system 'hr-portal'"
audit_has decommission.request denied bin "no system 'hr-portal'"
[ "$(sql "SELECT count(*) FROM decommissions")" = 0 ] || die "a refused request was recorded"

expect_as 0 daemon decommission request --system hr-portal --reason "迁出" --not-before 2099-06-30
# A date without a zone is the requester's local midnight (sent in UTC).
decom 1 'j["not_before"]' | grep -Eq '^2099-06-(29|30)T[0-9:]{8}Z$' ||
        die "not_before was not kept: $(decom 1 'j["not_before"]')"
# One live decommission per system.
expect_as 8 sync decommission request --system hr-portal --reason "again"
said stderr "system 'hr-portal' already has decommission 1 \(requested, requested by daemon\)"
audit_has decommission.request refused sync 'already has decommission 1'

# The requester may not approve, even as a department person; an auditor reads only.
expect_as 4 daemon decommission approve 1
said stderr 'the requester may not approve their own request'
audit_has decommission.approve denied daemon 'the requester may not approve their own request'
expect_as 4 sync decommission approve 1
said stderr 'only an operator may approve decommission 1 of hr-portal, not department sync'
expect_as 0 sys decommission list
said stdout '^1 +hr-portal +requested +daemon'
expect_as 0 sys decommission show 1
said stdout 'next: an operator other than daemon must approve it first'
for a in "approve 1" "refuse 1 --reason x" "withdraw 1" "confirm-export 1" "waive-export 1 --reason x" \
        "execute 1 --no-wait" "verify 1 --no-wait" \
        "export 1 --store handover --public-key $D/keys/hr-portal.pub"; do
        # shellcheck disable=SC2086 # the words are the arguments
        expect_as 4 sys decommission $a
done
audit_has decommission.waive-export denied sys 'may not do it'
# Another department does not see it.
expect_as 1 bin decommission show 1
said stderr 'no decommission 1'
expect_as 0 bin decommission list --json
[ "$(json 'len(j["decommissions"])' <"$SCRATCH/stdout")" = 0 ] || die "bin sees another department's decommission"
# A wrong state: 409 naming it and what comes next.
expect_as 8 daemon decommission confirm-export 1
said stderr 'decommission 1 of hr-portal is requested: an operator other than daemon must approve it first'
expect_as 2 games decommission refuse 1 # no --reason: the command line says so
api POST /v1/decommissions/1/refuse '{}' >/dev/null
[ "$(api_status)" = 400 ] || die "a refusal without a reason: $(api_status)"

expect_as 0 games decommission approve 1
# Waiving: the department's, with a reason.
expect_as 4 games decommission waive-export 1 --reason "operator"
said stderr "the department's \(人社局\): operator games may not do it"
api_as daemon POST /v1/decommissions/1/waive-export '{}' >/dev/null
[ "$(cat "$D/status")" = 400 ] || die "a waiver without a reason: $(cat "$D/status")"
audit_has decommission.waive-export refused daemon 'reason must be a text of 1 to 1000 bytes, and is required'
# The export: not sealed to the system's own key, not into a tier store of it.
expect_as 8 daemon decommission export 1 --store handover --public-key "$D/keys/hr-portal.pub"
said stderr "the public key is system 'hr-portal''s own key \(key id [0-9a-f]{16}\), which the decommission destroys"
audit_has decommission.export refused daemon "own key"
handover_key "$SCRATCH/handover-keys"
expect_as 8 daemon decommission export 1 --store local --public-key "$SCRATCH/handover-keys/hr-portal.pub"
said stderr "store 'local' is the tier-1 store of its policy \(system 'hr-portal'\), whose repository there the decommission destroys"
expect_as 2 daemon decommission export 1 --store nowhere --public-key "$SCRATCH/handover-keys/hr-portal.pub"
said stderr "store 'nowhere' is not in "
[ "$(decom 1 'j["state"]')" = approved ] || die "a refused export changed the state"

# Withdrawing: the requester's only.
expect_as 4 sync decommission withdraw 1
said stderr 'only the requester, daemon, may withdraw decommission 1'
expect_as 0 daemon decommission waive-export 1 --reason "数据已另行移交"
said stdout 'export waived: by daemon at '
expect_as 8 daemon decommission withdraw 1
said stderr 'decommission 1 of hr-portal is export-waived: an operator executes it'

# Execution before --not-before, and before the policy's lock_until: 409 naming the date.
execute_refused() { # N DATE
        expect_as 8 root decommission execute "$1"
        said stderr "$2"
}
execute_refused 1 '2099-06-2[89]|2099-06-30'
audit_has decommission.execute refused root '2099-06-2[89]|2099-06-30'
expect_as 0 daemon decommission request --system hr-locked --reason "迁出"
expect_as 0 games decommission approve 2
expect_as 0 daemon decommission waive-export 2 --reason "无需导出"
execute_refused 2 '2099-12-3[01]'
OBJECT=hr-locked audit_has decommission.execute refused root '2099-12-3[01]'
[ "$(decom 2 'j["state"]')" = export-waived ] || die "a refused execution changed the state"
# The requester withdraws a request before execution; then a new one may be made.
OBJECT=hotline
expect_as 0 bin decommission request --system hotline --reason "合并"
id=$(api GET '/v1/decommissions?system=hotline' | json 'j["decommissions"][0]["id"]')
expect_as 4 root decommission withdraw "$id"
expect_as 0 bin decommission withdraw "$id" --reason "不再下线"
said stdout "Decommission $id of hotline: withdrawn"
OBJECT=hotline audit_has decommission.withdraw ok bin 'withdrawn by the requester: 不再下线'
expect_as 0 bin decommission request --system hotline --reason "再次申请"
[ "$(api GET /v1/systems/hotline | json 'j["decommission"]["state"]')" = requested ] ||
        die "the new request is not the live one"
stop_yunbakd
