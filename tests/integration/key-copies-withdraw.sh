#!/bin/sh
# A key copy registered by mistake is withdrawn by two people (docs/decommission.md, "Key
# copies"; docs/api.md, POST /v1/key-copies/{id}/withdraw; `yunbak key withdraw`):
# - a decommission's keys step waits on two mistaken copies (one registered by the department at
#   a path where no file ever was, one by an operator for another operator);
# - the two-person rule: an auditor, another department and an operator who did not register it
#   cannot ask; the asker cannot confirm, nor the copy's holder, nor an auditor, nor another
#   department, nor a department person; nothing is confirmed that nobody asked;
# - a copy yunbakd found (its key file was presented) existed: never withdrawn; a copy whose key
#   file is presented while its withdrawal is asked keeps its file's word: the request is dropped;
# - once withdrawn, verification certifies; the certificate names both copies as withdrawn (who
#   asked, who confirmed, why), never as destroyed, says so in its summary, and verifies;
# - a key file presented later where a withdrawn copy was is recorded as a new found copy and
#   warned about.
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/daemon-lib.sh"
. "$TESTS/integration/decommission-api-lib.sh"

# Two more operators (mail, news) and a person of another department (bin).
cat >>"$D/yunbakd.yaml" <<'YAML'
  - user: mail
    role: operator
  - user: news
    role: operator
  - user: bin
    role: department
    department: 政数局
YAML
YUNBAK=$BIN/yunbak
if ! setpriv --reuid=daemon --regid=daemon --clear-groups test -x "$YUNBAK"; then
        cp -p "$BIN/yunbak" "$SCRATCH/yunbak"
        chmod a+rx "$SCRATCH/yunbak"
        YUNBAK=$SCRATCH/yunbak
fi
# cli USER ARGS...: yunbak run as USER; its output in $D/cli.out, its exit code in $D/cli.rc.
cli() {
        _u=$1
        shift
        set +e
        setpriv --reuid="$(id -u "$_u")" --regid="$(id -g "$_u")" --clear-groups \
                "$YUNBAK" "$@" --socket "$SOCK" >"$D/cli.out" 2>&1
        echo $? >"$D/cli.rc"
        set -e
}
cli_ok() { [ "$(cat "$D/cli.rc")" = 0 ] || die "$1: exit $(cat "$D/cli.rc"): $(cat "$D/cli.out")"; }
cli_refused() { # WHAT TEXT
        [ "$(cat "$D/cli.rc")" != 0 ] || die "$1 was not refused: $(cat "$D/cli.out")"
        grep -q -- "$2" "$D/cli.out" || die "$1: the refusal lacks '$2': $(cat "$D/cli.out")"
}
has() { grep -q -- "$2" "$D/body" || die "$1: the answer lacks '$2': $(cat "$D/body")"; }
audited() { # ACTION RESULT ACTOR TEXT
        [ "$(sql "SELECT count(*) FROM audit WHERE action = '$1' AND result = '$2' AND actor = '$3' AND instr(detail, '$4') > 0")" != 0 ] ||
                die "no audit record $1 $2 by $3 with '$4': $(sql "SELECT actor, action, result, detail FROM audit WHERE action LIKE 'key.%'")"
}
state_of() { sql "SELECT state FROM key_copies WHERE id = $1"; }

decom_system hr-portal
KID=$(json 'j["key_id"]' <"$D/keys/hr-portal.pub")
HOST=$(hostname)
start_yunbakd
snapshots hr-portal
real=$(file_copy hr-portal "$SCRATCH/real.key")
# A: the department registered a copy at a path where no file ever was.
a=$(as "$DEPT" POST /v1/systems/hr-portal/key-copies \
        '{"key_id":"'"$KID"'","kind":"file","host":"'"$HOST"'","path":"'"$SCRATCH"'/never.key"}' | json 'j["id"]')
expect 201 "registering copy A"
# B: the operator root registered a copy said to be held by the operator mail.
b=$(api POST /v1/systems/hr-portal/key-copies \
        '{"key_id":"'"$KID"'","kind":"offline","note":"USB stick, never made","holder":"mail"}' | json 'j["id"]')
[ "$(api_status)" = 201 ] || die "registering copy B: $(cat "$D/body")"
n=$(decom_ready hr-portal)
destroy_copy "$real" "$SCRATCH/real.key"
[ "$(decom_run "$n" execute)" = executed ] || die "decommission $n did not end executed"
[ "$(step "$n" keys -)" = waiting ] || die "the keys step is not waiting on the mistaken copies"
api GET "/v1/decommissions/$n" >/dev/null
has "the keys step" "key copy $a ($HOST:$SCRATCH/never.key)"
has "the keys step" "key withdraw --copy ID"

