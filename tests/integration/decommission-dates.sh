#!/bin/sh
# What holds a decommission's execution back (docs/decommission.md, "Execution"), and what the
# certificate says of a key file (docs/decommission.md, "Certificate"):
# - the policy's tier1.lock_until refuses it (409, naming the date); with a not_before later
#   still, the refusal names the later date, and the other one too;
# - the policy file removed: the lock of its last version in the catalog still holds (a removed
#   policy does not lift it);
# - a reload after the export was confirmed makes the export's store the tier-3 store: execution
#   is refused (409) saying the export would be erased or the backups left, and so is a store
#   at the same place under another name; with the tier put back in its own store, it executes
#   and certifies;
# - the destroyed key file's verification in the certificate is what `yunbak key destroy`
#   reported (its method and the checks it listed), not a fixed sentence; the certificate
#   verifies.
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/daemon-lib.sh"
. "$TESTS/integration/decommission-api-lib.sh"

# "alias": the export's store at another spelling (a symbolic link to it).
ln -s "$D/handover" "$SCRATCH/handover-link"
sed -i "s|^  handover:\$|  alias:\n    url: $SCRATCH/handover-link\n&|" "$D/yunbakd.yaml"
grep -q '^  alias:$' "$D/yunbakd.yaml" || die "the store alias was not added to yunbakd.yaml"
decom_system hr-portal
P="$D/policies/hr-portal.yaml"
sed -i 's/^  incremental: .*/&\n  lock_until: 2030-06-30/' "$P"
grep -q '^  lock_until: 2030-06-30' "$P" || die "no lock_until in the policy"
cp "$P" "$SCRATCH/policy-locked.yaml"
# The lock as yunbakd says it: midnight of that day in its time zone, in UTC.
LOCK=$(date -u -d "@$(date -d 2030-06-30T00:00:00 +%s)" +%Y-%m-%dT%H:%M:%SZ)
start_yunbakd
snapshots hr-portal
k=$(file_copy hr-portal "$SCRATCH/copy.key")
n=$(decom_ready hr-portal export)
destroy_copy "$k" "$SCRATCH/copy.key"

# refused EXPECTED...: execute answers 409 and its error holds each EXPECTED (fixed strings).
refused() {
        api POST "/v1/decommissions/$n/execute" >/dev/null
        [ "$(api_status)" = 409 ] || die "execute: expected 409, got $(api_status): $(cat "$D/body")"
        for _e in "$@"; do
                grep -qF -- "$_e" "$D/body" || die "the refusal does not say '$_e': $(cat "$D/body")"
        done
        [ "$(sql "SELECT state FROM decommissions WHERE id = $n")" = export-confirmed ] ||
                die "a refused execution changed the state"
}

# The policy's lock alone.
refused "may not be executed before $LOCK (the policy's tier1.lock_until)"
# A later not_before: the refusal names it, and the lock too.
later=$(date -u -d 2031-01-15T00:00:00Z +%s)000000
sql "UPDATE decommissions SET not_before_usec = $later WHERE id = $n"
refused "may not be executed before 2031-01-15T00:00:00Z (its not_before: the migration fallback), the later of its two dates" \
        "the policy's tier1.lock_until is $LOCK too"
# An earlier not_before: the lock is the later.
earlier=$(date -u -d 2029-01-15T00:00:00Z +%s)000000
sql "UPDATE decommissions SET not_before_usec = $earlier WHERE id = $n"
refused "may not be executed before $LOCK (the policy's tier1.lock_until), the later of its two dates" \
        "its not_before (the migration fallback) is 2029-01-15T00:00:00Z too"
sql "UPDATE decommissions SET not_before_usec = 0 WHERE id = $n"

# The policy file removed: its last version's lock still holds.
mv "$P" "$SCRATCH/away.yaml"
api POST /v1/reload >/dev/null
[ "$(api_status)" = 200 ] || die "reload: $(cat "$D/body")"
[ "$(api GET /v1/status | json "len([s for s in j['systems'] if s['id'] == 'hr-portal'])")" = 0 ] ||
        die "hr-portal is still in force without its policy file"
