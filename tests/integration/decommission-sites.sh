#!/bin/sh
# The whole decommission of a system across three tiers and three sites (issue 13's first test):
# tier 1 a local store, tier 2 an SFTP store and tier 3 another SFTP store, each SFTP server a
# real sshd in a network namespace of its own (ssh-lib.sh, sourced twice). The replicator runs,
# a tier-1 full is taken, segments reach tier 2 and an off-site copy tier 3; a second system
# shares every store. Three copies of the system's key: the file `yunbak key init` made (registered
# with `yunbak key register`: yunbakd cannot know a key made just now), a second file (`yunbak key
# copy --to`) and an offline one (`key copy --offline`). The department and an
# operator, real uids, go through the flow: request, approve, export to a fourth (local) store
# sealed to a new key and restored with it, confirm; the two key files destroyed (`yunbak key
# destroy`), the offline copy attested by its holder, execute. Afterwards nothing of the system
# is in any store (each store's top level listed directly: the SFTP servers' directories are
# local), no key file is left, the catalog has no snapshot of it, its replicator is stopped, and
# the export is still there and restores; the certificate, as JSON and as HTML, verifies, and
# fails to after one byte of either changes; it says "cryptographic erase + deletion" for the
# SFTP stores, with the remote reason, and names each artifact. The other system's snapshots
# verify in every store and its replicator still runs.
# Then the second system's decommission, with an offline key copy held and files of it planted
# back in two stores (a snapshot header, and a copy of its repository under another name):
# execution stops at the keys step naming the copy, verification names the planted files and the
# copy, no certificate is issued; once they are dealt with, verification passes.
# Root only (other uids, network namespaces). About 30 s: two sshd, two replicators, an
# off-site copy per system and two executions make a long test; split, each part would repeat the
# whole set-up.
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/daemon-lib.sh"
. "$TESTS/integration/decommission-lib.sh"

finish() {
        set +e
        stop_left_yunbakd
        ssh_finish
        cleanup
}
trap finish EXIT
trap 'exit 1' HUP INT TERM
SSH_DIR=$SCRATCH/ssh-intracity
. "$TESTS/integration/ssh-lib.sh"
[ "$MODE" = netns ] || skip "the SFTP servers need network namespaces of their own"
A2=$ADDR P2=$PORT SSH2=$SSH_DIR
SSH_DIR=$SCRATCH/ssh-offsite
SSH_HOST=2
. "$TESTS/integration/ssh-lib.sh"
A3=$ADDR P3=$PORT SSH3=$SSH_DIR
[ "$A2" != "$A3" ] || die "both SFTP servers are at $A2"

SYS=hr-portal
OTHER=hotline
T2="$D/sftp-intracity"
T3="$D/sftp-offsite"
HANDOVER="$D/handover"
mkdir -p "$T2" "$T3" "$HANDOVER"
URL2="sftp://$ME@$A2:$P2$T2"
URL3="sftp://$ME@$A3:$P3$T3"
decom_config
add_store intracity "$URL2" "$SSH2"
add_store offsite "$URL3" "$SSH3"
add_store handover "$HANDOVER"
TIERS="tier2:
  store: intracity
  max_lag: 30s
  interval: 1s
  checkpoint: \"*-*-* 00:00:00 UTC\"
tier3:
  store: offsite
  schedule: \"*:*:0/2\""
# No scheduled tier-1 run on the real clock: the fulls are asked for.
daemon_system "$OTHER" "$DEPT_NAME" "2099-01-01 02:00 UTC" "2099-01-01 02:00 UTC" "$TIERS"
# The system's key is made below by `yunbak key init` while yunbakd answers, so that it registers.
mkdir -p "$D/trees/$SYS/data/docs"
seq 1 3000 >"$D/trees/$SYS/data/numbers.txt"
printf '人事档案\n' >"$D/trees/$SYS/data/docs/档案.txt"
head -c 200000 /dev/urandom >"$D/trees/$SYS/data/random.bin"
cat >"$D/policies/$SYS.yaml" <<YAML
version: 1
system:
  id: $SYS
  name: 人事门户网站
  department: $DEPT_NAME
  contact: 测试 <test@example.gov.cn>
  classification: general
sources:
  host: here
  paths:
    - $D/trees/$SYS/data
tier1:
  store: local
  full: "2099-01-01 02:00 UTC"
  incremental: "2099-01-01 02:00 UTC"
