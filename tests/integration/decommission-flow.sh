#!/bin/sh
# A decommission's flow up to execution, by real uids through `yunbak decommission`: the
# department requests it, an operator approves it, an export into a store that cannot take it
# fails and puts it back to approved with why, as does an export yunbakd is killed in; the
# export to a second local store sealed to a new key pair is made (a tier-1 full of the system,
# recorded with that store, not taken for the tier's last backup), restores with the new key and
# not with the system's own, and the department confirms it. Each transition has its audit
# record; status and the system's JSON name the live decommission. `execute` then follows the
# steps (1 while a key copy is held) and leaves the export alone; `verify` certifies it (0).
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/decommission-flow-lib.sh"
# A store that cannot take anything: its directory is under a regular file.
: >"$D/not-a-dir"
sed -i "s|^  handover:\$|  broken:\n    url: $D/not-a-dir/store\n  handover:|" "$D/yunbakd.yaml"
daemon_system hr-portal 人社局
daemon_system hotline 政数局
# A hook that holds a backup of hr-portal while $D/hold exists: an export yunbakd is killed in.
sed -i "s|^  paths:|  hooks:\n    - name: hold\n      type: command\n      run: while [ -e $D/hold ]; do sleep 0.1; done\n      timeout: 5min\n  paths:|" \
        "$D/policies/hr-portal.yaml"
chmod -R a+rX "$D"
start_yunbakd
for s in hr-portal hotline; do
        job=$(api POST "/v1/systems/$s/backup" '{"level":"full"}' | json 'j["job"]')
        [ "$(wait_job "$job")" = succeeded ] || die "the backup of $s failed: $(cat "$D/body")"
done

# The department asks.
expect_as 0 daemon decommission request --system hr-portal --reason "迁出政务云：系统下线"
said stdout '^Decommission 1 of hr-portal: requested$'
said stdout 'next: an operator other than daemon must approve it first'
audit_has decommission.request ok daemon 'decommission 1 requested; reason: 迁出政务云'
api GET /v1/status | json 'sorted((s["id"], s.get("decommission")) for s in j["systems"])' |
        grep -qx "\[('hotline', None), ('hr-portal', {'id': 1, 'state': 'requested'})\]" ||
        die "status does not name the live decommission: $(api GET /v1/status)"

# An operator approves it.
expect_as 0 games decommission approve 1 --note "同意，按迁移方案执行"
said stdout 'Decommission 1 of hr-portal: approved'
said stdout 'decision: approved by games'
audit_has decommission.approve ok games 'approved: 同意'
[ "$(api GET /v1/systems/hr-portal | json 'j["decommission"]["state"]')" = approved ] ||
        die "the system's JSON does not say approved"

# The handover key: a new pair of the same system id, another key id.
handover_key "$SCRATCH/handover-keys"
new_kid=$(json 'j["key_id"]' <"$SCRATCH/handover-keys/hr-portal.pub")
old_kid=$(json 'j["key_id"]' <"$D/keys/hr-portal.pub")
[ "$new_kid" != "$old_kid" ] || die "the handover key has the system's key id"

# An export that fails goes back to approved, saying why.
expect_as 1 daemon decommission export 1 --store broken \
        --public-key "$SCRATCH/handover-keys/hr-portal.pub" --wait --timeout 5min
[ "$(decom 1 'j["state"]')" = approved ] || die "a failed export did not go back to approved"
decom 1 'j["last_error"]' | grep -q '^export job [0-9]* ended failed: .*Name the export again' ||
        die "the failed export's last_error: $(decom 1 'j["last_error"]')"
audit_has decommission.export failed yunbakd 'export job [0-9]+ ended failed'

# yunbakd killed while an export runs: at start it finds the job interrupted, and the
# decommission is approved again, saying so.
: >"$D/hold"
expect_as 0 daemon decommission export 1 --store handover \
        --public-key "$SCRATCH/handover-keys/hr-portal.pub"
job=$(decom 1 'j["export"]["job"]')
[ "$(decom 1 'j["state"]')" = exporting ] || die "the export is not under way"
wait_for "export job $job did not start" '[ "$(sql "SELECT state FROM jobs WHERE id = $job")" = running ]'
kill -KILL "$YUNBAKD_PID"
wait "$YUNBAKD_PID" 2>/dev/null || true
rm "$D/hold"
start_yunbakd
[ "$(decom 1 'j["state"]')" = approved ] || die "an interrupted export is not approved again: $(decom 1 'j')"
decom 1 'j["last_error"]' | grep -q "^export job $job ended failed: interrupted: yunbakd stopped while the job ran" ||
        die "the interrupted export's last_error: $(decom 1 'j["last_error"]')"
audit_has decommission.export failed yunbakd "export job $job ended failed"

# The export.
expect_as 0 daemon decommission export 1 --store handover \
        --public-key "$SCRATCH/handover-keys/hr-portal.pub" --wait --timeout 5min
said stdout '^Decommission 1 of hr-portal: exported$'
snap=$(decom 1 'j["export"]["snapshot"]')
job=$(decom 1 'j["export"]["job"]')
[ "$(decom 1 'j["export"]["key_id"]')" = "$new_kid" ] || die "the export's key id"
[ "$(decom 1 'j["last_error"]')" = None ] || die "the export left last_error: $(decom 1 'j["last_error"]')"
audit_has decommission.export ok daemon "export job $job: a full of hr-portal into store 'handover' sealed to key $new_kid"
audit_has decommission.export ok yunbakd "export job $job ended succeeded; snapshot $snap in store handover"
[ "$(sql "SELECT tier || ' ' || level || ' ' || trigger || ' ' || state FROM jobs WHERE id = $job")" = \
        "1 full decommission-export succeeded" ] || die "the export job: $(sql "SELECT * FROM jobs WHERE id = $job")"
