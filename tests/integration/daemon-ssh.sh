#!/bin/sh
# yunbakd runs a system's tier-1 job on a host it reaches by SSH: a real OpenSSH sshd, in its own
# network namespace over veth as root (on 127.0.0.1 otherwise; see ssh-lib.sh). The hooks and the
# agent run there (the hook sees SSH_CONNECTION), the agent gets the system's public key as text
# (no file of the daemon's machine is read on the host), the snapshot lands in the store, is
# recorded from its signed header with the remote agent's key, verifies and restores to the same
# tree. A host whose key is not the one in known_hosts is refused at the job level, nothing runs
# there, and the job's error names the host, the file and the fingerprint. A new agent key for a
# system is audited (agent.new); a pinned agent_key refuses a snapshot of another agent.
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/daemon-lib.sh"

SSH_DIR=$SCRATCH/ssh
YUNBAKD_PID=
HANG_PID=
finish() {
        set +e
        [ -z "$HANG_PID" ] || kill "$HANG_PID"
        [ -z "$YUNBAKD_PID" ] || {
                kill "$YUNBAKD_PID" 2>/dev/null
                wait "$YUNBAKD_PID" 2>/dev/null
        }
        ssh_finish
        cleanup
}
trap finish EXIT
trap 'exit 1' HUP INT TERM
. "$TESTS/integration/ssh-lib.sh"

# The host "stranger" is the same sshd, but its known_hosts knows only another host.
printf '[10.9.9.9]:%s %s\n' "$PORT" "$(cut -d' ' -f1,2 "$SSH_DIR/host_key.pub")" >"$SSH_DIR/kh_other"

host_yaml() { # NAME KNOWN_HOSTS STATE_DIR [MORE]
        cat <<YAML
  $1:
    ssh: $ME@$ADDR:$PORT
    ssh_key: $SSH_DIR/client_key
    known_hosts: $2
    agent: ${AGENT:-$BIN/yunbak-agent}
    state_dir: $3
${4:-}
YAML
}
EXTRA_HOSTS="$(host_yaml web "$SSH_DIR/known_hosts" "$D/web-state")
$(host_yaml stranger "$SSH_DIR/kh_other" "$D/stranger-state")"
daemon_config
HOST=web daemon_system web-app dept-a "" "" "  retention:
    keep_last: 1"
HOST=stranger daemon_system lost-app dept-a
# A hook on the host, before and after the backup: it must run there, over SSH.
python3 - "$D/policies/web-app.yaml" "$D" <<'PY'
import sys
p, d = sys.argv[1], sys.argv[2]
s = open(p).read()
hook = f"""  hooks:
    - name: mark
      type: command
      run: echo "$YUNBAK_SYSTEM $SSH_CONNECTION" >{d}/hook-before
      after: echo "$YUNBAK_RESULT $SSH_CONNECTION" >{d}/hook-after
      timeout: 1min
      on_failure: abort
tier1:"""
assert "tier1:" in s
open(p, "w").write(s.replace("tier1:", hook, 1))
PY
cp "$D/policies/lost-app.yaml" "$D/lost-app.yaml.saved"
sed -i "s|^  paths:|  hooks:\n    - name: mark\n      type: command\n      run: touch $D/stranger-hook-ran\n      timeout: 1min\n      on_failure: abort\n  paths:|" \
        "$D/policies/lost-app.yaml"
grep -q stranger-hook-ran "$D/policies/lost-app.yaml" || die "the hook was not added to lost-app"

yunbakd --config "$D/yunbakd.yaml" --check >"$D/check.out" 2>&1 || {
        cat "$D/check.out" >&2
        die "the configuration with SSH hosts does not check"
}
start_yunbakd

# --- A backup on the SSH host ---------------------------------------------------------------

expect_exit 0 yunbak backup now --system web-app --wait --socket "$SOCK" --json
job=$(json 'j["id"]' <"$SCRATCH/stdout")
api GET "/v1/jobs/$job" >"$D/job.json"
[ "$(json 'j["state"]' <"$D/job.json")" = succeeded ] || die "web-app's job: $(cat "$D/job.json")"
snap=$(json 'j["snapshot"]' <"$D/job.json")

