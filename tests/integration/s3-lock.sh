#!/bin/sh
# Object Lock on a real Ceph (ceph-lib.sh; docs/s3.md, "Object Lock"): backups written with
# --s3-object-lock compliance into a bucket with Object Lock. A locked snapshot survives
# `yunbak prune` (exit 3, named on a line with its date, the rest of the prune goes on) and a
# DELETE of its header by versionId with the store's own credentials (403, also with
# x-amz-bypass-governance-retention: true); it still verifies. With a short retention the prune
# is refused until the date, then (polled, no sleep as synchronisation) prunes normally, every
# version of its objects gone.
# Every object of a snapshot is asked before any goes: one whose retention was extended keeps it
# until that date, a legal hold keeps it whole until lifted; a delete a bucket policy refuses after
# the header went is said to be a partial prune, which the next prune finishes. A delete marker
# on a header hides nothing: the next backup does not take the snapshot for an incomplete one.
# It runs about 70 s: a Ceph start (12 s), a 20 s retention that must pass, and more stores of
# 2 s retentions for the cases above.
. "$TESTS/integration/lib.sh"
command -v python3 >/dev/null || exit 77

CEPH_DIR=$SCRATCH/ceph
finish() {
        ceph_finish
        cleanup
}
trap finish EXIT
trap 'exit 1' HUP INT TERM
. "$TESTS/integration/ceph-lib.sh"
export YUNBAK_S3_ENDPOINT="$S3_ENDPOINT" YUNBAK_S3_CREDENTIALS="$S3_CREDS"
# Without the test hook below, a retention shorter than a day is refused before anything is
# opened (each object is locked from its own writing: docs/s3.md, "The dates").
expect_exit 2 yunbak-agent backup --store s3://locked/short --system hr --public-key /dev/null \
        --level full --s3-object-lock compliance --s3-retention 12h "$SCRATCH"
expect_stderr "--s3-retention '12h' is shorter than 1d: each backup object is locked for it from its own writing"
# Retentions of seconds (the store refuses less than a day but with this test hook).
export YUNBAK_TEST_SHORT_RETENTION=1
s3_bucket locked lock

SYS=hr-portal
SRC=$SCRATCH/src
mkdir -p "$SRC"
make_key $SYS

# backup PREFIX RETENTION: a full of $SRC (changed each time) into s3://locked/PREFIX; its id.
backup() {
        head -c 100000 /dev/urandom >"$SRC/data-$(date +%s%N).bin"
        yunbak-agent backup --store "s3://locked/$1" --system $SYS \
                --public-key "$SCRATCH/keys/$SYS.pub" --level full --s3-object-lock compliance \
                --s3-retention "$2" --json "$SRC" >"$SCRATCH/backup.json"
        python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot"])' \
                "$SCRATCH/backup.json"
}
listed() {
        yunbak snapshots --store "s3://locked/$1" --system $SYS --json |
                python3 -c 'import json,sys; print(" ".join(s["id"] for s in json.load(sys.stdin)))'
}
# until_of ID: the date the last prune's stderr gave for ID, in seconds since the epoch.
until_of() {
        python3 - "$SCRATCH/stderr" "$1" <<'PY'
import datetime, re, sys
m = re.search(r"Snapshot %s in \S+ is under Object Lock \(compliance\) until "
              r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ): it can be pruned from then\." % sys.argv[2],
              open(sys.argv[1]).read())
if not m:
    sys.exit("no Object Lock line for %s" % sys.argv[2])
print(int(datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%SZ")
          .replace(tzinfo=datetime.timezone.utc).timestamp()))
PY
}
# versions KEY: the version ids of KEY in the bucket, one a line.
versions() {
        s3_curl GET "/locked?prefix=$(printf %s "$1" | sed 's|/|%2F|g')&versions=" -f |
                grep -o '<VersionId>[^<]*' | sed 's/<VersionId>//'
}

