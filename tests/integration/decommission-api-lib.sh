# Sourced by decommission-execute.sh and decommission-verify.sh after lib.sh and daemon-lib.sh,
# as root: a yunbakd with a tier-1 store "local" and a tier-3 store "offsite", the people of the
# flow as real uids calling the API with curl (setpriv), and the flow's steps up to execution
# through the API (docs/api.md, "Decommissions", "Key copies").
# People: daemon, of the department 人社局 (requests, waives, holds the key copies); root, the
# operator running the test (approves, executes); sys, an auditor.
is_root || { echo "skipped: needs root (callers are other uids)" >&2; exit 77; }
command -v setpriv >/dev/null || { echo "skipped: no setpriv (util-linux)" >&2; exit 77; }
chmod 755 "$SCRATCH"
DEPT=daemon

daemon_config "  - user: $DEPT
    role: department
    department: 人社局
  - user: sys
    role: auditor"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -i "s|^socket: yunbakd.sock|socket: yunbakd.sock\nsocket_mode: \"0666\"\nmetrics_listen: 127.0.0.1:$PORT|" \
        "$D/yunbakd.yaml"
mkdir -p "$D/offsite" "$D/handover"
sed -i "s|^    url: $D/store\$|    url: $D/store\n  offsite:\n    url: $D/offsite\n  handover:\n    url: $D/handover|" \
        "$D/yunbakd.yaml"
grep -q '^  offsite:' "$D/yunbakd.yaml" || die "the offsite store was not added to yunbakd.yaml"

# decom_system ID: a system of 人社局 with tier 1 in "local" and tier 3 (on request, approved
# automatically) in "offsite".
decom_system() {
        daemon_system "$1" 人社局 "" "" "tier3:
  store: offsite
  on_request: true
  approval: automatic"
        chmod -R a+rX "$D"
}

# as USER METHOD PATH [BODY]: the API called as USER; the body on stdout, the status in
# $D/status.
as() {
        _u=$1
        shift
        setpriv --reuid="$(id -u "$_u")" --regid="$(id -g "$_u")" --clear-groups \
                curl -s --unix-socket "$SOCK" -X "$1" -w '\n%{http_code}' \
                ${3:+-H 'Content-Type: application/json' --data "$3"} "http://yunbakd$2" \
                >"$D/answer"
        tail -n 1 "$D/answer" >"$D/status"
        sed '$d' "$D/answer" >"$D/body"
        cat "$D/body"
}
# expect STATUS WHAT: the last call answered STATUS.
expect() {
        [ "$(cat "$D/status")" = "$1" ] || die "$2: expected $1, got $(cat "$D/status"): $(cat "$D/body")"
}

# snapshots SYSTEM: a full in tier 1 and its copy in tier 3, now.
snapshots() {
        job=$(api POST "/v1/systems/$1/backup" '{"level":"full"}' | json 'j["job"]')
        [ "$(wait_job "$job")" = succeeded ] || die "the backup of $1 failed: $(cat "$D/body")"
        job=$(as "$DEPT" POST /v1/offsite/requests '{"system":"'"$1"'","reason":"before the decommission"}' |
                json 'j["job"]')
        expect 201 "the off-site request of $1"
        [ "$(wait_job "$job")" = succeeded ] || die "the off-site copy of $1 failed: $(cat "$D/body")"
        [ -d "$D/offsite/$1/snapshots" ] || die "no off-site copy of $1"
}

# file_copy SYSTEM PATH: a copy of SYSTEM's key file at PATH, registered by the department;
# prints its id.
file_copy() {
        cp "$D/keys/$1.key" "$2"
        _kid=$(json 'j["key_id"]' <"$D/keys/$1.pub")
        as "$DEPT" POST "/v1/systems/$1/key-copies" \
                '{"key_id":"'"$_kid"'","kind":"file","host":"'"$(hostname)"'","path":"'"$2"'"}' |
                json 'j["id"]'
        expect 201 "registering $2"
}