# Who may not ask.
as sys POST "/v1/key-copies/$a/withdraw" '{"reason":"never made"}' >/dev/null
expect 403 "an auditor asking"
audited key.withdraw denied sys "an auditor reads and changes nothing"
as bin POST "/v1/key-copies/$a/withdraw" '{"reason":"never made"}' >/dev/null
expect 404 "another department asking"
as mail POST "/v1/key-copies/$a/withdraw" '{"reason":"never made"}' >/dev/null
expect 403 "an operator who did not register copy A asking"
has "an operator who did not register it" "or the operator who registered it ($DEPT)"
as "$DEPT" POST "/v1/key-copies/$a/withdraw" '{}' >/dev/null
expect 400 "asking without a reason"
# Nothing is confirmed that nobody asked.
cli root key withdraw --copy "$a" --confirm
cli_refused "a confirmation before any request" "no withdrawal of key copy $a"
[ "$(state_of "$a")" = held ] || die "copy A changed without a request"

# The department asks (yunbak key withdraw), once.
cli "$DEPT" key withdraw --copy "$a" --reason "registered with a wrong path: no such file was ever made"
cli_ok "the department asking"
grep -q "stays held until an operator who neither asked nor holds it" "$D/cli.out" ||
        die "the request does not say what comes next: $(cat "$D/cli.out")"
[ "$(state_of "$a")" = held ] || die "copy A is not held while its withdrawal awaits confirmation"
audited key.withdraw ok "$DEPT" "withdrawal of copy $a"
as "$DEPT" POST "/v1/key-copies/$a/withdraw" '{"reason":"again"}' >/dev/null
expect 409 "asking twice"
[ "$(api GET "/v1/systems/hr-portal/key-copies" | json "[c['withdrawal']['asked_by'] for c in j['copies'] if c['id'] == $a][0]")" = "$DEPT" ] ||
        die "the copy's JSON does not show the withdrawal asked: $(cat "$D/body")"
# Who may not confirm: the asker (and a department person), an auditor, another department.
cli "$DEPT" key withdraw --copy "$a" --confirm
cli_refused "the asker confirming" "may not confirm"
cli sys key withdraw --copy "$a" --confirm
cli_refused "an auditor confirming" "an auditor reads and changes nothing"
audited key.withdrawn denied sys "an auditor reads and changes nothing"
as bin POST "/v1/key-copies/$a/withdraw" '{"confirm":true}' >/dev/null
expect 404 "another department confirming"
[ "$(state_of "$a")" = held ] || die "copy A was withdrawn by a refused confirmation"
# An operator confirms.
cli root key withdraw --copy "$a" --confirm
cli_ok "the operator confirming"
[ "$(state_of "$a")" = withdrawn ] || die "copy A is not withdrawn"
audited key.withdrawn ok root "asked by $DEPT, confirmed by root"
as "$DEPT" POST "/v1/key-copies/$a/withdraw" '{"reason":"again"}' >/dev/null
expect 409 "asking to withdraw a withdrawn copy"

# B: the operator who registered it asks; neither they nor the holder (mail) may confirm.
as root POST "/v1/key-copies/$b/withdraw" '{"reason":"the USB copy was never made"}' >/dev/null
expect 202 "the registering operator asking"
cli root key withdraw --copy "$b" --confirm
cli_refused "the asking operator confirming" "may not also confirm it: another operator confirms"
cli mail key withdraw --copy "$b" --confirm
cli_refused "the holder confirming" "holds key copy $b"
[ "$(state_of "$b")" = held ] || die "copy B was withdrawn by a refused confirmation"
cli news key withdraw --copy "$b" --confirm
cli_ok "a third operator confirming"
[ "$(state_of "$b")" = withdrawn ] || die "copy B is not withdrawn"

# A found copy existed: not withdrawn. A withdrawal asked of a copy whose file is then presented
# is dropped.
cp "$D/keys/hr-portal.key" "$SCRATCH/found.key"
f=$(as "$DEPT" POST /v1/systems/hr-portal/key-copies/seen \
        '{"key_id":"'"$KID"'","host":"'"$HOST"'","path":"'"$SCRATCH"'/found.key"}' | json 'j["copy"]["id"]')
