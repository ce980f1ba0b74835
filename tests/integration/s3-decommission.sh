#!/bin/sh
# A decommission whose tier-3 store is an S3 bucket with Object Lock, on a real Ceph
# (ceph-lib.sh; docs/decommission.md, "Object Lock"; docs/s3.md, "Object Lock"): hr-portal's
# full in the local tier-1 store and its off-site copy in the bucket, written with a day's
# retention. Executed, the local store is erased as always; in the bucket the store step deletes
# what the lock allows (the repository's config and lock) and counts what it keeps; verify names
# each object left with its retain-until date and passes; the certificate marks those backups
# "cryptographic erase; deletion blocked by Object Lock (compliance) until DATE" (methods:
# cryptographic-erase alone, verification locked, never deleted nor overwritten), states the
# latest date (object_lock_until), and verifies offline. The objects are still in the bucket.
# It runs about 25 s, most of it the Ceph start.
. "$TESTS/integration/lib.sh"
for tool in yunbakd curl sqlite3 python3; do
        command -v "$tool" >/dev/null || {
                echo "s3-decommission: no $tool: skipped"
                exit 77
        }
done

CEPH_DIR=$SCRATCH/ceph
YUNBAKD_PID=
finish() {
        set +e
        [ -z "$YUNBAKD_PID" ] || {
                kill "$YUNBAKD_PID" 2>/dev/null
                wait "$YUNBAKD_PID" 2>/dev/null
        }
        ceph_finish
        cleanup
}
trap finish EXIT
trap 'exit 1' HUP INT TERM
. "$TESTS/integration/daemon-lib.sh"
. "$TESTS/integration/decommission-api-lib.sh"
. "$TESTS/integration/ceph-lib.sh"
s3_bucket locked lock

# The off-site store is the bucket, with Object Lock and a day's retention.
python3 - "$D/yunbakd.yaml" "$D/offsite" "$S3_ENDPOINT" "$S3_CREDS" <<'PY'
import sys
path, offsite, endpoint, creds = sys.argv[1:]
text = open(path).read()
old = f"  offsite:\n    url: {offsite}\n"
assert old in text, text
text = text.replace(old, f"""  offsite:
    url: s3://locked/offsite
    s3:
      endpoint: {endpoint}
      credentials: {creds}
      object_lock: compliance
      retention: 1d
""")
open(path, "w").write(text)
PY

decom_system hr-portal
start_yunbakd
# The full, and its copy into the bucket (decommission-api-lib's snapshots() looks for a local
# off-site directory).
job=$(api POST /v1/systems/hr-portal/backup '{"level":"full"}' | json 'j["job"]')
[ "$(wait_job "$job")" = succeeded ] || die "the backup failed: $(cat "$D/body")"
job=$(as "$DEPT" POST /v1/offsite/requests '{"system":"hr-portal","reason":"before the decommission"}' |
        json 'j["job"]')
expect 201 "the off-site request"
[ "$(wait_job "$job")" = succeeded ] || die "the off-site copy failed: $(cat "$D/body") $(tail -20 "$D/yunbakd.log")"
objects() { # the keys under offsite/hr-portal/snapshots in the bucket
        s3_curl GET "/locked?list-type=2&prefix=offsite%2Fhr-portal%2Fsnapshots%2F" -f |
                grep -o '<Key>[^<]*' | sed 's/<Key>//'
}
n_objects=$(objects | wc -l)
[ "$n_objects" -gt 0 ] || die "no off-site copy in the bucket"

k1=$(file_copy hr-portal "$D/keys/hr-portal.copy.key")
destroy_copy "$k1" "$D/keys/hr-portal.copy.key"
n=$(decom_ready hr-portal)
state=$(decom_run "$n" execute)
[ "$state" = certified ] || die "decommission $n ended $state: $(cat "$D/body")"
api GET "/v1/decommissions/$n" >"$D/decom.json"
for s in "store local" "store offsite" verify certificate; do
        set -- $s
        [ "$(step "$n" "$1" "${2:--}")" = done ] || die "step $s is not done: $(cat "$D/decom.json")"
done
[ ! -e "$D/store/hr-portal" ] || die "hr-portal's repository is still in the local store"
# The lock kept the backups in the bucket, as it must.
[ "$(objects | wc -l)" = "$n_objects" ] || die "the bucket holds $(objects | wc -l) objects of hr-portal's copy, not $n_objects"

python3 - "$D/decom.json" "$n_objects" <<'PY' || die "the steps: $(cat "$D/decom.json")"
import json, re, sys
d = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
steps = {(s["step"], s["target"]): s for s in d["steps"]}
store = steps[("store", "offsite")]["detail"]
assert re.search(r"; %d objects? \(\d+ bytes\) kept by Object Lock \(compliance\) until "
                 r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ at the latest" % n, store), store
verify = steps[("verify", "-")]["detail"]
assert verify.startswith("passed: "), verify
assert "store 'offsite': %d object%s of s3://locked/offsite/hr-portal kept by Object Lock" % (
    n, "" if n == 1 else "s") in verify, verify
named = re.findall(r"hr-portal/snapshots/\S+ until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", verify)
assert len(named) == min(n, 20), (named, verify)
PY

cert=$(json 'j["certificate"]' <"$D/decom.json")
api GET "/v1/certificates/$cert" >"$D/cert.json"
[ "$(api_status)" = 200 ] || die "GET /v1/certificates/$cert: $(api_status)"
python3 - "$D/cert.json" "$n_objects" <<'PY' || die "the certificate: $(cat "$D/cert.json")"
import datetime, json, sys
c = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
until = c["object_lock_until"]
t = datetime.datetime.strptime(until, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
left = (t - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
assert 86400 - 3600 < left <= 86400, (until, left)
backups = [a for a in c["artifacts"] if a["kind"] == "backups"]
locked = [a for a in backups if a.get("state") == "locked"]
assert len(locked) == 1, backups
a = locked[0]
assert a["name"] == "offsite" and a["tiers"] == [3] and a["files"] == n, a
assert a["methods"] == ["cryptographic-erase"] and a["nist_category"] == "purge", a
assert a["claim"] == "cryptographic erase; deletion blocked by Object Lock (compliance) until " + until, a
assert a["locked_until"] == until and a["verification"]["result"] == "locked", a
assert a["operator_must"] and until in a["operator_must"], a
assert a["medium"]["filesystem"] == "s3" and not a["medium"]["overwrite_effective"], a["medium"]
# What was deleted is claimed deleted, where it was: the local store whole.
local = [a for a in backups if a["name"] == "local"]
assert len(local) == 1 and "delete" in local[0]["methods"], backups
# Nothing of the bucket is claimed deleted but what was: never the locked objects.
for b in backups:
    if b["name"] == "offsite" and b is not a:
        assert b["files"] < n + 3, b
PY
yunbak certificate verify "$D/cert.json" --public-key "$D/state/yunbakd.pub" >"$D/cv.out" 2>&1 ||
        die "the certificate does not verify: $(cat "$D/cv.out")"
yunbak certificate show "$cert" --socket "$SOCK" >"$D/show.out" 2>&1 || die "certificate show: $(cat "$D/show.out")"
grep -q "kept by Object Lock (compliance) until" "$D/show.out" || die "the summary does not say what the lock keeps: $(cat "$D/show.out")"
echo "s3-decommission: ok"
