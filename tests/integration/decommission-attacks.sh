#!/bin/sh
# The decommission flow attacked, each case a hole found in review: the final export may not go
# to a store that is hr-portal's tier-1 store under another name (a symbolic link to its
# directory, the directory written another way, a directory inside it), nor to its tier-1 store
# of an earlier version of its policy, nor to a store already holding a repository of hr-portal
# the catalog does not list; confirming an export is refused once a reload made the export store
# one of the system's; --not-before without a zone is the requester's local time, not
# yunbakd's; an action on a decommission that does not exist is audited; a system given to
# another department after the request is not exported, approved or executed on the old
# department's request; an export made and then waived still reads as waived once executed; a
# reason with a control character, which the certificate could not hold, is refused; a requester
# who is an auditor now may not withdraw.
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/decommission-flow-lib.sh"
daemon_system hr-portal 人社局
daemon_system moved 人社局
daemon_system kiosk 人社局
# add_store NAME URL: one more store in yunbakd.yaml.
add_store() {
        sed -i "s|^  handover:\$|  $1:\n    url: $2\n  handover:|" "$D/yunbakd.yaml"
        grep -q "^  $1:" "$D/yunbakd.yaml" || die "store $1 was not added to yunbakd.yaml"
}
ln -s "$D/store" "$D/store-link"
add_store alias "$D/store-link"
add_store spelled "$D/./store/"
add_store nested "$D/store/inner"
mkdir -p "$D/old" "$D/stale/hr-portal" "$D/handover2"
add_store handover2 "$D/handover2"
add_store old "$D/old"
add_store stale "$D/stale"
# set_tier1 STORE: hr-portal's policy backs up into STORE.
set_tier1() { sed -i "s/^  store: .*/  store: $1/" "$D/policies/hr-portal.yaml"; }
set_tier1 old
chmod -R a+rX "$D"
# yunbakd in UTC, the requester east of it: their local 08:00 is 00:00 UTC.
TZ=UTC
export TZ
start_yunbakd
set_tier1 local
[ "$(api POST /v1/reload | json 'j["ok"]')" = True ] || die "the policy on store local did not load"
[ "$(sql "SELECT count(*) FROM policy_versions WHERE system = 'hr-portal'")" = 2 ] ||
        die "the catalog did not keep both versions of hr-portal's policy"

# A date past what yunbakd can count (nanoseconds in 64 bits) is refused, saying the range.
expect_as 2 daemon decommission request --system hr-portal --reason "迁出" --not-before 9999-12-31
said stderr "a real date of the years 1970 to 2261"
api_as daemon POST /v1/decommissions '{"system":"hr-portal","reason":"x","not_before":"2262-06-01"}' >/dev/null
[ "$(cat "$D/status")" = 400 ] || die "not_before in 2262: $(cat "$D/status")"
audit_has decommission.request refused daemon "of the years 1970 to 2261, not '2262-06-01'"
# A control character in a reason (that the certificate could not hold) is refused at once.
api_as daemon POST /v1/decommissions '{"system":"hr-portal","reason":"迁出\u001b[2J"}' >/dev/null
[ "$(cat "$D/status")" = 400 ] || die "a reason with an escape: $(cat "$D/status")"
audit_has decommission.request refused daemon 'reason has a control character \(U\+001B\) at byte 6'
TZ=XST-8
expect_as 0 daemon decommission request --system hr-portal --reason "迁出" \
        --not-before 2099-06-30T08:00
TZ=UTC
[ "$(decom 1 'j["not_before"]')" = 2099-06-30T00:00:00Z ] ||
        die "--not-before 08:00 at UTC+8 is not 00:00Z: $(decom 1 'j["not_before"]')"
expect_as 0 games decommission approve 1

handover_key "$SCRATCH/handover-keys"
refused_export() { # STORE REGEX
        expect_as 8 daemon decommission export 1 --store "$1" \
                --public-key "$SCRATCH/handover-keys/hr-portal.pub"
        said stderr "$2"
        audit_has decommission.export refused daemon "$2"
}
refused_export alias "store 'alias' is at the same place as \(or inside or around\) store 'local' \(the tier-1 store of its policy\) of system 'hr-portal'"
refused_export spelled "store 'spelled' is at the same place as \(or inside or around\) store 'local' \(the tier-1 store of its policy\)"
refused_export nested "store 'nested' is at the same place as \(or inside or around\) store 'local' \(the tier-1 store of its policy\)"
refused_export old "store 'old' is the tier-1 store of an earlier version of its policy \(system 'hr-portal'\)"
refused_export stale "store 'stale' already holds a repository of system 'hr-portal' \($D/stale/hr-portal\)"
[ "$(decom 1 'j["state"]')" = approved ] || die "a refused export changed the state"
[ "$(sql "SELECT count(*) FROM jobs")" = 0 ] || die "a refused export queued a job"

# An export into handover, then a reload makes handover the tier-1 store: confirming is refused
# (execution would leave the system's backups there as the department's), and stays refused
# after the policy is put back (the store was the system's for a while); a new export into
# another store may be confirmed.
expect_as 0 daemon decommission export 1 --store handover \
        --public-key "$SCRATCH/handover-keys/hr-portal.pub" --wait --timeout 5min