# The hooks ran on the host, over SSH: sshd set SSH_CONNECTION (client address, port, server
# address, port).
read -r sys conn <"$D/hook-before" || die "the hook before did not run"
[ "$sys" = web-app ] || die "the hook saw YUNBAK_SYSTEM '$sys'"
case "$conn" in
*" $ADDR $PORT") ;;
*) die "the hook did not run through the sshd at $ADDR:$PORT: SSH_CONNECTION='$conn'" ;;
esac
read -r result conn <"$D/hook-after" || die "the hook after did not run"
[ "$result" = ok ] || die "the hook after saw YUNBAK_RESULT '$result'"
case "$conn" in *" $ADDR $PORT") ;; *) die "the hook after did not run over SSH" ;; esac

# The agent ran there with its own state directory; its key signed the snapshot, and the
# catalog recorded that key.
WEB_AGENT=$(yunbak-agent identity --state-dir "$D/web-state")
[ -n "$WEB_AGENT" ] || die "the remote agent has no identity in $D/web-state"
api GET /v1/systems/web-app | json 'j["agents"]' >"$D/agents"
[ "$(cat "$D/agents")" = "['$WEB_AGENT']" ] || die "the catalog's agents: $(cat "$D/agents")"
[ "$(sql "SELECT agent FROM snapshots WHERE system = 'web-app' AND id = '$snap'")" = "$WEB_AGENT" ] ||
        die "snapshot $snap is not recorded with the remote agent's key"
api GET '/v1/audit?limit=1000' |
        json '"\n".join(r["result"] + " " + r["detail"] for r in j["records"] if r["action"] == "agent.new" and r["object"] == "web-app")' >"$D/agent-new"
grep -q "^ok snapshot $snap from host web is signed by agent key $WEB_AGENT, the system's first" \
        "$D/agent-new" || die "no agent.new record for web-app's first agent: $(cat "$D/agent-new")"

# The store holds it; only the department's key reads it, and the tree comes back the same.
yunbak verify --store "$D/store" --system web-app --trust-agent "$WEB_AGENT" >/dev/null ||
        die "the snapshot written over SSH does not verify"
yunbak restore --store "$D/store" --system web-app --snapshot "$snap" --key "$D/keys/web-app.key" \
        --passphrase-file "$SCRATCH/pass" --target "$D/restored" >/dev/null ||
        die "the snapshot written over SSH does not restore"
[ "$(tree_digest "$D/restored/data")" = "$(tree_digest "$D/trees/web-app/data")" ] ||
        die "the restored tree differs from the source"

# --- A postgresql hook with on_failure: continue, whose dump fails: the job is partial ----------

if command -v pg_dump >/dev/null; then
        stop_yunbakd
        YUNBAKD_PID=
        HOST=web daemon_system db-app dept-a
        HOST=web daemon_system db-cancel dept-a
        # A "server" that accepts and never answers: pg_dump would wait for ever, and the hook's
        # timeout (2s) stops it.
        mkdir "$D/hang"
        start_silent_server "$D/hang/.s.PGSQL.5432"
        HANG_PID=$SILENT_PID
        sed -i "s|^  paths:|  hooks:\n    - name: gone-db\n      type: postgresql\n      database: host=$D/no-such-socket-dir dbname=hr\n      timeout: 1min\n      on_failure: continue\n    - name: gone-db2\n      type: postgresql\n      database: host=$D/hang dbname=hr2\n      timeout: 2s\n      on_failure: continue\n  paths:|" \
                "$D/policies/db-app.yaml"
        sed -i "s|^  paths:|  hooks:\n    - name: slow-db\n      type: postgresql\n      database: host=$D/hang dbname=hr-cancel-$$\n      timeout: 10min\n  paths:|" \
                "$D/policies/db-cancel.yaml"
        start_yunbakd
        expect_exit 3 yunbak backup now --system db-app --wait --socket "$SOCK" --json
        json 'j["state"] + "|" + j["error"]' <"$SCRATCH/stdout" >"$D/db.out"
        grep -Eq "^partial\|2 entries were left out: '_streams/gone-db.pgdump' \(stream: its command exited with status 1 \(it said: \"pg_dump: error: connection to server on socket [^ ]*no-such-socket-dir/\.s\.PGSQL\.5432\" failed: No such file or directory \| Is the server running locally and accepting connections on that socket\?\"\)\); '_streams/gone-db2.pgdump' \(stream: its command exited with status 124 \(it said: \"pg_dump did not end within the hook's timeout of 2 s and was stopped\"\)\)" \
                "$D/db.out" || die "db-app's job with a failing optional dump: $(cat "$D/db.out")"
        snap_db=$(json 'j["snapshot"]' <"$SCRATCH/stdout")
        # A job cancelled while pg_dump waits stops pg_dump too (it stays in the agent's process
        # group under coreutils' timeout), on the host, over SSH.
        job=$(api POST /v1/systems/db-cancel/backup '{"level": "full"}' | json 'j["job"]')
        # The words as pg_dump (and timeout) see them, unquoted: not the agent's or sh's argv.
        dump="pg_dump --format=custom --compress=0 --dbname=host=$D/hang dbname=hr-cancel-$$"
        i=0
        until pgrep -f "$dump" >/dev/null; do
                i=$((i + 1))
                [ "$i" -lt 600 ] || die "pg_dump of db-cancel never started"
                sleep 0.1
        done
        api POST "/v1/jobs/$job/cancel" >/dev/null
        [ "$(wait_job "$job")" = cancelled ] || die "db-cancel's job was not cancelled"
        i=0
        while pgrep -f "$dump" >/dev/null; do
                i=$((i + 1))
                [ "$i" -lt 300 ] || die "pg_dump outlived its cancelled job: $(pgrep -af "$dump")"
                sleep 0.1
        done
        kill "$HANG_PID"
        HANG_PID=
        [ "$(sql "SELECT partial FROM snapshots WHERE system = 'db-app' AND id = '$snap_db'")" = 1 ] ||
                die "db-app's partial snapshot is not recorded as partial"