# --- A day's retention: prune keeps it, and so does a DELETE with the store's credentials --------
a=$(backup long 1d)
b=$(backup long 1d)
expect_exit 3 yunbak prune --store s3://locked/long --system $SYS --keep-last 1
until=$(until_of "$a")
now=$(date +%s)
[ "$until" -gt $((now + 86400 - 600)) ] && [ "$until" -le $((now + 86400)) ] ||
        die "snapshot $a is said to be locked until $until, not a day from $now"
grep -Eq "^kept-locked +- +$a " "$SCRATCH/stdout" || die "the plan does not show $a as kept-locked: $(cat "$SCRATCH/stdout")"
grep -q '^Kept by Object Lock: 1 snapshot ' "$SCRATCH/stdout" || die "no count of what the lock kept"
! grep -qi 'error' "$SCRATCH/stderr" || die "a lock's refusal was called an error: $(cat "$SCRATCH/stderr")"
[ "$(listed long)" = "$a $b" ] || die "the store lists '$(listed long)' after the prune"
expect_exit 3 yunbak prune --store s3://locked/long --system $SYS --snapshot "$a"
until_of "$a" >/dev/null
yunbak prune --store s3://locked/long --system $SYS --keep-last 1 --json >"$SCRATCH/prune.json" && die "--json: exit 0"
python3 - "$SCRATCH/prune.json" "$a" <<'PY' || die "prune --json: $(cat "$SCRATCH/prune.json")"
import json, sys
j = json.load(open(sys.argv[1]))
s = [s for s in j["snapshots"] if s["id"] == sys.argv[2]][0]
assert j["locked"] == 1 and j["pruned"] == 0 and j["failed"] == 0, j
assert not s["pruned"] and s["locked_until"].endswith("Z"), s
PY

header="long/$SYS/snapshots/$a/header"
v=$(versions "$header")
[ -n "$v" ] && [ "$(echo "$v" | wc -l)" = 1 ] || die "the header of $a has versions '$v'"
code=$(s3_curl DELETE "/locked/$header?versionId=$v" -o "$SCRATCH/delete.xml" -w '%{http_code}')
[ "$code" = 403 ] || die "a DELETE of $header by its version answered $code: $(cat "$SCRATCH/delete.xml")"
code=$(s3_curl DELETE "/locked/$header?versionId=$v" -H "x-amz-bypass-governance-retention: true" \
        -o "$SCRATCH/delete.xml" -w '%{http_code}')
[ "$code" = 403 ] || die "a DELETE bypassing governance answered $code"
[ "$(versions "$header")" = "$v" ] || die "the header of $a lost its version"
yunbak verify --store s3://locked/long --system $SYS >"$SCRATCH/verify.out" 2>&1 || {
        cat "$SCRATCH/verify.out" >&2
        die "the locked snapshots do not verify after the attempts"
}

# --- A short retention: refused until its date, then pruned as any other ----------------------
c=$(backup short 20s)
expect_exit 3 yunbak prune --store s3://locked/short --system $SYS --snapshot "$c"
until=$(until_of "$c")
d=$(backup short 20s)
[ "$(listed short)" = "$c $d" ] || die "the short store lists '$(listed short)'"
# The date is the store's to judge: wait until it has passed (at most 60 s).
wait_for "the lock date $until of $c did not pass" "[ \$(date +%s) -gt $until ]"
expect_exit 0 yunbak prune --store s3://locked/short --system $SYS --keep-last 1
grep -Eq "^pruned +- +$c " "$SCRATCH/stdout" || die "$c was not pruned: $(cat "$SCRATCH/stdout")"
[ "$(listed short)" = "$d" ] || die "the short store lists '$(listed short)' after the date"
left=$(s3_curl GET "/locked?prefix=short%2F$SYS%2Fsnapshots%2F$c&versions=" -f | grep -c '<Key>' || true)
[ "$left" = 0 ] || die "$left versions of $c's objects are left in the bucket"
yunbak verify --store s3://locked/short --system $SYS >/dev/null 2>&1 || die "the short store does not verify"