$TIERS
objectives:
  rpo: 1d
  rto: 8h
drill:
  every: 1y
  check: test -s data/numbers.txt
YAML
chmod -R a+rX "$D"
start_yunbakd

# --- The key: made by key init while yunbakd answers, registered ---------------------------------
# yunbakd cannot know a key made just now (its policy loads with the .pub after it), so key init
# says it did not register it and how to; the policy loads, and the file is registered.
yunbak key init --system "$SYS" --out "$D/keys" --passphrase-file "$SCRATCH/pass" >"$D/init.out" 2>&1 ||
        { cat "$D/init.out" >&2; die "yunbak key init failed"; }
grep -q "yunbak key register $D/keys/$SYS.key" "$D/init.out" ||
        die "key init does not say how to register the new key: $(cat "$D/init.out")"
kill -HUP "$YUNBAKD_PID"
wait_for "yunbakd did not load $SYS's policy with its new key" \
        "api GET /v1/systems/$SYS >/dev/null; [ \"\$(api_status)\" = 200 ]"
yunbak key register "$D/keys/$SYS.key" >"$D/register.out" 2>&1 ||
        { cat "$D/register.out" >&2; die "yunbak key register failed"; }
KEYID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["key_id"])' "$D/keys/$SYS.pub")

# --- Backups in every tier, for both systems --------------------------------------------------
for s in "$SYS" "$OTHER"; do
        wait_for "the replicator of $s does not run" \
                "[ \"\$(api GET /v1/systems/$s | json 'j[\"tier2\"][\"state\"]')\" = running ]"
done
SNAP=$(backup_full "$SYS")
[ -f "$D/store/$SYS/snapshots/$SNAP/header" ] || die "the full $SNAP of $SYS is not in tier 1"
OSNAP=$(backup_full "$OTHER")
echo "changed after the full" >"$D/trees/$SYS/data/changed.txt"
wait_for "no segment of $SYS reached the intra-city store" \
        "[ -n \"\$(find '$T2/$SYS/segments' -name header 2>/dev/null | head -1)\" ]"
for s in "$SYS" "$OTHER"; do
        wait_for "no off-site copy of $s succeeded" \
                "[ \"\$(sql \"SELECT count(*) FROM jobs WHERE tier = 3 AND system = '$s' AND state = 'succeeded'\")\" -ge 1 ]"
        for t in "$D/store" "$T2" "$T3"; do
                [ -f "$t/$s/config" ] || die "$s has no repository in $t"
        done
done
# A repository's config names its key id: what the search for copies after execution looks for.
grep -q "\"$KEYID\"" "$T3/$SYS/config" || die "the off-site config of $SYS does not name its key id $KEYID"
RPID=$(api GET "/v1/systems/$SYS" | json 'j["tier2"]["pid"]')
OPID=$(api GET "/v1/systems/$OTHER" | json 'j["tier2"]["pid"]')
kill -0 "$RPID" || die "the replicator of $SYS (pid $RPID) does not run"
ODIGEST=$(tree_digest "$D/trees/$OTHER/data")

# --- Three key copies -------------------------------------------------------------------------
mkdir -p "$SCRATCH/usb"
yunbak key copy "$D/keys/$SYS.key" --to "$SCRATCH/usb/$SYS.key" >"$D/copy.out" 2>&1 ||
        { cat "$D/copy.out" >&2; die "yunbak key copy --to failed"; }
[ -f "$SCRATCH/usb/$SYS.key" ] || die "key copy --to made no file"
[ "$(stat -c %a "$SCRATCH/usb/$SYS.key")" = 600 ] || die "the copied key file is not 0600"
PAPER=$(offline_copy "$SYS" "$DEPT")
yunbak key list --system "$SYS" --json >"$D/copies.json" || die "yunbak key list failed"
python3 - "$D/copies.json" "$D/keys/$SYS.key" "$SCRATCH/usb/$SYS.key" "$KEYID" "$DEPT" <<'PY' ||
import json, os, sys
j = json.load(open(sys.argv[1]))
copies = j["copies"] if isinstance(j, dict) else j
paths = sorted(c["path"] for c in copies if c["kind"] == "file")
assert paths == sorted(os.path.realpath(p) for p in sys.argv[2:4]), paths
assert all(c["key_id"] == sys.argv[4] and c["state"] == "held" for c in copies), copies
off = [c for c in copies if c["kind"] == "offline"]
assert len(off) == 1 and off[0]["holder"] == sys.argv[5], off
PY
        die "the three key copies: $(cat "$D/copies.json")"

