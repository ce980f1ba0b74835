#!/bin/sh
# yunbakd with a system whose tier-1 store is an SFTP store (yunbakd.yaml's stores entry with
# its ssh_key and known_hosts): the agent it runs gets them as --ssh-key and --known-hosts and
# writes straight to the server; yunbakd reads the snapshot's header back over SFTP with the
# same key and records it in the catalog; restore from the store gives the tree back. The agent
# runs without a ~/.ssh of its own, so the backup works only if yunbakd passed the entry's files.
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/daemon-lib.sh"

SSH_DIR=$SCRATCH/ssh
YUNBAKD_PID=
finish() {
        set +e
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

export HOME="$SCRATCH/home" # no ~/.ssh: only the stores entry's files can log in
mkdir -p "$HOME" "$D/sftp-store"
URL="sftp://$ME@$ADDR:$PORT$D/sftp-store"
daemon_config
python3 - "$D/yunbakd.yaml" "$URL" "$SSH_DIR" <<'PY'
import sys
p, url, ssh = sys.argv[1:]
s = open(p).read()
entry = f"""stores:
  remote:
    url: {url}
    ssh_key: {ssh}/client_key
    known_hosts: {ssh}/known_hosts
"""
open(p, "w").write(s.replace("stores:\n", entry, 1))
PY
daemon_system web-app dept-a "" "" "  retention:
    keep_last: 1"
sed -i 's/^  store: local$/  store: remote/' "$D/policies/web-app.yaml"
grep -q '^  store: remote$' "$D/policies/web-app.yaml" || die "the policy does not name the SFTP store"
yunbakd --config "$D/yunbakd.yaml" --check >"$D/check.out" 2>&1 || {
        cat "$D/check.out" >&2
        die "the configuration with an SFTP store does not check"
}
start_yunbakd

for n in 1 2; do
        printf 'run %s\n' "$n" >"$D/trees/web-app/data/run.txt"
        expect_exit 0 yunbak backup now --system web-app --level full --wait --socket "$SOCK" --json
        job=$(json 'j["id"]' <"$SCRATCH/stdout")
        api GET "/v1/jobs/$job" >"$D/job.json"
        [ "$(json 'j["state"]' <"$D/job.json")" = succeeded ] || {
                cat "$D/yunbakd.log" >&2
                die "the job to the SFTP store: $(cat "$D/job.json")"
        }
done
snap=$(json 'j["snapshot"]' <"$D/job.json")
[ -f "$D/sftp-store/web-app/snapshots/$snap/header" ] || die "snapshot $snap is not on the server"
[ "$(sql "SELECT store FROM snapshots WHERE system = 'web-app' AND id = '$snap'")" = remote ] ||
        die "the catalog did not record $snap in the store 'remote'"
# keep_last: 1, applied by yunbakd over SFTP: only the second snapshot is left.
[ "$(ls "$D/sftp-store/web-app/snapshots")" = "$snap" ] ||
        die "yunbakd's retention over SFTP left: $(ls "$D/sftp-store/web-app/snapshots")"
yunbak restore --store "$URL" --ssh-key "$SSH_DIR/client_key" --known-hosts "$SSH_DIR/known_hosts" \
        --system web-app --snapshot "$snap" --key "$D/keys/web-app.key" \
        --passphrase-file "$SCRATCH/pass" --target "$D/restored" >/dev/null ||
        die "the snapshot does not restore from the SFTP store"
[ "$(tree_digest "$D/restored/data")" = "$(tree_digest "$D/trees/web-app/data")" ] ||
        die "the restored tree differs from the source"
echo "sftp-daemon: yunbakd backed up to, recorded from and pruned in an SFTP store ($MODE)"
