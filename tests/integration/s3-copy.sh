#!/bin/sh
# Tier 3 to and from an S3 store on a real Ceph (ceph-lib.sh): `yunbak copy` takes a local
# repository's chain to s3://bucket/prefix, where it lists, verifies without a key and restores,
# and every object is byte for byte the local file (read back with signed curl); nothing else is
# left there (no lock, no leftovers). Run again it copies nothing; after a new incremental, only
# that one. Copied back from S3 into an empty directory, it verifies and restores to its tree.
# Through yunbakd (when built): a flipped byte in a local volume is repaired from the S3 copy
# (`yunbak repair --from oss --to local`), after which verify passes; an S3 object overwritten
# with other bytes is repaired from the local store the other way.
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/daemon-lib.sh"

CEPH_DIR=$SCRATCH/ceph
YUNBAKD_PID=
finish() {
        [ -z "$YUNBAKD_PID" ] || kill "$YUNBAKD_PID" 2>/dev/null || true
        ceph_finish
        cleanup
}
trap finish EXIT
trap 'exit 1' HUP INT TERM
. "$TESTS/integration/ceph-lib.sh"

s3_bucket yb-offsite
OSS=s3://yb-offsite/city
S3O="--s3-endpoint $S3_ENDPOINT --s3-credentials $S3_CREDS"
LOCAL=$D/store
daemon_system hr 人社局
SRC=$D/trees/hr/data
head -c 3000000 /dev/urandom >"$SRC/random.bin"
mkdir -p "$SRC/etc"
printf 'listen: 8443\n' >"$SRC/etc/app.yaml"
age_recent "$SRC"

backup() { # LEVEL NAME
        yunbak-agent backup --store "$LOCAL" --system hr --public-key "$D/keys/hr.pub" \
                --level "$1" --json "$SRC" >"$SCRATCH/$2.json"
}
snap_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot"])' "$SCRATCH/$1.json"; }
copy() { # NAME FROM TO [OPTIONS]: yunbak copy, its JSON in $SCRATCH/NAME.json
        # shellcheck disable=SC2086
        yunbak copy --store "$2" --to "$3" $S3O --system hr --json ${4:-} >"$SCRATCH/$1.json" \
                2>"$SCRATCH/$1.err" || {
                cat "$SCRATCH/$1.json" "$SCRATCH/$1.err" >&2
                die "yunbak copy $2 -> $3 failed"
        }
}
counts_of() { # NAME: "copied present" of a copy's JSON
        python3 -c 'import json,sys; j = json.load(open(sys.argv[1])); assert j["ok"], j
print(j["snapshots_copied"], j["snapshots_present"])' "$SCRATCH/$1.json"
}
restore_and_compare() { # STORE SNAPSHOT DIGEST-FILE
        rm -rf "$SCRATCH/out"
        # shellcheck disable=SC2086
        yunbak restore --store "$1" $S3O --system hr --key "$D/keys/hr.key" \
                --passphrase-file "$SCRATCH/pass" --snapshot "$2" --target "$SCRATCH/out" >/dev/null ||
                die "restoring $2 from $1 failed"
        tree_digest "$SCRATCH/out/data" >"$SCRATCH/got.digest"
        diff -u "$3" "$SCRATCH/got.digest" >&2 || die "snapshot $2 does not restore from $1 to its tree"
}
verify_ok() { # STORE COUNT
        # shellcheck disable=SC2086
        yunbak verify --store "$1" $S3O --system hr >"$SCRATCH/verify" 2>&1 ||
                die "key-less verify of $1 failed: $(cat "$SCRATCH/verify")"
        grep -q "$2 snapshots checked, 0 damaged" "$SCRATCH/verify" || die "verify $1: $(cat "$SCRATCH/verify")"
}
# same_as_local: the keys under city/ are exactly the local repository's files, byte for byte.
same_as_local() {
        (cd "$LOCAL" && find hr -type f ! -name lock | sort) >"$SCRATCH/local.files"
        s3_keys yb-offsite city/ | sed 's|^city/||' | sort >"$SCRATCH/s3.keys"
        grep -v '^hr/config$\|^hr/snapshots/' "$SCRATCH/local.files" >"$SCRATCH/local.other" || true
        [ ! -s "$SCRATCH/local.other" ] || die "the local repository holds more than snapshots: $(cat "$SCRATCH/local.other")"
        diff -u "$SCRATCH/local.files" "$SCRATCH/s3.keys" >&2 || die "the keys in $OSS are not the local repository's files"
        for k in $(cat "$SCRATCH/s3.keys"); do
                s3_curl GET "/yb-offsite/city/$k" -f -o "$SCRATCH/object" || die "GET city/$k failed"
                cmp -s "$SCRATCH/object" "$LOCAL/$k" || die "city/$k in $OSS differs from the local file"
        done
}

# --- Local to S3 -----------------------------------------------------------------------------------
backup full full
FULL=$(snap_of full)
tree_digest "$SRC" >"$SCRATCH/full.digest"
printf 'CHANGED PAGE' | dd of="$SRC/random.bin" bs=4096 seek=20 conv=notrunc 2>/dev/null
printf 'fresh' >"$SRC/new-file"
age_recent "$SRC"
backup incremental incr
INCR=$(snap_of incr)
tree_digest "$SRC" >"$SCRATCH/incr.digest"