fi

# --- An unknown host key: refused at the job level, nothing runs ----------------------------

expect_exit 1 yunbak backup now --system lost-app --wait --socket "$SOCK" --json
job=$(json 'j["id"]' <"$SCRATCH/stdout")
api GET "/v1/jobs/$job" >"$D/lost.json"
[ "$(json 'j["state"]' <"$D/lost.json")" = failed ] || die "lost-app's job: $(cat "$D/lost.json")"
json 'j["error"]' <"$D/lost.json" >"$D/lost.err"
for t in "host $ADDR:$PORT: " "host key not in $SSH_DIR/kh_other" "ssh-ed25519 $FP" \
        "nothing was run" "hook 'mark' failed" "the backup was not run"; do
        grep -Fq -- "$t" "$D/lost.err" || die "the job's error does not say '$t': $(cat "$D/lost.err")"
done
[ ! -e "$D/stranger-hook-ran" ] || die "a hook ran on a host whose key is unknown"
[ ! -e "$D/stranger-state" ] || die "the agent ran on a host whose key is unknown"
[ "$(sql "SELECT count(*) FROM snapshots WHERE system = 'lost-app'")" = 0 ] ||
        die "lost-app has snapshots"
api GET '/v1/audit?limit=1000' |
        json '"\n".join(r["result"] + " " + r["detail"] for r in j["records"] if r["action"] == "job.end" and r["object"] == "lost-app")' >"$D/lost-audit"
grep -Fq "failed job $job " "$D/lost-audit" || die "the refusal is not audited: $(cat "$D/lost-audit")"
grep -Fq "host key not in" "$D/lost-audit" || die "the audit record does not say why"

# --- Another agent on the host: audited, and refused once pinned -----------------------------

# The host's agent state is lost (a reinstall): a new agent key signs the next snapshot.
mv "$D/web-state" "$D/web-state.old"
expect_exit 0 yunbak backup now --system web-app --level incremental --wait --socket "$SOCK" --json
snap2=$(api GET "/v1/jobs/$(json 'j["id"]' <"$SCRATCH/stdout")" | json 'j["snapshot"]')
NEW_AGENT=$(yunbak-agent identity --state-dir "$D/web-state")
[ "$NEW_AGENT" != "$WEB_AGENT" ] || die "the new agent state has the old key"
api GET '/v1/audit?limit=1000' |
        json '"\n".join(r["result"] + " " + r["detail"] for r in j["records"] if r["action"] == "agent.new" and r["object"] == "web-app")' >"$D/agent-new"
grep -Fq "warning snapshot $snap2 from host web is signed by agent key $NEW_AGENT; the system's snapshots so far were signed by $WEB_AGENT" \
        "$D/agent-new" || die "the new agent key is not audited as a warning: $(cat "$D/agent-new")"
grep -Fq "is signed by agent key $NEW_AGENT" "$D/yunbakd.log" || die "yunbakd did not warn"