[ "$(sql "SELECT count(*) FROM snapshots WHERE system = 'hr-portal' AND store = 'handover' AND id = '$snap'")" = 1 ] ||
        die "the catalog does not record the export in store handover"
[ "$(sql "SELECT count(*) FROM snapshots WHERE system = 'hr-portal' AND store = 'local'")" = 1 ] ||
        die "the tier-1 store's snapshots changed"
[ ! -e "$D/handover/hotline" ] || die "another system was exported"
# The export is not the tier's last backup, then or after a restart.
tier1=$(api GET /v1/systems/hr-portal | json 'j["tier1"]["last_snapshot"]')
[ "$tier1" != "$snap" ] || die "status takes the export for tier 1's last snapshot"
stop_yunbakd
start_yunbakd
[ "$(api GET /v1/systems/hr-portal | json 'j["tier1"]["last_snapshot"]')" = "$tier1" ] ||
        die "after a restart, status takes the export for tier 1's last snapshot"

# It restores with the new key, and not with the system's own.
yunbak restore --store "$D/handover" --system hr-portal --key "$SCRATCH/handover-keys/hr-portal.key" \
        --passphrase-file "$SCRATCH/pass" --snapshot "$snap" --target "$SCRATCH/restored" >/dev/null
[ "$(tree_digest "$D/trees/hr-portal/data")" = "$(tree_digest "$SCRATCH/restored/data")" ] ||
        die "the export does not restore the system's files"
expect_exit 4 yunbak restore --store "$D/handover" --system hr-portal --key "$D/keys/hr-portal.key" \
        --passphrase-file "$SCRATCH/pass" --snapshot "$snap" --target "$SCRATCH/old-key"

# The department confirms it: execution is an operator's next.
expect_as 0 sync decommission confirm-export 1 --note "已恢复并核对"
said stdout 'Decommission 1 of hr-portal: export-confirmed'
said stdout 'export confirmed: by sync at '
said stdout 'next: an operator executes it \(yunbak decommission execute 1\)'
audit_has decommission.confirm-export ok sync "export confirmed: snapshot $snap in store 'handover', key $new_kid; note: 已恢复并核对"
expect_as 0 daemon decommission show 1 --json
[ "$(json '(j["export"]["by"], j["export"]["note"], j["state"])' <"$SCRATCH/stdout")" = \
        "('sync', '已恢复并核对', 'export-confirmed')" ] || die "show --json: $(cat "$SCRATCH/stdout")"
[ "$(api GET /v1/systems/hr-portal | json 'j["decommission"]')" = "{'id': 1, 'state': 'export-confirmed'}" ] ||
        die "the system's JSON: $(api GET /v1/systems/hr-portal)"
[ "$(api GET /v1/systems/hotline | json '"decommission" in j')" = False ] ||
        die "hotline names a decommission"

# An operator executes it, following the steps: each printed as it changes. The system's key
# file is registered and still there: executed, not certified, exit 1 saying why. The export's
# store is the department's: left alone.
yunbak key register "$D/keys/hr-portal.key" --socket "$SOCK" >/dev/null
expect_as 1 root decommission execute 1 --timeout 5min
said stdout '^Decommission 1: execution started; its steps:$'
said stdout '^  stop +- +(running|done)'
said stdout '^  store +local +done'
said stdout '^  keys +- +waiting'
said stderr '^yunbak: error: Decommission 1 is executed, not certified: .*hr-portal.key'
! grep -q 'handover' "$SCRATCH/stdout" || die "execution touched the export's store: $(cat "$SCRATCH/stdout")"
# The key destroyed, verification certifies it: exit 0, naming the certificate.
yunbak key destroy "$D/keys/hr-portal.key" --socket "$SOCK" >/dev/null
expect_as 0 root decommission verify 1 --timeout 5min
[ "$(decom 1 'j["state"]')" = certified ] || die "not certified: $(decom 1 'j')"
said stdout "^Decommission 1 is certified: certificate $(decom 1 'j["certificate"]') "
expect_as 0 sys decommission show 1
said stdout "^  certificate: $(decom 1 'j["certificate"]') \(yunbak certificate show"
# The certificate names the export as handed over, and its confirmation.
api GET "/v1/certificates/$(decom 1 'j["certificate"]')" >"$SCRATCH/cert.json"
[ "$(json '(j["handed_over"]["store"], j["handed_over"]["snapshot"], j["handed_over"]["key_id"])' <"$SCRATCH/cert.json")" = \
        "('handover', '$snap', '$new_kid')" ] || die "the certificate's handed_over: $(cat "$SCRATCH/cert.json")"
[ "$(json '(j["decommission"]["export"]["state"], j["decommission"]["export"]["by"])' <"$SCRATCH/cert.json")" = \
        "('confirmed', 'sync')" ] || die "the certificate's export: $(cat "$SCRATCH/cert.json")"
[ -d "$D/handover/hr-portal" ] || die "the export's repository is gone"
[ "$(sql "SELECT count(*) FROM snapshots WHERE system = 'hr-portal' AND store = 'handover'")" = 1 ] ||
        die "the catalog lost the export"
[ ! -e "$D/store/hr-portal" ] || die "the tier-1 repository is still there"
yunbak restore --store "$D/handover" --system hr-portal --key "$SCRATCH/handover-keys/hr-portal.key" \
        --passphrase-file "$SCRATCH/pass" --snapshot "$snap" --target "$SCRATCH/after" >/dev/null
stop_yunbakd
