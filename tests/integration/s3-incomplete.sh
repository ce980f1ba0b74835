#!/bin/sh
# Incomplete snapshots on a real Ceph (ceph-lib.sh; docs/format.md, "S3 stores"): what a backup
# killed before its header leaves in a bucket (a snapshot's files in place, no header) is listed
# by yunbak snapshots and yunbak verify as incomplete, on a line of its own, not as damaged (exit
# 0), and the next backup removes it. In a bucket with Object Lock, such a leftover written under
# a retention cannot be removed: the next backup names it with its retain-until date, succeeds,
# and the snapshot stays incomplete, never listed as one.
. "$TESTS/integration/lib.sh"

CEPH_DIR=$SCRATCH/ceph
finish() {
        ceph_finish
        cleanup
}
trap finish EXIT
trap 'exit 1' HUP INT TERM
. "$TESTS/integration/ceph-lib.sh"

mkdir -p "$SCRATCH/src/app"
head -c 100000 /dev/urandom >"$SCRATCH/src/app/a.bin"
make_key hr
S3O="--s3-endpoint $S3_ENDPOINT --s3-credentials $S3_CREDS"
LEFT=20261206T100000Z-abcdef
TEXT='incomplete (no header): being written, or left by an interrupted backup'

backup() { # STORE LEVEL: the agent's stderr in $SCRATCH/backup.err
        # shellcheck disable=SC2086
        yunbak-agent backup --store "$1" $S3O --system hr --public-key "$SCRATCH/keys/hr.pub" \
                --level "$2" "$SCRATCH/src/app" >/dev/null 2>"$SCRATCH/backup.err" ||
                { cat "$SCRATCH/backup.err" >&2; die "a $2 backup to $1 failed"; }
}

# check_listed STORE: the leftover is named incomplete by list and verify, which exit 0.
check_listed() {
        # shellcheck disable=SC2086
        yunbak snapshots --store "$1" $S3O --system hr >"$SCRATCH/list.out" ||
                die "yunbak snapshots exits non-zero for an incomplete snapshot in $1"
        grep -q "^$LEFT  *$TEXT\$" "$SCRATCH/list.out" ||
                { cat "$SCRATCH/list.out" >&2; die "yunbak snapshots does not name $LEFT incomplete"; }
        # shellcheck disable=SC2086
        yunbak verify --store "$1" $S3O --system hr >"$SCRATCH/verify.out" ||
                { cat "$SCRATCH/verify.out" >&2; die "an incomplete snapshot made verify fail"; }
        grep -q "^note  *$LEFT  $TEXT\$" "$SCRATCH/verify.out" ||
                { cat "$SCRATCH/verify.out" >&2; die "yunbak verify does not name $LEFT incomplete"; }
        grep -q "DAMAGED" "$SCRATCH/verify.out" && die "verify called the incomplete snapshot damaged"
        grep -q "^1 snapshot checked, 0 damaged\.\$" "$SCRATCH/verify.out" ||
                { cat "$SCRATCH/verify.out" >&2; die "verify counted the incomplete snapshot"; }
}

# A plain bucket: the leftover goes with the next backup.
s3_bucket yb-incomplete
backup s3://yb-incomplete/r full
s3_curl PUT "/yb-incomplete/r/hr/snapshots/$LEFT/vol-000001" --data-binary "half a volume" -f >/dev/null
check_listed s3://yb-incomplete/r
backup s3://yb-incomplete/r incremental
[ -z "$(s3_keys yb-incomplete "r/hr/snapshots/$LEFT/")" ] || die "the next backup left $LEFT in the bucket"
# shellcheck disable=SC2086
yunbak verify --store s3://yb-incomplete/r $S3O --system hr >"$SCRATCH/verify.out" ||
        die "the store does not verify after the cleanup"
grep -q incomplete "$SCRATCH/verify.out" && die "verify still names an incomplete snapshot"

# A bucket with Object Lock: a leftover under a retention stays, named with its date.
s3_bucket yb-incomplete-locked lock
backup s3://yb-incomplete-locked/r full
until=$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%SZ)
s3_curl PUT "/yb-incomplete-locked/r/hr/snapshots/$LEFT/vol-000001" --data-binary "half a volume" \
        -H "x-amz-object-lock-mode: COMPLIANCE" -H "x-amz-object-lock-retain-until-date: $until" \
        -H "Content-MD5: $(printf 'half a volume' | openssl md5 -binary | base64)" -f >/dev/null ||
        die "cannot put a locked object into the bucket"
backup s3://yb-incomplete-locked/r incremental
grep -q "snapshots/$LEFT in store s3://yb-incomplete-locked/r is kept by Object Lock until ${until%%T*}" \
        "$SCRATCH/backup.err" ||
        { cat "$SCRATCH/backup.err" >&2; die "the backup did not name the locked leftover with its date"; }
[ -n "$(s3_keys yb-incomplete-locked "r/hr/snapshots/$LEFT/")" ] || die "the locked leftover went"
# shellcheck disable=SC2086
yunbak snapshots --store s3://yb-incomplete-locked/r $S3O --system hr >"$SCRATCH/list.out" ||
        die "yunbak snapshots fails with a locked leftover"
grep -q "^$LEFT  *$TEXT\$" "$SCRATCH/list.out" || die "the locked leftover is not named incomplete"
[ "$(grep -c ' full \| incremental ' "$SCRATCH/list.out")" = 2 ] ||
        { cat "$SCRATCH/list.out" >&2; die "want the full and the incremental listed"; }
echo "s3-incomplete: ok"
