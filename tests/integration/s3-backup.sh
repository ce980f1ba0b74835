#!/bin/sh
# Tier 1 straight to an S3 store on a real Ceph (ceph-lib.sh): yunbak-agent backs up a tree with
# every kind of entry to s3://bucket/prefix (a full, then an incremental after a change); yunbak
# lists, verifies without a key, restores (each snapshot to exactly its tree, treedigest.py) and
# prunes there. What was written is read with independent tools (signed curl, python): the keys
# are the layout of docs/format.md and nothing else (no lock, no leftovers), the header is clear
# signed JSON, and every file it lists has its size, BLAKE2b hash and sealed form (magic, suite,
# chunk size, context, key id) as key-less verify checks them. A pruned snapshot leaves no key.
# The same again in a bucket with Object Lock (so versioned) with no lock declared, the options
# given through the environment this time: it works alike, and what yunbak deletes there leaves
# no old version or delete marker behind.
. "$TESTS/integration/lib.sh"

CEPH_DIR=$SCRATCH/ceph
finish() {
        ceph_finish
        cleanup
}
trap finish EXIT
trap 'exit 1' HUP INT TERM
. "$TESTS/integration/ceph-lib.sh"

SRC="$SCRATCH/src/app"
mkdir -p "$SCRATCH/src"
make_rich_tree "$SRC"
age_recent "$SRC"
make_key hr
S3O="--s3-endpoint $S3_ENDPOINT --s3-credentials $S3_CREDS"

backup() { # LEVEL NAME
        # shellcheck disable=SC2086
        yunbak-agent backup --store "$STORE" $S3O --system hr --public-key "$SCRATCH/keys/hr.pub" \
                --level "$1" --json "$SRC" >"$SCRATCH/$2.json"
}
snap_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot"])' "$SCRATCH/$1.json"; }
field_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$SCRATCH/$1.json" "$2"; }
restore_and_compare() { # SNAPSHOT DIGEST-FILE
        rm -rf "$SCRATCH/out"
        # shellcheck disable=SC2086
        yunbak restore --store "$STORE" $S3O --system hr --key "$SCRATCH/keys/hr.key" \
                --passphrase-file "$SCRATCH/pass" --snapshot "$1" --target "$SCRATCH/out" >/dev/null ||
                die "restoring $1 from $STORE failed"
        tree_digest "$SCRATCH/out/app" >"$SCRATCH/got.digest"
        diff -u "$2" "$SCRATCH/got.digest" >&2 || die "snapshot $1 does not restore from $STORE to its tree"
}

# check_objects SNAPSHOT: reads the snapshot's objects with signed curl and checks them as
# key-less verify does (docs/format.md, "Header" and "Sealed files"): the keys under its prefix
# are its header and the files the header lists, nothing else; each has the listed size and
# BLAKE2b-256, the YBSEAL header (version 1, suite 1, 64 KiB chunks), the context
# "yunbak/1 hr SNAPSHOT NAME" and the recipient's key id, and a body that is whole chunks.
check_objects() {
        dir="$PREFIX/hr/snapshots/$1"
        rm -rf "$SCRATCH/objs"
        mkdir "$SCRATCH/objs"
        s3_keys "$BUCKET" "$dir/" | sed "s|^$dir/||" | sort >"$SCRATCH/objs.keys"
        for k in $(cat "$SCRATCH/objs.keys"); do
                s3_curl GET "/$BUCKET/$dir/$k" -f -o "$SCRATCH/objs/$k" || die "GET $dir/$k failed"
        done
        python3 - "$SCRATCH/objs" "$SCRATCH/objs.keys" "$1" <<'PY' || die "the objects of snapshot $1 in $STORE do not check out"
import hashlib, json, os, struct, sys
objs, keys, sid = sys.argv[1], open(sys.argv[2]).read().split(), sys.argv[3]
raw = open(os.path.join(objs, "header"), "rb").read()
lines = raw.split(b"\n")
assert len(lines) == 3 and lines[2] == b"" and lines[1].startswith(b"ed25519 "), lines[1:]
h = json.loads(lines[0])
assert h["type"] == "yunbak-snapshot" and h["id"] == sid and h["system"] == "hr", h
names = sorted(f["name"] for f in h["files"])
assert sorted(keys) == sorted(["header"] + names), (keys, names)
assert "manifest" in names and "sigindex" in names and "vol-000001" in names, names
for f in h["files"]:
    data = open(os.path.join(objs, f["name"]), "rb").read()
    assert len(data) == f["size"], (f, len(data))
    assert hashlib.blake2b(data, digest_size=32).hexdigest() == f["blake2b"], f
    assert data[:6] == b"YBSEAL" and data[6] == 1 and data[7] == 1, (f["name"], data[:8])
    chunk = struct.unpack("<I", data[8:12])[0]
    n = struct.unpack("<H", data[20:22])[0]
    context = data[22 : 22 + n].decode()
    assert chunk == 65536 and context == "yunbak/1 hr %s %s" % (sid, f["name"]), (chunk, context)
    key = h["agent"]["state_key_id"] if f["name"] == "sigindex" else h["key_id"]
    assert data[12:20].hex() == key, (f["name"], data[12:20].hex(), key)
    body = len(data) - (126 + n)  # whole chunks of chunk + 17 bytes, the last 17 to chunk + 17
    assert body >= 17 and (body % (chunk + 17) == 0 or body % (chunk + 17) >= 17), (f["name"], body)
print("objects of %s: %d files checked" % (sid, len(names)))
PY
}