# --- Every object of a snapshot is asked before anything of it goes ----------------------------
# put_xml PATH BODY: a PUT of an XML body that S3 wants with its MD5 (retention, legal hold, policy).
put_xml() {
        s3_curl PUT "$1" -H "Content-MD5: $(printf %s "$2" | openssl md5 -binary | base64)" \
                -H "x-amz-content-sha256: $(printf %s "$2" | sha256sum | cut -d' ' -f1)" \
                --data-binary "$2" -o "$SCRATCH/put.xml" -w '%{http_code}'
}
# keys PREFIX: the keys (current objects) under PREFIX in the bucket, one a line.
keys() {
        s3_curl GET "/locked?prefix=$(printf %s "$1" | sed 's|/|%2F|g')" -f |
                grep -o '<Key>[^<]*' | sed 's/<Key>//'
}
command -v openssl >/dev/null || die "openssl is needed to send Object Lock's XML bodies"
e=$(backup early 2s)
f=$(backup early 2s)
t=$(date +%s)
wait_for "the 2 s locks of $e and $f did not pass" "[ \$(date +%s) -gt $((t + 3)) ]"
# One early object locked longer than the header (as a retention shorter than a long backup, or
# an extension by hand, leaves it): the prune keeps the snapshot whole until that object's date.
vol=$(keys "early/$SYS/snapshots/$e/" | grep -v '/header$' | head -n 1)
[ -n "$vol" ] || die "no object but the header under $e"
late=$(($(date +%s) + 3600))
body="<Retention xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Mode>COMPLIANCE</Mode><RetainUntilDate>$(date -u -d "@$late" +%Y-%m-%dT%H:%M:%SZ)</RetainUntilDate></Retention>"
code=$(put_xml "/locked/$vol?retention=" "$body")
[ "$code" = 200 ] || die "PutObjectRetention on $vol: HTTP $code: $(cat "$SCRATCH/put.xml")"
expect_exit 3 yunbak prune --store s3://locked/early --system $SYS --keep-last 1
[ "$(until_of "$e")" = "$late" ] || die "$e is said to be locked until $(until_of "$e"), not its object's $late"
grep -Eq "^kept-locked +- +$e " "$SCRATCH/stdout" || die "the plan does not show $e as kept-locked: $(cat "$SCRATCH/stdout")"
[ "$(listed early)" = "$e $f" ] || die "the store lists '$(listed early)' after the prune"
keys "early/$SYS/snapshots/$e/" | grep -q '/header$' || die "$e's header was deleted"