# Pinned to the old key: the new agent's snapshot fails the job, and no retention runs on it.
stop_yunbakd
YUNBAKD_PID=
EXTRA_HOSTS="$(host_yaml web "$SSH_DIR/known_hosts" "$D/web-state" "    agent_key: $WEB_AGENT")
$(host_yaml stranger "$SSH_DIR/kh_other" "$D/stranger-state")"
daemon_config
start_yunbakd
success_before=$(api GET /v1/systems/web-app | json 'j["tier1"]["last_success_usec"]')
expect_exit 1 yunbak backup now --system web-app --level incremental --wait --socket "$SOCK" --json
job=$(json 'j["id"]' <"$SCRATCH/stdout")
api GET "/v1/jobs/$job" >"$D/pinned.json"
[ "$(api GET /v1/systems/web-app | json 'j["tier1"]["last_success_usec"]')" = "$success_before" ] ||
        die "the refused snapshot counted as a success"
[ "$(json 'j["state"]' <"$D/pinned.json")" = failed ] || die "pinned job: $(cat "$D/pinned.json")"
json 'j["error"]' <"$D/pinned.json" >"$D/pinned.err"
grep -Fq "is signed by agent key $NEW_AGENT, but hosts.web.agent_key pins $WEB_AGENT" "$D/pinned.err" ||
        die "the pinned job's error: $(cat "$D/pinned.err")"
# Kept and listed (the store has it), and the catalog still agrees with the store.
snap3=$(json 'j["snapshot"]' <"$D/pinned.json")
[ "$(sql "SELECT quarantine FROM snapshots WHERE system = 'web-app' AND id = '$snap3'")" = \
        "signed by agent $NEW_AGENT, not by $WEB_AGENT that hosts.web.agent_key pins" ] ||
        die "the refused agent's snapshot is not listed as quarantined"

# The old agent back: accepted again. It builds on its own snapshot, not on the newer ones of the
# other agent; retention (keep_last: 1) keeps the new one and its full, prunes the other agent's
# unpinned incremental, and leaves the quarantined snapshot alone.
rm -rf "$D/web-state"
mv "$D/web-state.old" "$D/web-state"
expect_exit 0 yunbak backup now --system web-app --level incremental --wait --socket "$SOCK" --json
snap5=$(json 'j["snapshot"]' <"$SCRATCH/stdout")
[ "$(sql "SELECT parent FROM snapshots WHERE system = 'web-app' AND id = '$snap5'")" = "$snap" ] ||
        die "the pinned agent built on another agent's snapshot"
# (Sorted as text: two snapshots of the same second sort by their random suffix.)
want=$(printf '%s\n' "$snap" "$snap3" "$snap5" | LC_ALL=C sort | tr '\n' ' ')
[ "$(sql "SELECT id FROM snapshots WHERE system = 'web-app'" | LC_ALL=C sort | tr '\n' ' ')" = "$want" ] ||
        die "retention: $(sql "SELECT id, agent, quarantine FROM snapshots WHERE system = 'web-app'")"
[ "$(ls "$D/store/web-app/snapshots" | LC_ALL=C sort | tr '\n' ' ')" = "$want" ] ||
        die "the store holds $(ls "$D/store/web-app/snapshots")"
! grep -q "cannot prune" "$D/yunbakd.log" || die "a prune failed: $(grep "cannot prune" "$D/yunbakd.log")"
yunbak restore --store "$D/store" --system web-app --snapshot "$snap5" --trust-agent "$WEB_AGENT" \
        --key "$D/keys/web-app.key" --passphrase-file "$SCRATCH/pass" --target "$D/restored5" >/dev/null ||
        die "the pinned agent's snapshot does not restore with --trust-agent"
# A new full of the pinned agent with keep_last: 1 prunes snap5; snap stays, because the
# quarantined snapshot is built on it.
expect_exit 0 yunbak backup now --system web-app --level full --wait --socket "$SOCK" --json
full6=$(json 'j["snapshot"]' <"$SCRATCH/stdout")
want=$(printf '%s\n' "$snap" "$snap3" "$full6" | LC_ALL=C sort | tr '\n' ' ')
[ "$(ls "$D/store/web-app/snapshots" | LC_ALL=C sort | tr '\n' ' ')" = "$want" ] ||
        die "after the new full the store holds $(ls "$D/store/web-app/snapshots"), not $want"