expect 200 "presenting an unregistered key file"
as "$DEPT" POST "/v1/key-copies/$f/withdraw" '{"reason":"not ours"}' >/dev/null
expect 409 "withdrawing a found copy"
has "a found copy" "so it existed and is not withdrawn"
c=$(file_copy hr-portal "$SCRATCH/c.key")
as "$DEPT" POST "/v1/key-copies/$c/withdraw" '{"reason":"thought it was a duplicate"}' >/dev/null
expect 202 "asking to withdraw copy C"
as "$DEPT" POST /v1/systems/hr-portal/key-copies/seen \
        '{"key_id":"'"$KID"'","host":"'"$HOST"'","path":"'"$SCRATCH"'/c.key"}' >/dev/null
expect 200 "presenting copy C's file"
audited key.withdraw warning "$DEPT" "the withdrawal asked of copy $c is dropped"
as news POST "/v1/key-copies/$c/withdraw" '{"confirm":true}' >/dev/null
expect 409 "confirming a dropped withdrawal"
destroy_copy "$f" "$SCRATCH/found.key"
destroy_copy "$c" "$SCRATCH/c.key"

# The list shows the withdrawn copies as such.
cli root key list --system hr-portal
cli_ok "key list"
[ "$(grep -c withdrawn "$D/cli.out")" = 2 ] || die "key list does not show two withdrawn copies: $(cat "$D/cli.out")"

# Verification certifies now; the certificate names A and B as withdrawn.
[ "$(decom_run "$n" verify)" = certified ] || die "decommission $n not certified: $(cat "$D/body")"
cert=$(api GET "/v1/decommissions/$n" | json 'j["certificate"]')
api GET "/v1/certificates/$cert" >"$D/cert.json"
python3 - "$D/cert.json" "$a" "$b" "$real" "$DEPT" <<'PY' || die "the certificate: $(cat "$D/cert.json")"
import json, sys
c = json.load(open(sys.argv[1]))
a, b, real, dept = "key copy " + sys.argv[2], "key copy " + sys.argv[3], "key copy " + sys.argv[4], sys.argv[5]
keys = {x["name"]: x for x in c["artifacts"] if x["kind"] == "key-copy"}
for name, asker, confirmer in ((a, dept, "root"), (b, "root", "news")):
    k = keys[name]
    assert k["state"] == "withdrawn" and k["methods"] == ["withdrawn"], k
    assert k["verification"]["result"] == "withdrawn" and k["nist_category"] == "none", k
    assert "destroy" not in k["claim"].replace("nothing destroyed", ""), k
    w = k["withdrawal"]
    assert w["asked"]["by"] == asker and w["confirmed"]["by"] == confirmer and w["reason"], k
    assert k["medium"] is None and k["size_bytes"] is None and k["when"], k
assert keys[real]["state"] == "destroyed", keys[real]
PY
yunbak certificate verify "$D/cert.json" --public-key "$D/state/yunbakd.pub" >"$D/cv.out" 2>&1 ||
        die "the certificate does not verify: $(cat "$D/cv.out")"
yunbak certificate show "$D/cert.json" --html "$D/cert.html" >"$D/show.out" 2>&1 || die "certificate show: $(cat "$D/show.out")"
yunbak certificate verify "$D/cert.html" --public-key "$D/state/yunbakd.pub" >"$D/cv.out" 2>&1 ||
        die "the certificate's page does not verify: $(cat "$D/cv.out")"
grep -q "none (withdrawn: not a copy)" "$D/cert.html" || die "the page does not show the withdrawn copies as such"
grep -q "3 key copies destroyed" "$D/show.out" &&
        grep -q "2 key copies registered by mistake were withdrawn by two people" "$D/show.out" ||
        die "the summary counts the withdrawn copies wrong: $(cat "$D/show.out")"

# A key file presented where withdrawn copy A was: a new found copy, warned about.
cp "$D/keys/hr-portal.key" "$SCRATCH/never.key"
as "$DEPT" POST /v1/systems/hr-portal/key-copies/seen \
        '{"key_id":"'"$KID"'","host":"'"$HOST"'","path":"'"$SCRATCH"'/never.key"}' >/dev/null
expect 200 "presenting a key file where withdrawn copy A was"
[ "$(json 'j["registered"]' <"$D/body")" = False ] && [ "$(json 'j["copy"]["found"]' <"$D/body")" = True ] ||
        die "the file at withdrawn copy A's place is not a new found copy: $(cat "$D/body")"
[ "$(json 'j["copy"]["id"]' <"$D/body")" != "$a" ] || die "withdrawn copy A was reused"
audited key.unregistered warning "$DEPT" "copy $a at the same place was withdrawn as never having existed"
[ "$(state_of "$a")" = withdrawn ] || die "copy A changed"
rm -f "$SCRATCH/never.key"
echo "ok"
