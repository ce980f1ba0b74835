# Sourced by the whole-flow decommission tests (decommission-sites.sh, -kill.sh, -btrfs.sh) after
# lib.sh and daemon-lib.sh, as root: the people of the flow as real uids (setpriv callers), the
# flow's steps up to execution, and the certificate compared without what changes from run to run.
# People: daemon, of the department 人社局 (requests, exports, confirms or waives; holds an offline
# key copy); bin, an operator (approves, executes); sys, an auditor; root, the operator running
# the test (ME). The systems of these tests belong to 人社局.
is_root || { echo "${TEST_NAME:-decommission}: skipped: needs root (callers are other uids)" >&2; exit 77; }
command -v setpriv >/dev/null || { echo "${TEST_NAME:-decommission}: skipped: no setpriv (util-linux)" >&2; exit 77; }
chmod 755 "$SCRATCH"
chmod -R a+rX "$D"
DEPT=daemon
OPER=bin
AUDITOR=sys
DEPT_NAME=人社局
export YUNBAK_SOCKET="$SOCK"
# stop_left_yunbakd, for the EXIT traps.
. "$TESTS/integration/daemon-replicate-lib.sh"
PEOPLE="  - user: $DEPT
    role: department
    department: $DEPT_NAME
  - user: $OPER
    role: operator
  - user: $AUDITOR
    role: auditor"

# decom_config: yunbakd.yaml with the people above and a socket everyone may reach (the roles
# are the API's to enforce).
decom_config() {
        daemon_config "$PEOPLE"
        sed -i 's/^socket: yunbakd.sock/&\nsocket_mode: "0666"/' "$D/yunbakd.yaml"
}

# add_store NAME URL [SSH_DIR]: another store in yunbakd.yaml (an SFTP one with SSH_DIR's client
# key and known_hosts).
add_store() {
        python3 - "$D/yunbakd.yaml" "$@" <<'PY'
import sys
p, name, url = sys.argv[1:4]
entry = f"stores:\n  {name}:\n    url: {url}\n"
if len(sys.argv) > 4:
    entry += f"    ssh_key: {sys.argv[4]}/client_key\n    known_hosts: {sys.argv[4]}/known_hosts\n"
s = open(p).read()
open(p, "w").write(s.replace("stores:\n", entry, 1))
PY
}

# as USER CMD...: runs CMD as the unix user USER (its uid and gid, no other groups).
as() {
        _u=$1
        shift
        setpriv --reuid="$(id -u "$_u")" --regid="$(id -g "$_u")" --clear-groups "$@"
}

# backup_full SYSTEM: a tier-1 full of SYSTEM, now; fails the test unless it succeeds. Prints
# the snapshot.
backup_full() {
        yunbak backup now --system "$1" --level full --wait --json >"$D/backup.json" 2>"$D/backup.err" || {
                cat "$D/backup.json" "$D/backup.err" >&2
                tail -20 "$D/yunbakd.log" >&2
                die "the full of $1 failed"
        }
        api GET "/v1/jobs/$(json 'j["id"]' <"$D/backup.json")" | json 'j["snapshot"]'
}

# decom_field N EXPR: EXPR over decommission N's JSON (bound to j).
decom_field() {
        api GET "/v1/decommissions/$1" | json "$2"
}

# decom_request SYSTEM REASON: the department asks; prints the decommission's id.
decom_request() {
        as "$DEPT" yunbak decommission request --system "$1" --reason "$2" >"$D/request.out" 2>&1 || {
                cat "$D/request.out" >&2
                die "the department's request to decommission $1 was refused"
        }
        _n=$(api GET "/v1/decommissions?system=$1" | json 'j["decommissions"][0]["id"]')
        [ "$(decom_field "$_n" 'j["state"]')" = requested ] || die "decommission $_n of $1 is not requested: $(cat "$D/body")"
        echo "$_n"
}

# decom_approve N: the operator approves.
decom_approve() {
        as "$OPER" yunbak decommission approve "$1" --note "checked with the department" \
                >"$D/approve.out" 2>&1 || {
                cat "$D/approve.out" >&2
                die "the operator could not approve decommission $1"
        }
        [ "$(decom_field "$1" 'j["state"]')" = approved ] || die "decommission $1 is not approved: $(cat "$D/body")"
}