# yunbak snapshots (from the catalog) says which is quarantined, and why.
expect_exit 0 yunbak snapshots --system web-app --socket "$SOCK"
grep -A1 "^local  *$snap3 " "$SCRATCH/stdout" | grep -Fq "QUARANTINED: signed by agent $NEW_AGENT, not by $WEB_AGENT that hosts.web.agent_key pins" ||
        die "snapshots does not show the quarantine: $(cat "$SCRATCH/stdout")"
# A catalog rebuild keeps the quarantine (the stores cannot say it).
expect_exit 0 yunbak catalog rebuild --socket "$SOCK"
[ -n "$(sql "SELECT quarantine FROM snapshots WHERE system = 'web-app' AND id = '$snap3'")" ] ||
        die "catalog rebuild lifted the quarantine"
# Released by an operator, it is a snapshot like any other: the next backup's retention
# (keep_last: 1) prunes it and what it was built on.
[ "$(api POST "/v1/systems/web-app/snapshots/$snap3/release" | json 'j["quarantine"]')" = released ] ||
        die "release: $(cat "$D/body")"
[ -z "$(sql "SELECT quarantine FROM snapshots WHERE system = 'web-app' AND id = '$snap3'")" ] ||
        die "the release did not lift the quarantine"
expect_exit 0 yunbak backup now --system web-app --level incremental --wait --socket "$SOCK" --json
inc7=$(json 'j["snapshot"]' <"$SCRATCH/stdout")
want=$(printf '%s\n' "$full6" "$inc7" | LC_ALL=C sort | tr '\n' ' ')
[ "$(ls "$D/store/web-app/snapshots" | LC_ALL=C sort | tr '\n' ' ')" = "$want" ] ||
        die "after the release the store holds $(ls "$D/store/web-app/snapshots"), not $want"

# An agent that reports a snapshot the catalog already has made nothing new: the job fails.
cat >"$D/fake-agent" <<EOF
#!/bin/sh
if [ -s "$D/fake-last" ]; then
        printf '{"snapshot": "%s", "bytes_read": 0, "bytes_stored": 0}\n' "\$(cat "$D/fake-last")"
        exit 0
fi
out=\$("$BIN/yunbak-agent" "\$@") || exit \$?
printf '%s\n' "\$out"
printf '%s' "\$out" | python3 -c 'import json, sys; print(json.load(sys.stdin)["snapshot"])' >"$D/fake-last"
EOF
chmod +x "$D/fake-agent"
stop_yunbakd
YUNBAKD_PID=
EXTRA_HOSTS="$(host_yaml web "$SSH_DIR/known_hosts" "$D/web-state" "    agent_key: $WEB_AGENT")
$(host_yaml stranger "$SSH_DIR/kh_other" "$D/stranger-state")
$(AGENT=$D/fake-agent host_yaml faker "$SSH_DIR/known_hosts" "$D/faker-state")"
daemon_config
HOST=faker daemon_system fake-app dept-a
start_yunbakd
expect_exit 0 yunbak backup now --system fake-app --wait --socket "$SOCK"
expect_exit 1 yunbak backup now --system fake-app --wait --socket "$SOCK" --json
json 'j["state"] + "|" + j["error"]' <"$SCRATCH/stdout" >"$D/fake.out"
grep -Fq "failed|the agent reported snapshot $(cat "$D/fake-last"), which the catalog already had: it made no new snapshot" \
        "$D/fake.out" || die "an old snapshot reported as new: $(cat "$D/fake.out")"

# Another system's key file for a system: an error at the policy's system id (exit 3: that file would
# be left out, the others loaded).
cp "$D/keys/lost-app.pub" "$D/lost-app.pub.saved"
cp "$D/keys/web-app.pub" "$D/keys/lost-app.pub"
expect_exit 3 yunbakd --config "$D/yunbakd.yaml" --check
expect_stderr "lost-app.yaml:[0-9]+:[0-9]+: the public key $D/keys/lost-app.pub belongs to system 'web-app', not 'lost-app'"
cp "$D/lost-app.pub.saved" "$D/keys/lost-app.pub"

# A bad agent_key is a configuration error at its line and column.
EXTRA_HOSTS="$(host_yaml web "$SSH_DIR/known_hosts" "$D/web-state" "    agent_key: not-a-key")"
daemon_config
expect_exit 78 yunbakd --config "$D/yunbakd.yaml" --check
expect_stderr "yunbakd.yaml:[0-9]+:16: hosts.web.agent_key must be the agent's key as 'yunbak-agent identity' prints it"

stop_yunbakd
YUNBAKD_PID=
echo "daemon-ssh ($MODE): ok"