# --- The flow: request, approve, export, restore, confirm -------------------------------------
N=$(decom_request "$SYS" "迁移至省政务云 (moved to the provincial cloud)")
decom_approve "$N"
mkdir -p "$SCRATCH/handover-key"
chown "$DEPT" "$SCRATCH/handover-key"
as "$DEPT" yunbak key init --system "$SYS" --out "$SCRATCH/handover-key" \
        --passphrase-file "$SCRATCH/pass" --no-register >/dev/null || die "the department's handover key"
as "$DEPT" yunbak decommission export "$N" --store handover \
        --public-key "$SCRATCH/handover-key/$SYS.pub" --wait >"$D/export.out" 2>&1 || {
        cat "$D/export.out" >&2
        tail -20 "$D/yunbakd.log" >&2
        die "the export of decommission $N failed"
}
[ "$(decom_field "$N" 'j["state"]')" = exported ] || die "decommission $N is not exported: $(cat "$D/body")"
ESNAP=$(decom_field "$N" 'j["export"]["snapshot"]')
[ -f "$HANDOVER/$SYS/snapshots/$ESNAP/header" ] || die "the export $ESNAP is not in the handover store"
DIGEST=$(tree_digest "$D/trees/$SYS/data")
# Restored as root: the tree's owners come back with it.
yunbak restore --store "$HANDOVER" --system "$SYS" --snapshot "$ESNAP" \
        --key "$SCRATCH/handover-key/$SYS.key" --passphrase-file "$SCRATCH/pass" \
        --target "$SCRATCH/restored" >/dev/null || die "the export does not restore with the handover key"
[ "$(tree_digest "$SCRATCH/restored/data")" = "$DIGEST" ] || die "the restored export differs from the system's data"
as "$DEPT" yunbak decommission confirm-export "$N" --note "restored and checked by 人社局" >/dev/null ||
        die "the department could not confirm the export"
[ "$(decom_field "$N" 'j["state"]')" = export-confirmed ] || die "decommission $N is not export-confirmed"

# --- Every key copy destroyed or attested -----------------------------------------------------
for f in "$D/keys/$SYS.key" "$SCRATCH/usb/$SYS.key"; do
        yunbak key destroy "$f" >"$D/destroy.out" 2>&1 || { cat "$D/destroy.out" >&2; die "yunbak key destroy $f failed"; }
        [ ! -e "$f" ] || die "$f is still there after yunbak key destroy"
done
attest "$PAPER" "$DEPT"
[ "$(api GET "/v1/systems/$SYS/key-copies" | json '",".join(sorted(c["state"] for c in j["copies"]))')" = attested,destroyed,destroyed ] ||
        die "the key copies after destruction: $(cat "$D/body")"

# --- Execution ---------------------------------------------------------------------------------
as "$OPER" yunbak decommission execute "$N" >"$D/execute.out" 2>&1 || {
        cat "$D/execute.out" >&2
        api GET "/v1/decommissions/$N" >&2
        tail -30 "$D/yunbakd.log" >&2
        die "the execution of decommission $N did not end certified"
}
[ "$(decom_field "$N" 'j["state"]')" = certified ] || die "decommission $N is not certified: $(cat "$D/body")"
CERT=$(decom_field "$N" 'j["certificate"]')