[ "$(decom 1 'j["state"]')" = exported ] || die "the export did not end exported: $(decom 1 'j')"
set_tier1 handover
[ "$(api POST /v1/reload | json 'j["ok"]')" = True ] || die "the policy on store handover did not load"
expect_as 8 daemon decommission confirm-export 1
said stderr "decommission 1 of hr-portal cannot confirm its export: store 'handover' is the tier-1 store of its policy \(system 'hr-portal'\)"
audit_has decommission.confirm-export refused daemon 'cannot confirm its export'
[ "$(decom 1 'j["state"]')" = exported ] || die "a refused confirmation changed the state"
set_tier1 local
[ "$(api POST /v1/reload | json 'j["ok"]')" = True ] || die "the policy on store local did not load again"
expect_as 8 daemon decommission confirm-export 1
said stderr "store 'handover' is the tier-1 store of an earlier version of its policy.*Name a new export into another store"
expect_as 0 daemon decommission export 1 --store handover2 \
        --public-key "$SCRATCH/handover-keys/hr-portal.pub" --wait --timeout 5min
expect_as 0 daemon decommission confirm-export 1
[ "$(decom 1 'j["state"]')" = export-confirmed ] || die "the confirmation was not recorded"
[ "$(decom 1 'j["export"]["store"]')" = handover2 ] || die "the confirmed export's store"

# A system given to another department after the request: the old department may no longer
# export it (its data is no longer theirs) nor an operator approve that request; the requester
# withdraws it, and the new department requests again.
OBJECT=moved
expect_as 0 daemon decommission request --system moved --reason "迁出"
id=$(api GET '/v1/decommissions?system=moved' | json 'j["decommissions"][0]["id"]')
sed -i 's/^  department: .*/  department: 政数局/' "$D/policies/moved.yaml"
[ "$(api POST /v1/reload | json 'j["ok"]')" = True ] || die "moved's new department did not load"
expect_as 8 games decommission approve "$id"
said stderr "system 'moved' now belongs to department 政数局 \(its policy changed since decommission $id was requested by daemon of 人社局\)"
audit_has decommission.approve refused games 'now belongs to department 政数局'
expect_as 8 daemon decommission export "$id" --store handover \
        --public-key "$SCRATCH/handover-keys/hr-portal.pub"
said stderr "system 'moved' now belongs to department 政数局"
[ "$(decom "$id" 'j["state"]')" = requested ] || die "a refused action changed the state"
expect_as 0 daemon decommission withdraw "$id"
expect_as 0 bin decommission request --system moved --reason "迁出"
# Exported, then waived: once executed, show still says the export was waived (not confirmed).
id=$((id + 1))
expect_as 0 games decommission approve "$id"
yunbak key init --system moved --out "$SCRATCH/moved-keys" --passphrase-file "$SCRATCH/pass" \
        --no-register >/dev/null
chmod 755 "$SCRATCH/moved-keys"
chmod 644 "$SCRATCH/moved-keys/moved.pub"
expect_as 0 bin decommission export "$id" --store handover \
        --public-key "$SCRATCH/moved-keys/moved.pub" --wait --timeout 5min
expect_as 0 bin decommission waive-export "$id" --reason "已另行移交"
# (Executed, not certified: no copy of moved's key is registered.)
expect_as 1 root decommission execute "$id" --timeout 5min
[ "$(decom "$id" 'j["state"]')" = executed ] || die "moved was not executed: $(decom "$id" 'j')"
[ "$(decom "$id" 'j["export"]["state"]')" = waived ] ||
        die "the executed decommission's export state: $(decom "$id" 'j["export"]')"
expect_as 0 bin decommission show "$id"
said stdout '^  export waived: by bin at '
grep -q 'export confirmed' "$SCRATCH/stdout" && die "show says a waived export was confirmed"
OBJECT=

# An action on a decommission that does not exist is refused, and audited.
api_as games POST /v1/decommissions/99/approve '{}' >/dev/null
[ "$(cat "$D/status")" = 404 ] || die "approving decommission 99: $(cat "$D/status")"
OBJECT=- audit_has decommission.approve denied games 'no decommission 99'
# A requester whom a restart made an auditor may no longer withdraw: an auditor changes nothing.
OBJECT=kiosk
expect_as 0 daemon decommission request --system kiosk --reason "停用"
id=$(api GET '/v1/decommissions?system=kiosk' | json 'j["decommissions"][0]["id"]')
stop_yunbakd
python3 - "$D/yunbakd.yaml" <<'PY'
import sys
p = sys.argv[1]
s = open(p, encoding="utf-8").read()
old = "  - user: daemon\n    role: department\n    department: 人社局\n"
assert old in s, "no entry for daemon in yunbakd.yaml"
open(p, "w", encoding="utf-8").write(s.replace(old, "  - user: daemon\n    role: auditor\n"))
PY
start_yunbakd
expect_as 4 daemon decommission withdraw "$id"
said stderr "daemon requested decommission $id of kiosk but is an auditor now, and an auditor changes nothing"
audit_has decommission.withdraw denied daemon 'is an auditor now'
[ "$(decom "$id" 'j["state"]')" = requested ] || die "an auditor withdrew a decommission"
stop_yunbakd
