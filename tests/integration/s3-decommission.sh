#!/bin/sh
# yunbakd with its tier-1 and tier-3 stores in an S3 bucket with Object Lock, on a real Ceph
# (ceph-lib.sh; docs/s3.md, "Object Lock"; docs/decommission.md, "Object Lock"); every backup is
# written with a day's retention (tier 3's with an hour's).
# Retention (keep_last: 1) after a second full would prune the first: Object Lock keeps it, and
# the job still succeeds, the audit log says "kept" with the date, and `yunbak status` shows it.
# Then a decommission: in each store the store step deletes what the lock allows (the
# repository's config and lock) and counts what it keeps; verify names each object left with its
# retain-until date and passes; the certificate marks those backups "cryptographic erase;
# deletion blocked by Object Lock (compliance) until DATE" (methods: cryptographic-erase alone,
# verification locked, never deleted nor overwritten), states the latest date
# (object_lock_until), and verifies offline. The objects are still in the bucket.
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
# The off-site store's retention is an hour (the store refuses less than a day but with this
# test hook).
export YUNBAK_TEST_SHORT_RETENTION=1
s3_bucket locked lock

# The tier-1 store "local" and the off-site store are the bucket, with Object Lock.
python3 - "$D/yunbakd.yaml" "$D" "$S3_ENDPOINT" "$S3_CREDS" <<'PY'
import sys
path, d, endpoint, creds = sys.argv[1:]
text = open(path).read()
for name, url, retention in (("local", f"{d}/store", "1d"), ("offsite", f"{d}/offsite", "1h")):
    old = f"  {name}:\n    url: {url}\n"
    assert old in text, text
    text = text.replace(old, f"""  {name}:
    url: s3://locked/{name}
    s3:
      endpoint: {endpoint}
      credentials: {creds}
      object_lock: compliance
      retention: {retention}
""")
open(path, "w").write(text)
PY

decom_system hr-portal
sed -i 's|^  incremental: .*|&\n  retention:\n    keep_last: 1|' "$D/policies/hr-portal.yaml"
grep -q '^    keep_last: 1$' "$D/policies/hr-portal.yaml" || die "no retention in the policy"
start_yunbakd

# --- Retention: the first full is kept by the lock -------------------------------------------
for i in 1 2; do
        seq 1 $((3000 * i)) >"$D/trees/hr-portal/data/numbers.txt"
        job=$(api POST /v1/systems/hr-portal/backup '{"level":"full"}' | json 'j["job"]')
        [ "$(wait_job "$job")" = succeeded ] || die "backup $i failed: $(cat "$D/body")"
done
first=$(sql "SELECT id FROM snapshots WHERE system = 'hr-portal' ORDER BY id LIMIT 1")
[ "$(sql "SELECT count(*) FROM snapshots WHERE system = 'hr-portal'")" = 2 ] ||
        die "the catalog lost a snapshot the lock keeps"
kept=$(sql "SELECT detail FROM audit WHERE action = 'snapshot.prune' AND result = 'kept'")
echo "$kept" | grep -Eq "^snapshot $first in local is under Object Lock \(compliance\) until [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z: it can be pruned from then\$" ||
        die "the audit log does not say the lock kept $first: '$kept'"
[ "$(sql "SELECT count(*) FROM audit WHERE action = 'snapshot.prune' AND result != 'kept'")" = 0 ] ||
        die "a prune was audited as done or failed: $(sql "SELECT result, detail FROM audit WHERE action = 'snapshot.prune'")"
yunbak status --socket "$SOCK" >"$D/status.out" 2>&1 || true
grep -Eq "^hr-portal: retention: 1 snapshot kept by Object Lock until [0-9T:-]+Z \(pruned from then\)\$" "$D/status.out" ||
        die "yunbak status does not show what the lock kept: $(cat "$D/status.out")"
! grep -q 'FAILED\|failed' "$D/status.out" || die "status calls the lock a failure: $(cat "$D/status.out")"
job=$(as "$DEPT" POST /v1/offsite/requests '{"system":"hr-portal","reason":"before the decommission"}' |
        json 'j["job"]')
expect 201 "the off-site request"
[ "$(wait_job "$job")" = succeeded ] || die "the off-site copy failed: $(cat "$D/body") $(tail -20 "$D/yunbakd.log")"
objects() { # the keys under {local,offsite}/hr-portal/snapshots in the bucket
        for st in local offsite; do
                s3_curl GET "/locked?list-type=2&prefix=$st%2Fhr-portal%2Fsnapshots%2F" -f |
                        grep -o '<Key>[^<]*' | sed 's/<Key>//'
        done
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
# The lock kept the backups in the bucket, as it must.
[ "$(objects | wc -l)" = "$n_objects" ] || die "the bucket holds $(objects | wc -l) objects of hr-portal's copy, not $n_objects"

python3 - "$D/decom.json" <<'PY' || die "the steps: $(cat "$D/decom.json")"
import json, re, sys
d = json.load(open(sys.argv[1]))
steps = {(s["step"], s["target"]): s for s in d["steps"]}
verify = steps[("verify", "-")]["detail"]
assert verify.startswith("passed: "), verify
named = 0
for st in ("local", "offsite"):
    store = steps[("store", st)]["detail"]
    m = re.search(r"; (\d+) objects? \(\d+ bytes\) kept by Object Lock \(compliance\) until "
                  r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ at the latest", store)
    assert m, store
    n = int(m.group(1))
    assert "store '%s': %d object%s of s3://locked/%s/hr-portal kept by Object Lock" % (
        st, n, "" if n == 1 else "s", st) in verify, verify
    named += min(n, 20)
found = re.findall(r"hr-portal/snapshots/\S+ until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", verify)
assert len(found) == named, (found, verify)
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
locked = {a["name"]: a for a in backups if a.get("state") == "locked"}
assert sorted(locked) == ["local", "offsite"], backups
assert locked["local"]["tiers"] == [1] and locked["offsite"]["tiers"] == [3], locked
assert sum(a["files"] for a in locked.values()) == n, (n, locked)
# The latest: tier 1's (a day), not tier 3's (an hour).
assert locked["local"]["locked_until"] == until, (until, locked)
assert locked["offsite"]["locked_until"] < until, (until, locked)
for a in locked.values():
    assert a["methods"] == ["cryptographic-erase"] and a["nist_category"] == "purge", a
    assert a["claim"] == ("cryptographic erase; deletion blocked by Object Lock (compliance) "
                          "until " + a["locked_until"]), a
    assert a["verification"]["result"] == "locked", a
    assert a["operator_must"] and a["locked_until"] in a["operator_must"], a
    assert a["medium"]["filesystem"] == "s3" and not a["medium"]["overwrite_effective"], a["medium"]
# What the step did delete (the config, the lock) is claimed deleted, and only that.
for b in backups:
    if b.get("state") != "locked":
        assert "delete" in b["methods"] and "overwrite" not in b["methods"], b
        assert b["files"] <= 2, b
PY
yunbak certificate verify "$D/cert.json" --public-key "$D/state/yunbakd.pub" >"$D/cv.out" 2>&1 ||
        die "the certificate does not verify: $(cat "$D/cv.out")"
yunbak certificate show "$cert" --socket "$SOCK" >"$D/show.out" 2>&1 || die "certificate show: $(cat "$D/show.out")"
grep -q "kept by Object Lock (compliance) until" "$D/show.out" || die "the summary does not say what the lock keeps: $(cat "$D/show.out")"
echo "s3-decommission: ok"