# decom_waive N: the department waives the export (the data went with the system elsewhere).
decom_waive() {
        as "$DEPT" yunbak decommission waive-export "$1" --reason "the data moved with the system" \
                >"$D/waive.out" 2>&1 || {
                cat "$D/waive.out" >&2
                die "the department could not waive the export of decommission $1"
        }
        [ "$(decom_field "$1" 'j["state"]')" = export-waived ] || die "decommission $1 is not export-waived: $(cat "$D/body")"
}

# offline_copy SYSTEM HOLDER: registers an offline copy of SYSTEM's key held by HOLDER (as the
# operator); prints its id.
offline_copy() {
        yunbak key copy "$D/keys/$1.key" --offline --note "paper copy in the safe of $1" \
                --holder "$2" >"$D/copy.out" 2>&1 || {
                cat "$D/copy.out" >&2
                die "the offline copy of $1's key could not be registered"
        }
        api GET "/v1/systems/$1/key-copies" |
                json '[c["id"] for c in j["copies"] if c["kind"] == "offline" and c["state"] != "destroyed" and c["state"] != "attested"][-1]'
}

# attest COPY HOLDER: the holder attests the offline copy destroyed.
attest() {
        as "$2" yunbak key attest-destroyed --copy "$1" --method "shredded (cross-cut)" \
                --witness "$OPER" --yes >"$D/attest.out" 2>&1 || {
                cat "$D/attest.out" >&2
                die "$2 could not attest key copy $1 destroyed"
        }
}

# wait_dead PID WHAT: until process PID (a child) has ended (bounded: 120 s); its exit status
# (128 + the signal when a signal ended it) in $DEAD_STATUS.
wait_dead() {
        _i=0
        while kill -0 "$1" 2>/dev/null && ! grep -q '^State:.*zombie' "/proc/$1/status" 2>/dev/null; do
                _i=$((_i + 1))
                [ "$_i" -lt 1200 ] || die "$2: still running after 120 s"
                sleep 0.1
        done
        set +e
        wait "$1"
        DEAD_STATUS=$?
        set -e
}

# cert_body ID FILE: certificate ID as issued, through `yunbak certificate show ID --json`.
cert_body() {
        yunbak certificate show "$1" --json >"$2" 2>"$D/cert.err" || {
                cat "$D/cert.err" >&2
                die "yunbak certificate show $1 --json failed"
        }
}

# cert_normalize FILE SYSTEM: the certificate's JSON without what differs from one execution to
# the next (times, ids, snapshot names, byte counts, the signature, the issuer's key) and with the
# system's id as SYS and key copies' numbers as N, sorted: what two executions of the same flow
# must agree on.
cert_normalize() {
        python3 - "$1" "$2" <<'PY'
import json, re, sys
c = json.load(open(sys.argv[1]))
system = sys.argv[2]
VOLATILE = {"id", "issued", "at", "started", "finished", "when", "registered", "destroyed",
            "signature", "ed25519", "snapshot", "size_bytes", "bytes", "key_id", "detail",
            "decommission", "copy", "evidence", "not_before", "lock_until"}
def norm(v):
    if isinstance(v, dict):
        return {k: norm(x) for k, x in v.items() if k not in VOLATILE}
    if isinstance(v, list):
        # Artifacts in the order of what they are, not of what they say.
        return sorted((norm(x) for x in v), key=lambda x: json.dumps(
            [x.get("kind"), x.get("name"), x.get("location")] if isinstance(x, dict) else x,
            sort_keys=True))
    if isinstance(v, str):
        v = re.sub(r"\d{4}-\d\d-\d\dT[0-9:.]+Z", "TIME", v.replace(system, "SYS"))
        return re.sub(r"key copy \d+", "key copy N", v)
    return v
out = {k: norm(c[k]) for k in ("type", "version", "artifacts", "handed_over") if k in c}
out["system"] = norm({k: v for k, v in c["system"].items() if k != "key_id"})
out["export"] = norm(c["decommission"]["export"])
out["verified"] = norm(c["decommission"]["verified"])
print(json.dumps(out, sort_keys=True, indent=1, ensure_ascii=False))
PY
}