# offline_copy SYSTEM: an offline copy held by the department; prints its id.
offline_copy() {
        _kid=$(json 'j["key_id"]' <"$D/keys/$1.pub")
        as "$DEPT" POST "/v1/systems/$1/key-copies" \
                '{"key_id":"'"$_kid"'","kind":"offline","note":"paper, safe 3, room 402"}' | json 'j["id"]'
        expect 201 "registering an offline copy of $1"
}

# destroy_copy ID PATH: the key file at PATH overwritten and removed, reported to yunbakd with
# what was checked (`yunbak key destroy` when it is there, else by hand and the API).
destroy_copy() {
        if yunbak key destroy --help >/dev/null 2>&1; then
                yunbak key destroy "$2" --socket "$SOCK" >"$D/destroy.out" 2>&1 || {
                        cat "$D/destroy.out" >&2
                        die "yunbak key destroy $2 failed"
                }
        else
                shred -n 1 "$2" && rm -f "$2" && sync
                as "$DEPT" POST "/v1/key-copies/$1/destroyed" \
                        '{"evidence":{"method":"overwrite + unlink","bytes":1,"overwritten":true,"checks":["open fails: ENOENT"],"host":"'"$(hostname)"'","path":"'"$2"'"}}' >/dev/null
                expect 200 "reporting key copy $1 destroyed"
        fi
        [ ! -e "$2" ] || die "$2 is still there"
}

# attest_copy ID: the holder attests the offline copy destroyed.
attest_copy() {
        as "$DEPT" POST "/v1/key-copies/$1/attest" \
                '{"statement":"shredded in the presence of a witness","method":"cross-cut shredder","witness":"root"}' >/dev/null
        expect 200 "attesting key copy $1"
}

# decom_ready SYSTEM [export]: requested by the department, approved by the operator, and the
# export waived by the department, or (export) made into the store "handover" sealed to a new
# key of the system (in $D/handover-key) and confirmed; prints the decommission's id.
decom_ready() {
        _n=$(as "$DEPT" POST /v1/decommissions '{"system":"'"$1"'","reason":"系统迁出政务云"}' | json 'j["id"]')
        expect 201 "the request to decommission $1"
        api POST "/v1/decommissions/$_n/approve" '{"note":"checked"}' >/dev/null
        [ "$(api_status)" = 200 ] || die "approving decommission $_n: $(cat "$D/body")"
        if [ "${2:-}" = export ]; then
                yunbak key init --system "$1" --out "$D/handover-key" --passphrase-file "$SCRATCH/pass" \
                        --no-register >/dev/null
                _job=$(as "$DEPT" POST "/v1/decommissions/$_n/export" \
                        '{"store":"handover","public_key":'"$(cat "$D/handover-key/$1.pub")"'}' | json 'j["job"]')
                expect 202 "the export of decommission $_n"
                [ "$(wait_job "$_job")" = succeeded ] || die "the export job of decommission $_n failed"
                as "$DEPT" POST "/v1/decommissions/$_n/confirm-export" '{"note":"restored and checked"}' >/dev/null
                expect 200 "confirming the export of decommission $_n"
        else
                as "$DEPT" POST "/v1/decommissions/$_n/waive-export" '{"reason":"the data moved with the system"}' >/dev/null
                expect 200 "waiving the export of decommission $_n"
        fi
        echo "$_n"
}

# decom_run N ACTION: POST .../ACTION (execute or verify) as the operator, then waits (bounded)
# until it is no longer running; prints its state.
decom_run() {
        api POST "/v1/decommissions/$1/$2" >/dev/null
        [ "$(api_status)" = 202 ] || die "$2 of decommission $1: $(api_status): $(cat "$D/body")"
        _i=0
        while [ "$(api GET "/v1/decommissions/$1" | json 'j["running"]')" = True ]; do
                _i=$((_i + 1))
                [ "$_i" -lt 1200 ] || die "decommission $1 still runs after 120 s"
                sleep 0.1
        done
        api GET "/v1/decommissions/$1" | json 'j["state"]'
}

# step N STEP TARGET: the state of that step of decommission N.
step() {
        api GET "/v1/decommissions/$1" |
                json "[s['state'] for s in j['steps'] if s['step'] == '$2' and s['target'] == '$3'][0]"
}