# A delete the store refuses though no lock says so (a bucket policy here): the header and what
# could go are gone, and the prune says exactly that, then the next prune removes the rest.
g=$(backup partly 2s)
h=$(backup partly 2s)
t=$(date +%s)
wait_for "the 2 s locks of $g and $h did not pass" "[ \$(date +%s) -gt $((t + 3)) ]"
vol=$(keys "partly/$SYS/snapshots/$g/" | grep -v '/header$' | sort | tail -n 1)
body="{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":[\"s3:DeleteObject\",\"s3:DeleteObjectVersion\"],\"Resource\":\"arn:aws:s3:::locked/$vol\"}]}"
code=$(put_xml "/locked?policy=" "$body")
[ "$code" = 204 ] || [ "$code" = 200 ] || die "PutBucketPolicy: HTTP $code: $(cat "$SCRATCH/put.xml")"
expect_exit 1 yunbak prune --store s3://locked/partly --system $SYS --keep-last 1
grep -q "Snapshot $g in s3://locked/partly is partly pruned (Operation not permitted): its header and [0-9][0-9]* objects\? are deleted; ${vol#partly/} is kept by the store, which refused the delete with no Object Lock on it (.*); the next backup or prune removes the rest once the store allows it\." "$SCRATCH/stderr" ||
        die "the partial prune of $g is not said so: $(cat "$SCRATCH/stderr")"
grep -Eq "^PARTLY pruned +- +$g " "$SCRATCH/stdout" || die "the plan does not show $g as partly pruned: $(cat "$SCRATCH/stdout")"
grep -q "NOT pruned\|still whole\|tmp/" "$SCRATCH/stderr" "$SCRATCH/stdout" && die "the prune of $g speaks of a whole snapshot or tmp/: $(cat "$SCRATCH/stderr")"
[ "$(keys "partly/$SYS/snapshots/$g/")" = "$vol" ] || die "under $g the bucket holds '$(keys "partly/$SYS/snapshots/$g/")', not only $vol"
s3_curl DELETE "/locked?policy=" -f
expect_exit 0 yunbak prune --store s3://locked/partly --system $SYS --keep-last 1
[ "$(listed partly)" = "$h" ] || die "the partly store lists '$(listed partly)'"
[ -z "$(keys "partly/$SYS/snapshots/$g/")" ] || die "the next prune left $(keys "partly/$SYS/snapshots/$g/")"

# A legal hold on one object (no date): nothing of the snapshot is touched, the object is named;
# once the hold is lifted the snapshot prunes.
i=$(backup held 2s)
j=$(backup held 2s)
t=$(date +%s)
wait_for "the 2 s locks of $i and $j did not pass" "[ \$(date +%s) -gt $((t + 3)) ]"
vol=$(keys "held/$SYS/snapshots/$i/" | grep -v '/header$' | head -n 1)
before=$(keys "held/$SYS/snapshots/$i/")
hold() { # ON|OFF
        code=$(put_xml "/locked/$vol?legal-hold=" "<LegalHold xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Status>$1</Status></LegalHold>")
        [ "$code" = 200 ] || die "PutObjectLegalHold $1 on $vol: HTTP $code: $(cat "$SCRATCH/put.xml")"
}
hold ON
expect_exit 3 yunbak prune --store s3://locked/held --system $SYS --keep-last 1
expect_stderr "Snapshot $i in s3://locked/held is kept by a legal hold on ${vol#held/}: lift it \(PutObjectLegalHold with Status OFF\) to prune it\. Nothing of it was touched\."
grep -Eq "^kept-held +- +$i " "$SCRATCH/stdout" || die "the plan does not show $i as kept-held: $(cat "$SCRATCH/stdout")"
[ "$(keys "held/$SYS/snapshots/$i/")" = "$before" ] || die "a prune refused by a hold touched $i"
hold OFF
expect_exit 0 yunbak prune --store s3://locked/held --system $SYS --keep-last 1
[ "$(listed held)" = "$j" ] || die "the held store lists '$(listed held)' after the hold was lifted"

# A delete marker someone put on a complete snapshot's header (a DELETE without a version, which
# S3 always allows) hides nothing: the snapshot is still listed, and the next backup (which
# removes incomplete snapshots) leaves it.
m=$(backup marker 1h)
s3_curl DELETE "/locked/marker/$SYS/snapshots/$m/header" -f
n=$(backup marker 1h)
[ "$(listed marker)" = "$m $n" ] || die "after a delete marker on $m's header the store lists '$(listed marker)'"
yunbak verify --store s3://locked/marker --system $SYS >"$SCRATCH/verify.out" 2>&1 ||
        die "a snapshot under a delete marker does not verify: $(cat "$SCRATCH/verify.out")"

# A repository lock the store refuses to delete (a stale lock under a legal hold): the backup says
# which key and why, not only "Operation not permitted"; lifted, the next backup breaks it.
m=$(backup stale 1h)
dead=4194300
while kill -0 $dead 2>/dev/null; do dead=$((dead - 1)); done
printf '%s %s' "$(hostname)" $dead | s3_curl PUT "/locked/stale/$SYS/lock" --data-binary @- -f
vol=stale/$SYS/lock
hold ON
set +e
backup stale 1h >/dev/null 2>"$SCRATCH/stale.err"
got=$?
set -e
[ $got -ne 0 ] || die "a backup broke a lock under a legal hold"
grep -q "Cannot break the repository's stale lock: $SYS/lock in s3://locked/stale is under a legal hold: lift it" \
        "$SCRATCH/stale.err" || die "the refused lock is not explained: $(cat "$SCRATCH/stale.err")"
hold OFF
n=$(backup stale 1h)
[ "$(listed stale)" = "$m $n" ] || die "after the hold was lifted the store lists '$(listed stale)'"
echo "s3-lock: ok"
