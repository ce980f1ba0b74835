#!/bin/sh
# A decommission whose tier-1 store and source path are on btrfs (a loop image: mkfs.btrfs, mount
# -o loop): the certificate says an overwrite proves nothing there. The store's artifact: medium
# btrfs, overwrite_effective false, methods without "overwrite", "cryptographic erase +
# deletion", why naming copy-on-write, and what the operator must still do; the source path's:
# "deletion only", with what the operator must do. The repository and the source's files are
# gone all the same. Root only (mount, and the flow's people are other uids).
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/daemon-lib.sh"
. "$TESTS/integration/decommission-lib.sh"

command -v mkfs.btrfs >/dev/null || { echo "decommission-btrfs: skipped: no mkfs.btrfs (package btrfs-progs)" >&2; exit 77; }
MNT="$SCRATCH/btrfs"
finish() {
        set +e
        stop_left_yunbakd
        mountpoint -q "$MNT" && umount "$MNT"
        cleanup
}
trap finish EXIT
trap 'exit 1' HUP INT TERM
truncate -s 160M "$SCRATCH/btrfs.img"
mkfs.btrfs -q "$SCRATCH/btrfs.img" >/dev/null 2>&1 || die "mkfs.btrfs failed"
mkdir -p "$MNT"
mount -o loop "$SCRATCH/btrfs.img" "$MNT" 2>"$SCRATCH/mount.err" || {
        echo "decommission-btrfs: skipped: cannot mount a btrfs loop image here: $(cat "$SCRATCH/mount.err")" >&2
        exit 77
}
[ "$(stat -f -c %T "$MNT")" = btrfs ] || die "$MNT is not btrfs"

SYS=hr-portal
decom_config
# The tier-1 store on btrfs.
sed -i "s|^    url: $D/store\$|    url: $MNT/store|" "$D/yunbakd.yaml"
mkdir -p "$MNT/store" "$MNT/src"
daemon_system "$SYS" "$DEPT_NAME" "2099-01-01 02:00 UTC" "2099-01-01 02:00 UTC"
# The source path on btrfs too.
mv "$D/trees/$SYS/data" "$MNT/src/data"
sed -i "s|^    - $D/trees/$SYS/data\$|    - $MNT/src/data|" "$D/policies/$SYS.yaml"
grep -q "^    - $MNT/src/data\$" "$D/policies/$SYS.yaml" || die "the policy's source path is not on btrfs"
head -c 300000 /dev/urandom >"$MNT/src/data/random.bin"
chmod -R a+rX "$D" "$MNT"
start_yunbakd

backup_full "$SYS" >/dev/null
[ -f "$MNT/store/$SYS/config" ] || die "the backup is not in the btrfs store"
PAPER=$(offline_copy "$SYS" "$DEPT")
attest "$PAPER" "$DEPT"
N=$(decom_request "$SYS" "the system is switched off")
decom_approve "$N"
decom_waive "$N"
as "$OPER" yunbak decommission execute "$N" >"$D/execute.out" 2>&1 || {
        cat "$D/execute.out" >&2
        api GET "/v1/decommissions/$N" >&2
        die "the execution of decommission $N did not end certified"
}
[ ! -e "$MNT/store/$SYS" ] || die "the repository on btrfs is still there"
[ -d "$MNT/src/data" ] && [ -z "$(ls -A "$MNT/src/data")" ] || die "the source path on btrfs is not cleared (kept, empty)"
cert_body "$(decom_field "$N" 'j["certificate"]')" "$SCRATCH/cert.json"
yunbak certificate verify "$SCRATCH/cert.json" >/dev/null || die "the certificate does not verify"
python3 - "$SCRATCH/cert.json" "$MNT" <<'PY' || die "the certificate: $(cat "$SCRATCH/cert.json")"
import json, sys
c = json.load(open(sys.argv[1]))
mnt = sys.argv[2]
arts = c["artifacts"]
store = [a for a in arts if a["kind"] == "backups" and a["name"] == "local"]
assert len(store) == 1, [a["kind"] + ":" + a["name"] for a in arts]
a = store[0]
assert mnt in a["location"], a["location"]
m = a["medium"]
assert m["filesystem"] == "btrfs" and m["overwrite_effective"] is False, m
assert "copy-on-write" in m["why"], m["why"]
assert "overwrite" not in a["methods"], a["methods"]
assert "cryptographic-erase" in a["methods"] and "delete" in a["methods"], a["methods"]
assert a["claim"] == "cryptographic erase + deletion", a["claim"]
assert a["operator_must"], a
assert a["files"] > 0, a
src = [a for a in arts if a["kind"] == "source-path"]
assert len(src) == 1 and src[0]["location"].endswith(mnt + "/src/data"), src
s = src[0]
assert s["medium"]["filesystem"] == "btrfs" and s["medium"]["overwrite_effective"] is False, s
assert s["claim"] == "deletion only" and s["methods"] == ["delete"], s
assert s["operator_must"], s
PY
stop_yunbakd
YUNBAKD_PID=
echo "decommission-btrfs: the certificate says an overwrite on btrfs proves nothing, for the store and the source"