# Nothing of the system in any store, listed directly (the SFTP servers' directories are local).
for t in "$D/store" "$T2" "$T3"; do
        [ ! -e "$t/$SYS" ] || die "$t/$SYS is still there: $(find "$t/$SYS" | head)"
        ! grep -l "$KEYID" "$t"/*/config 2>/dev/null || die "a repository in $t holds $SYS's key id"
        [ -f "$t/$OTHER/config" ] || die "$OTHER's repository in $t was touched"
done
[ "$(sql "SELECT count(*) FROM snapshots WHERE system = '$SYS' AND store <> 'handover'")" = 0 ] ||
        die "the catalog still has snapshots of $SYS: $(sql "SELECT store, id FROM snapshots WHERE system = '$SYS'")"
# The replicator stopped and stays stopped; the other one runs on.
wait_for "the replicator of $SYS (pid $RPID) still runs" "! kill -0 $RPID 2>/dev/null"
[ "$(api GET "/v1/systems/$SYS" | json 'j["tier2"] is None or j["tier2"]["state"] != "running"')" = True ] ||
        die "status says the replicator of $SYS runs: $(cat "$D/body")"
kill -0 "$OPID" || die "the replicator of $OTHER (pid $OPID) was stopped"
[ "$(tree_digest "$D/trees/$OTHER/data")" = "$ODIGEST" ] || die "$OTHER's source tree changed"
# The export is the department's: still there, and it restores.
yunbak restore --store "$HANDOVER" --system "$SYS" --snapshot "$ESNAP" \
        --key "$SCRATCH/handover-key/$SYS.key" --passphrase-file "$SCRATCH/pass" \
        --target "$SCRATCH/again" >/dev/null || die "the export does not restore after the execution"
[ "$(tree_digest "$SCRATCH/again/data")" = "$DIGEST" ] || die "the export changed"

# --- The certificate ------------------------------------------------------------------------------
cert_body "$CERT" "$SCRATCH/cert.json"
yunbak certificate show "$CERT" --html "$SCRATCH/cert.html" >/dev/null || die "certificate show --html failed"
for f in cert.json cert.html; do
        expect_exit 0 yunbak certificate verify "$SCRATCH/$f"
        # One byte changed, in the reason.
        python3 - "$SCRATCH/$f" "$SCRATCH/bad-$f" <<'PY'
import sys
b = open(sys.argv[1], "rb").read()
i = b.index(b"provincial cloud")
open(sys.argv[2], "wb").write(b[:i] + b"P" + b[i + 1:])
PY
        expect_exit 1 yunbak certificate verify "$SCRATCH/bad-$f"
done
python3 - "$SCRATCH/cert.json" "$SYS" "$KEYID" "$ESNAP" "$D/store" "$T2" "$T3" "$DEPT" "$OPER" <<'PY' ||
import json, sys
c = json.load(open(sys.argv[1]))
system, keyid, esnap, local, t2, t3, dept, oper = sys.argv[2:]
assert c["type"] == "yunbak-decommission-certificate" and c["version"] == 1, c["type"]
assert c["system"]["id"] == system and c["system"]["key_id"] == keyid, c["system"]
assert c["system"]["name"] == "人事门户网站", c["system"]
d = c["decommission"]
assert d["requested"]["by"] == dept and d["approved"]["by"] == oper and d["executed"]["by"] == oper, d
assert d["export"]["state"] == "confirmed" and d["export"]["store"] == "handover", d["export"]
assert d["verified"]["result"] == "passed", d["verified"]
assert c["handed_over"]["store"] == "handover" and c["handed_over"]["snapshot"] == esnap, c["handed_over"]
assert c["handed_over"]["key_id"] != keyid, c["handed_over"]
arts = c["artifacts"]
backups = {a["name"]: a for a in arts if a["kind"] == "backups"}
assert set(backups) == {"local", "intracity", "offsite"}, sorted(backups)
assert backups["local"]["tiers"] == [1] and backups["intracity"]["tiers"] == [2], backups
assert backups["offsite"]["tiers"] == [3], backups["offsite"]
for name in ("intracity", "offsite"):
    a = backups[name]
    assert a["claim"] == "cryptographic erase + deletion", a
    assert "overwrite" not in a["methods"] and "cryptographic-erase" in a["methods"], a
    assert a["medium"]["overwrite_effective"] is False and "SFTP" in a["medium"]["why"], a["medium"]
    assert a["location"].startswith("sftp://"), a["location"]
    assert a["verification"]["result"] == "passed", a
for a in backups.values():
    assert a["files"] > 0, a
assert (t2 in backups["intracity"]["location"]) and (t3 in backups["offsite"]["location"])
assert local in backups["local"]["location"], backups["local"]
keys = [a for a in arts if a["kind"] == "key-copy"]
assert sorted(a["state"] for a in keys) == ["attested", "destroyed", "destroyed"], keys
for a in keys:
    if a["state"] == "attested":
        assert a["methods"] == ["attested"] and a["verification"]["result"] == "attested", a
        assert a["holder"] == dept, a
    else:
        # The overwrite is claimed only where the key file's medium makes it mean something.
        ow = a["medium"]["overwrite_effective"]
        assert "delete" in a["methods"] and ("overwrite" in a["methods"]) == ow, a
        assert a["verification"]["result"] == "passed" and a["state"] == "destroyed", a
src = [a for a in arts if a["kind"] == "source-path"]
assert len(src) == 1 and src[0]["location"].endswith("/trees/" + system + "/data"), src
assert any(a["kind"] == "agent-state" for a in arts), [a["kind"] for a in arts]
PY
        die "the certificate: $(cat "$SCRATCH/cert.json")"
# The source path is cleared, the directory kept.
[ -z "$(ls -A "$D/trees/$SYS/data")" ] || die "the source path still holds: $(ls -A "$D/trees/$SYS/data")"
# Every action of the flow is in the audit log.
for a in key.register key.destroyed key.attested decommission.request decommission.approve \
        decommission.export decommission.confirm-export decommission.execute decommission.step \
        decommission.certificate; do
        [ "$(sql "SELECT count(*) FROM audit WHERE action = '$a'")" -ge 1 ] || die "no audit record '$a'"
done

# --- The other system is untouched: its snapshots verify in every store ----------------------
yunbak verify --store "$D/store" --system "$OTHER" >/dev/null || die "$OTHER does not verify in the tier-1 store"
yunbak verify --store "$URL2" --ssh-key "$SSH2/client_key" --known-hosts "$SSH2/known_hosts" \
        --system "$OTHER" >/dev/null || die "$OTHER does not verify in the intra-city store"
yunbak verify --store "$URL3" --ssh-key "$SSH3/client_key" --known-hosts "$SSH3/known_hosts" \
        --system "$OTHER" >/dev/null || die "$OTHER does not verify in the off-site store"
[ -f "$D/store/$OTHER/snapshots/$OSNAP/header" ] || die "$OTHER's full $OSNAP is gone"

# named_in N WHAT...: decommission N's last error or verification names each WHAT.
named_in() {
        _n=$1
        shift
        api GET "/v1/decommissions/$_n" >"$D/n.json"
        for _w in "$@"; do
                python3 - "$D/n.json" "$_w" <<'PY' || die "decommission $_n does not name $_w: $(cat "$D/n.json")"
import json, sys
d = json.load(open(sys.argv[1]))
text = (d["last_error"] or "") + " ".join((s.get("detail") or "") for s in d["steps"] if s["step"] == "verify")
assert sys.argv[2] in text, text
PY
        done
        [ "$(json 'j["state"]' <"$D/n.json")" = executed ] || die "decommission $_n is not left executed: $(cat "$D/n.json")"
        [ "$(json 'j["certificate"]' <"$D/n.json")" = None ] || die "decommission $_n has a certificate"
        [ "$(api GET "/v1/certificates?system=$OTHER" | json 'len(j["certificates"])')" = 0 ] ||
                die "yunbakd issued a certificate for $OTHER: $(cat "$D/body")"
}
# --- Planted: the other system's decommission, a key copy held, its files planted back ---------
HELD=$(offline_copy "$OTHER" "$DEPT")
cp "$T3/$OTHER/config" "$SCRATCH/$OTHER-config"
N2=$(decom_request "$OTHER" "the hotline moved to the 12345 platform")
decom_approve "$N2"
decom_waive "$N2"
expect_exit 1 as "$OPER" yunbak decommission execute "$N2"
named_in "$N2" "key copy $HELD"
# Verified again with the copy still held: named again.
expect_exit 1 as "$OPER" yunbak decommission verify "$N2"
named_in "$N2" "key copy $HELD"
# The copy attested, files of the system planted back: a snapshot's header in the tier-1 store,
# and a copy of its repository's config under another name off-site.
attest "$HELD" "$DEPT"
mkdir -p "$D/store/$OTHER/snapshots/planted" "$T3/elsewhere"
printf 'planted\n' >"$D/store/$OTHER/snapshots/planted/header"
cp "$SCRATCH/$OTHER-config" "$T3/elsewhere/config"
expect_exit 1 as "$OPER" yunbak decommission verify "$N2"
named_in "$N2" "$D/store/$OTHER" "elsewhere"
# Once they are gone, verification passes.
rm -rf "$D/store/$OTHER" "$T3/elsewhere"
as "$OPER" yunbak decommission verify "$N2" >"$D/verify.out" 2>&1 || {
        cat "$D/verify.out" >&2
        die "verification after the planted files went and the copy was attested"
}
[ "$(decom_field "$N2" 'j["state"]')" = certified ] || die "decommission $N2 is not certified: $(cat "$D/body")"
stop_yunbakd
YUNBAKD_PID=
echo "decommission-sites: $SYS decommissioned across 3 stores on 2 SFTP servers, certificate $CERT"
