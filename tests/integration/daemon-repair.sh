#!/bin/sh
# yunbak repair through yunbakd: a flipped byte in a tier-1 volume is replaced by its twin from
# another store of yunbakd.yaml (a byte copy of the repository), after which `yunbak verify`
# passes; a twin that is damaged too is refused and nothing in the damaged store changes. The
# repair runs beside the API, which answers while it waits (on a twin that is a FIFO no one has
# written yet). Only operators repair; auditors read; each repair is audited with its files.
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/daemon-lib.sh"

daemon_config
mkdir -p "$D/twin"
sed -i "s|^    url: $D/store\$|    url: $D/store\n  twin:\n    url: $D/twin|" "$D/yunbakd.yaml"
grep -q '^  twin:' "$D/yunbakd.yaml" || die "the twin store was not added to yunbakd.yaml"
daemon_system hr 人社局
start_yunbakd

job=$(api POST /v1/systems/hr/backup '{"level":"full"}' | json 'j["job"]')
[ "$(wait_job "$job")" = succeeded ] || die "the backup failed: $(cat "$D/body")"
snap=$(api GET "/v1/jobs/$job" | json 'j["snapshot"]')
vol="$D/store/hr/snapshots/$snap/vol-000001"
[ -f "$vol" ] || die "no $vol"
cp -a "$D/store/." "$D/twin/"

# flip FILE OFFSET: inverts one byte of FILE in place.
flip() {
        python3 -c '
import sys
f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2])); b = f.read(1)
f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0xff])); f.close()' "$1" "$2"
}
# digest DIR: one line per file of DIR with its SHA-256, to tell whether anything changed.
digest() { (cd "$1" && find . -type f -exec sha256sum {} + | sort); }
# wait_repair ID: until the repair has ended (bounded).
wait_repair() {
        i=0
        while [ "$(api GET "/v1/repairs/$1" | json 'j["state"]')" = running ]; do
                i=$((i + 1))
                [ "$i" -lt 3000 ] || die "repair $1 did not end within 300 s"
                sleep 0.1
        done
}
audit_last() { api GET '/v1/audit?limit=1000' | json "[r for r in j['records'] if r['action'] == 'repair'][-1]['$1']"; }

# A flipped byte in the store's volume: verify finds it, repair replaces it from the twin.
size=$(stat -c %s "$vol")
flip "$vol" $((size / 2))
expect_exit 5 yunbak verify --store "$D/store" --system hr --snapshot "$snap"
expect_exit 0 yunbak repair --system hr --snapshot "$snap" --from twin --to local --socket "$SOCK"
grep -Eq '^vol-000001 +replaced by its twin' "$SCRATCH/stdout" || die "the repair's output: $(cat "$SCRATCH/stdout")"
grep -Eq '^header +left alone' "$SCRATCH/stdout" || die "a sound file not reported: $(cat "$SCRATCH/stdout")"
grep -q "is sound" "$SCRATCH/stdout" || die "no outcome: $(cat "$SCRATCH/stdout")"
expect_exit 0 yunbak verify --store "$D/store" --system hr --snapshot "$snap"
cmp "$vol" "$D/twin/hr/snapshots/$snap/vol-000001" || die "the repaired volume is not its twin"
[ "$(audit_last result)" = ok ] || die "the repair's end is not audited ok"
audit_last detail | grep -q "snapshot $snap, store 'local' from 'twin': 1 replaced.*vol-000001 replaced" ||
        die "the audit does not name the file replaced: $(audit_last detail)"

# A twin damaged too: refused, and the damaged store is left exactly as it was.
flip "$vol" 100
flip "$D/twin/hr/snapshots/$snap/vol-000001" 200
before=$(digest "$D/store")
expect_exit 5 yunbak repair --system hr --snapshot "$snap" --from twin --to local --socket "$SOCK"
grep -Eq '^vol-000001 +NOT repaired: twin damaged' "$SCRATCH/stdout" || die "bad twin not said: $(cat "$SCRATCH/stdout")"
expect_stderr "could not be repaired from store 'twin'"
[ "$(digest "$D/store")" = "$before" ] || die "a refused repair changed the store"
[ "$(audit_last result)" = failed ] || die "the refused repair is not audited as failed"
audit_last detail | grep -q 'vol-000001 bad-twin' || die "the audit does not name the bad twin: $(audit_last detail)"