copy to-s3 "$LOCAL" "$OSS"
[ "$(counts_of to-s3)" = "2 0" ] || die "the first copy to S3 did not copy the chain: $(cat "$SCRATCH/to-s3.json")"
# S3 checked every body against its SHA-256 on arrival: the copy read back only the two headers.
HEADERS=$(cat "$LOCAL"/hr/snapshots/*/header | wc -c)
python3 -c 'import json,sys; j = json.load(open(sys.argv[1]))
assert j["bytes_verified"] == int(sys.argv[2]) < j["bytes_sent"], j' "$SCRATCH/to-s3.json" "$HEADERS" ||
        die "the copy to S3 read back more than its headers ($HEADERS bytes): $(cat "$SCRATCH/to-s3.json")"
# shellcheck disable=SC2086
yunbak snapshots --store "$OSS" $S3O --system hr >"$SCRATCH/list"
grep -q "^$FULL " "$SCRATCH/list" && grep -q "^$INCR " "$SCRATCH/list" ||
        die "snapshots does not list the copied chain in $OSS: $(cat "$SCRATCH/list")"
verify_ok "$OSS" 2
same_as_local
restore_and_compare "$OSS" "$INCR" "$SCRATCH/incr.digest"

# Again: nothing to copy. After a new incremental: only that one.
copy again "$LOCAL" "$OSS"
[ "$(counts_of again)" = "0 1" ] || die "a second copy copied again: $(cat "$SCRATCH/again.json")"
printf 'day two' >>"$SRC/etc/app.yaml"
age_recent "$SRC"
backup incremental incr2
INCR2=$(snap_of incr2)
tree_digest "$SRC" >"$SCRATCH/incr2.digest"
copy next "$LOCAL" "$OSS"
[ "$(counts_of next | cut -d' ' -f1)" = 1 ] || die "the copy after a new incremental: $(cat "$SCRATCH/next.json")"
verify_ok "$OSS" 3
same_as_local

# --- S3 back to a local directory --------------------------------------------------------------------
mkdir "$SCRATCH/back"
copy back "$OSS" "$SCRATCH/back"
[ "$(counts_of back)" = "3 0" ] || die "the copy back from S3: $(cat "$SCRATCH/back.json")"
python3 -c 'import json,sys; j = json.load(open(sys.argv[1])); assert j["bytes_verified"] == j["bytes_sent"], j' \
        "$SCRATCH/back.json" || die "the copy to a local directory did not read back every byte: $(cat "$SCRATCH/back.json")"
verify_ok "$SCRATCH/back" 3
restore_and_compare "$SCRATCH/back" "$FULL" "$SCRATCH/full.digest"
restore_and_compare "$SCRATCH/back" "$INCR2" "$SCRATCH/incr2.digest"
for f in $(cd "$LOCAL" && find hr/snapshots -type f); do
        cmp -s "$LOCAL/$f" "$SCRATCH/back/$f" || die "$f copied back from S3 differs from the original"
done

# --- Repairs through yunbakd, with the S3 copy as the twin -------------------------------------------
if ! command -v yunbakd >/dev/null; then
        echo "s3-copy: the repairs skipped: no yunbakd in this build (YB_DAEMON=OFF)"
        echo "s3-copy: ok"
        exit 0
fi
daemon_config
sed -i "s|^    url: $LOCAL\$|    url: $LOCAL\n  oss:\n    url: $OSS\n    s3:\n      endpoint: $S3_ENDPOINT\n      credentials: $S3_CREDS|" \
        "$D/yunbakd.yaml"
grep -q '^  oss:' "$D/yunbakd.yaml" || die "the S3 store was not added to yunbakd.yaml"
start_yunbakd

# flip FILE OFFSET: inverts one byte of FILE in place.
flip() {
        python3 -c '
import sys
f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2])); b = f.read(1)
f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0xff])); f.close()' "$1" "$2"
}
vol="$LOCAL/hr/snapshots/$FULL/vol-000001"
flip "$vol" $(($(stat -c %s "$vol") / 2))
expect_exit 5 yunbak verify --store "$LOCAL" --system hr --snapshot "$FULL"
expect_exit 0 yunbak repair --system hr --snapshot "$FULL" --from oss --to local --socket "$SOCK"
grep -Eq '^vol-000001 +replaced by its twin' "$SCRATCH/stdout" || die "the repair from S3: $(cat "$SCRATCH/stdout")"
grep -q "is sound" "$SCRATCH/stdout" || die "the repair from S3 does not end sound: $(cat "$SCRATCH/stdout")"
expect_exit 0 yunbak verify --store "$LOCAL" --system hr --snapshot "$FULL"
s3_curl GET "/yb-offsite/city/hr/snapshots/$FULL/vol-000001" -f -o "$SCRATCH/object"
cmp -s "$vol" "$SCRATCH/object" || die "the repaired volume is not its S3 twin"

# The other way: an S3 object overwritten with other bytes, repaired from the local store.
key="yb-offsite/city/hr/snapshots/$INCR/manifest"
s3_curl GET "/$key" -f -o "$SCRATCH/manifest"
flip "$SCRATCH/manifest" 200
s3_curl PUT "/$key" --data-binary "@$SCRATCH/manifest" -f >/dev/null
# shellcheck disable=SC2086
expect_exit 5 yunbak verify --store "$OSS" $S3O --system hr --snapshot "$INCR"
expect_exit 0 yunbak repair --system hr --snapshot "$INCR" --from local --to oss --socket "$SOCK"
grep -Eq '^manifest +replaced by its twin' "$SCRATCH/stdout" || die "the repair of S3: $(cat "$SCRATCH/stdout")"
verify_ok "$OSS" 3
same_as_local
stop_yunbakd
YUNBAKD_PID=
echo "s3-copy: ok"