# round BUCKET PREFIX: the whole tier-1 cycle in s3://BUCKET/PREFIX.
round() {
        BUCKET=$1
        PREFIX=$2
        STORE="s3://$BUCKET/$PREFIX"
        backup full full
        FULL=$(snap_of full)
        [ "$(field_of full errors)" = 0 ] || die "the full backup to $STORE reported errors"
        tree_digest "$SRC" >"$SCRATCH/full.digest"

        printf 'CHANGED PAGE %s' "$BUCKET" | dd of="$SRC/data/random.bin" bs=4096 seek=20 conv=notrunc 2>/dev/null
        printf 'fresh %s' "$BUCKET" >"$SRC/data/new-file-$BUCKET"
        rm -f "$SRC/fifo"
        age_recent "$SRC"
        backup incremental incr
        INCR=$(snap_of incr)
        tree_digest "$SRC" >"$SCRATCH/incr.digest"
        [ "$(field_of incr parent)" = "$FULL" ] || die "the incremental in $STORE is not built on the full"
        [ "$(field_of incr delta)" -ge 1 ] || die "the incremental in $STORE stored no delta"

        # shellcheck disable=SC2086
        yunbak snapshots --store "$STORE" $S3O --system hr >"$SCRATCH/list" ||
                die "yunbak snapshots failed: $(cat "$SCRATCH/list")"
        grep -q "^$FULL " "$SCRATCH/list" && grep -q "^$INCR " "$SCRATCH/list" ||
                die "snapshots does not list both in $STORE: $(cat "$SCRATCH/list")"
        ! grep -q incomplete "$SCRATCH/list" || die "an incomplete snapshot is listed: $(cat "$SCRATCH/list")"
        # shellcheck disable=SC2086
        yunbak verify --store "$STORE" $S3O --system hr >"$SCRATCH/verify" 2>&1 ||
                die "key-less verify of $STORE failed: $(cat "$SCRATCH/verify")"
        grep -q "2 snapshots checked, 0 damaged" "$SCRATCH/verify" || die "verify: $(cat "$SCRATCH/verify")"
        restore_and_compare "$FULL" "$SCRATCH/full.digest"
        restore_and_compare "$INCR" "$SCRATCH/incr.digest"

        # The keys are the repository's layout and nothing else: no lock left, no tmp/.
        s3_keys "$BUCKET" "$PREFIX/" | sed "s|^$PREFIX/||" >"$SCRATCH/s3keys"
        grep -v -E "^hr/config$|^hr/snapshots/($FULL|$INCR)/(header|manifest|sigindex|vol-[0-9]{6}|skipped)$" \
                "$SCRATCH/s3keys" >"$SCRATCH/strays" || true
        [ ! -s "$SCRATCH/strays" ] || die "keys in $STORE outside the layout: $(cat "$SCRATCH/strays")"
        grep -q '^hr/config$' "$SCRATCH/s3keys" || die "no hr/config in $STORE: $(cat "$SCRATCH/s3keys")"
        s3_curl GET "/$BUCKET/$PREFIX/hr/config" -f | python3 -c 'import json, sys
c = json.load(sys.stdin)
assert c["system"] == "hr", c' || die "hr/config in $STORE is not the clear JSON config"
        check_objects "$FULL"
        check_objects "$INCR"

        # A new full, then prune to the last one: the old chain goes, key by key.
        backup full full2
        FULL2=$(snap_of full2)
        # shellcheck disable=SC2086
        yunbak prune --store "$STORE" $S3O --system hr --keep-last 1 >"$SCRATCH/prune" 2>&1 ||
                die "prune in $STORE failed: $(cat "$SCRATCH/prune")"
        # shellcheck disable=SC2086
        yunbak snapshots --store "$STORE" $S3O --system hr >"$SCRATCH/list"
        grep -q "^$FULL2 " "$SCRATCH/list" || die "prune removed the kept snapshot in $STORE"
        ! grep -q "^$FULL \|^$INCR " "$SCRATCH/list" || die "prune kept the old chain: $(cat "$SCRATCH/list")"
        left=$(s3_keys "$BUCKET" "$PREFIX/hr/snapshots/" | grep -E "/($FULL|$INCR)/" || true)
        [ -z "$left" ] || die "the pruned snapshots left keys in $STORE: $left"
        restore_and_compare "$FULL2" "$SCRATCH/incr.digest"
        check_objects "$FULL2"
}

# --- A plain bucket, the options on the command line ---------------------------------------------
s3_bucket yb-backup
round yb-backup city/hr-portal
# Nothing outside the prefix.
outside=$(s3_keys yb-backup | grep -v '^city/hr-portal/' || true)
[ -z "$outside" ] || die "keys outside the store's prefix: $outside"

# --- A bucket with Object Lock (versioned), no lock declared; the options from the environment ----
s3_bucket yb-backup-locked lock
S3O=
export YUNBAK_S3_ENDPOINT="$S3_ENDPOINT" YUNBAK_S3_CREDENTIALS="$S3_CREDS"
round yb-backup-locked city
# What yunbak deleted (the pruned chain, the lock, what it renamed) is gone with every version:
# each key left has exactly one version, and there is no delete marker.
s3_versions yb-backup-locked >"$SCRATCH/versions"
s3_keys yb-backup-locked | sort >"$SCRATCH/current"
grep -v '	version$' "$SCRATCH/versions" >"$SCRATCH/markers" || true
[ ! -s "$SCRATCH/markers" ] || die "delete markers left in the versioned bucket: $(cat "$SCRATCH/markers")"
cut -f1 "$SCRATCH/versions" | sort >"$SCRATCH/versioned"
diff -u "$SCRATCH/current" "$SCRATCH/versioned" >&2 ||
        die "the versioned bucket keeps versions of deleted or overwritten keys (above: + lines)"
echo "s3-backup: ok"