# Unknown stores and the same store twice: refused before anything runs.
expect_exit 2 yunbak repair --system hr --snapshot "$snap" --from nowhere --to local --socket "$SOCK"
expect_stderr "no store 'nowhere' in .*yunbakd.yaml \(its stores: local, twin\)"
expect_exit 2 yunbak repair --system hr --snapshot "$snap" --from local --to local --socket "$SOCK"

# The API answers while a repair runs: the twin is a FIFO that the repair waits on.
cp "$D/twin/hr/snapshots/$snap/vol-000001" "$SCRATCH/vol.bad"
rm "$D/twin/hr/snapshots/$snap/vol-000001"
cp -a "$D/store/hr/snapshots/$snap/vol-000001" "$SCRATCH/vol.store"
mkfifo "$D/twin/hr/snapshots/$snap/vol-000001"
id=$(api POST /v1/repairs "{\"system\":\"hr\",\"snapshot\":\"$snap\",\"from\":\"twin\",\"to\":\"local\"}" | json 'j["id"]')
[ "$(api_status)" = 202 ] || die "POST /v1/repairs: $(api_status) $(cat "$D/body")"
i=0
while [ "$(api GET "/v1/repairs/$id" | json 'j["state"]')" = running ]; do
        api GET /v1/whoami >/dev/null
        [ "$(api_status)" = 200 ] || die "the API did not answer during the repair"
        i=$((i + 1))
        [ "$i" -lt 5 ] || break
done
[ "$(api GET "/v1/repairs/$id" | json 'j["state"]')" = running ] ||
        echo "note: the repair did not wait on the FIFO ($(cat "$D/body")); the API was not shown answering beside it" >&2
# Its writer: the twin's bytes, so that it ends (refused: this twin is the damaged one).
cat "$SCRATCH/vol.bad" >"$D/twin/hr/snapshots/$snap/vol-000001" &
writer=$!
wait_repair "$id"
kill "$writer" 2>/dev/null || true
wait "$writer" 2>/dev/null || true
cmp "$vol" "$SCRATCH/vol.store" || die "the repair beside the API changed the volume"
rm "$D/twin/hr/snapshots/$snap/vol-000001"
cp "$SCRATCH/vol.bad" "$D/twin/hr/snapshots/$snap/vol-000001"

if is_root && command -v setpriv >/dev/null; then
        chmod 755 "$SCRATCH"
        chmod -R a+rX "$D"
        chmod 0666 "$SOCK"
        stop_yunbakd
        daemon_config "  - user: daemon
    role: department
    department: 人社局
  - user: sys
    role: auditor"
        sed -i "s|^    url: $D/store\$|    url: $D/store\n  twin:\n    url: $D/twin|" "$D/yunbakd.yaml"
        sed -i 's/^socket: yunbakd.sock/socket: yunbakd.sock\nsocket_mode: "0666"/' "$D/yunbakd.yaml"
        start_yunbakd
        body="{\"system\":\"hr\",\"snapshot\":\"$snap\",\"from\":\"twin\",\"to\":\"local\"}"
        for u in daemon sys; do
                got=$(setpriv --reuid="$(id -u $u)" --regid="$(id -g $u)" --clear-groups \
                        curl -s --unix-socket "$SOCK" -X POST -o /dev/null -w '%{http_code}' \
                        -H 'Content-Type: application/json' --data "$body" http://yunbakd/v1/repairs)
                [ "$got" = 403 ] || die "$u POST /v1/repairs: expected 403, got $got"
        done
        id=$(api POST /v1/repairs "$body" | json 'j["id"]')
        got=$(setpriv --reuid="$(id -u sys)" --regid="$(id -g sys)" --clear-groups \
                curl -s --unix-socket "$SOCK" -o /dev/null -w '%{http_code}' "http://yunbakd/v1/repairs/$id")
        [ "$got" = 200 ] || die "the auditor cannot read repair $id: $got"
        got=$(setpriv --reuid="$(id -u daemon)" --regid="$(id -g daemon)" --clear-groups \
                curl -s --unix-socket "$SOCK" -o /dev/null -w '%{http_code}' "http://yunbakd/v1/repairs/$id")
        [ "$got" = 403 ] || die "a department reads repair $id: $got"
        wait_repair "$id"
fi
stop_yunbakd
echo "ok"