refused "may not be executed before $LOCK (tier1.lock_until of its last policy, whose file is removed)"
[ "$(api GET "/v1/decommissions/$n" | json 'j["lock_until"]')" = $LOCK ] ||
        die "the decommission's lock_until without the policy file: $(cat "$D/body")"

# The policy back without the lock, but its tier 3 now in the export's store.
grep -v '^  lock_until:' "$SCRATCH/policy-locked.yaml" | sed 's/^  store: offsite$/  store: handover/' >"$P"
grep -q '^  store: handover$' "$P" || die "the policy's tier 3 is not in handover"
api POST /v1/reload >/dev/null
[ "$(api_status)" = 200 ] || die "reload: $(cat "$D/body")"
refused "its confirmed export's store 'handover' is now the tier-3 store of its policy ('handover')" \
        "would either erase the export or leave the system's tier-3 backups there"
[ "$(sql "SELECT count(*) FROM audit WHERE action = 'decommission.execute' AND result = 'refused' AND detail LIKE '%now the tier-3 store%'")" = 1 ] ||
        die "the refusal is not audited"
[ -d "$D/handover/hr-portal" ] || die "the export is gone"

# Or at the same place under another name.
grep -v '^  lock_until:' "$SCRATCH/policy-locked.yaml" | sed 's/^  store: offsite$/  store: alias/' >"$P"
api POST /v1/reload >/dev/null
[ "$(api_status)" = 200 ] || die "reload: $(cat "$D/body")"
refused "its confirmed export's store 'handover' is now at the same place as the tier-3 store of its policy ('alias')"

# The tier put back in its own store: executed and certified; the export left alone.
grep -v '^  lock_until:' "$SCRATCH/policy-locked.yaml" >"$P"
api POST /v1/reload >/dev/null
[ "$(api_status)" = 200 ] || die "reload: $(cat "$D/body")"
state=$(decom_run "$n" execute)
[ "$state" = certified ] || die "decommission $n ended $state: $(cat "$D/body")"
[ -d "$D/handover/hr-portal" ] || die "the export was erased"
[ ! -e "$D/offsite/hr-portal" ] && [ ! -e "$D/store/hr-portal" ] || die "a tier store still holds hr-portal"
cert=$(api GET "/v1/decommissions/$n" | json 'j["certificate"]')
api GET "/v1/certificates/$cert" >"$D/cert.json"
api GET /v1/systems/hr-portal/key-copies | json "[c for c in j['copies'] if c['id'] == $k][0]" >/dev/null ||
        die "key copy $k is not listed"
api GET /v1/systems/hr-portal/key-copies | python3 -c "import json,sys; print(json.dumps([c for c in json.load(sys.stdin)['copies'] if c['id'] == $k][0]))" >"$D/copy.json"
python3 - "$D/cert.json" "$D/copy.json" <<'PY' || die "the certificate: $(cat "$D/cert.json")"
import json, sys
c = json.load(open(sys.argv[1]))
assert c["decommission"]["lock_until"] is None, c["decommission"]
keys = [a for a in c["artifacts"] if a["kind"] == "key-copy"]
assert len(keys) == 1, keys
v = keys[0]["verification"]
ev = json.load(open(sys.argv[2]))["evidence"]
# The method and checks follow the evidence `yunbak key destroy` reported.
assert v["result"] == "passed", v
assert v["method"].startswith("yunbak key destroy on its host ("), v
assert ev["method"] in v["method"], (v, ev)
assert ("overwritten in place" in v["method"]) == ev["overwritten"], (v, ev)
assert v["detail"] == "checks made: " + "; ".join(ev["checks"]), (v, ev)
assert "open fails: ENOENT" in v["detail"], v
assert ("overwrite" in keys[0]["methods"]) == (
    "overwritten in place" in v["method"] and keys[0]["medium"]["overwrite_effective"]), keys[0]
PY
yunbak certificate verify "$D/cert.json" --public-key "$D/state/yunbakd.pub" >"$D/cv.out" 2>&1 ||
        die "the certificate does not verify: $(cat "$D/cv.out")"
stop_yunbakd
echo "ok"
