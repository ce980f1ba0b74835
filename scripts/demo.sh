#!/bin/sh
# The main job on the bundled demo: installs what is needed, builds, makes the demo system's key,
# backs up demo/tree full, changes it, backs up incrementally, lists, verifies (without and with
# the key) and restores; then runs yunbakd on it: a backup, tier 2, a restore drill with its signed
# page, this month's report; then says where everything is. Runs anywhere; writes only under
# demo-out/.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
sh scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DYB_WERROR=OFF -DYB_SANITIZE= \
        -DYB_FAULT_INJECTION=OFF -DYB_FUZZ=OFF >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
PATH="$ROOT/build:$PATH"
echo "The programs are built in build/ (yunbak, yunbak-agent, yunbakd); this demo runs them from there."
OUT="$ROOT/demo-out"
rm -rf "$OUT"
mkdir -p "$OUT/keys" "$OUT/store" "$OUT/agent-state"
cp -a demo/tree "$OUT/hr-data"
# The department's passphrase for the demo. In real use it is typed, or kept in a file only the
# department can read.
printf 'demo passphrase - change me\n' >"$OUT/passphrase"
chmod 600 "$OUT/passphrase"
export YUNBAK_PASSPHRASE_FILE="$OUT/passphrase"
export YUNBAK_AGENT_STATE_DIR="$OUT/agent-state"

step() { printf '\n== %s\n$ %s\n' "$1" "$(echo "$2" | sed "s|$ROOT/||g")"; sh -c "$2"; }

step "The department checks its system's backup policy, and when it will run" \
        "yunbak policy check policies/examples/*.yaml && yunbak policy explain policies/examples/hr-portal.yaml --next 2"
step "The department makes the system's key pair" \
        "yunbak key init --system hr-portal --out '$OUT/keys' --kdf interactive"
step "The agent makes a full backup (it holds only the public key)" \
        "yunbak-agent backup --store '$OUT/store' --system hr-portal --public-key '$OUT/keys/hr-portal.pub' --level full '$OUT/hr-data'"

# A day of change: a database page rewritten, a log grown, a file added, one removed, one renamed.
printf 'UPDATE employees SET grade = 7 WHERE id = 1042;\n' |
        dd of="$OUT/hr-data/db/hr.db" bs=4096 seek=37 conv=notrunc 2>/dev/null
printf '2026-11-21T09:00:00+08:00 portal: login ok user=li.wei\n' >>"$OUT/hr-data/logs/portal.log"
printf 'new policy\n' >"$OUT/hr-data/docs/policy-2026.txt"
rm "$OUT/hr-data/docs/old-notice.txt"
mv "$OUT/hr-data/docs/handbook.txt" "$OUT/hr-data/docs/handbook-v2.txt"

step "The next day's incremental stores only what changed (a delta for the database)" \
        "yunbak-agent backup --store '$OUT/store' --system hr-portal --public-key '$OUT/keys/hr-portal.pub' --level incremental '$OUT/hr-data'"
step "Anyone can list the snapshots" \
        "yunbak snapshots --store '$OUT/store' --system hr-portal"
step "The operations unit verifies them without any key" \
        "yunbak verify --store '$OUT/store' --system hr-portal"
step "The department verifies every file's content with its key" \
        "yunbak verify --store '$OUT/store' --system hr-portal --deep --key '$OUT/keys/hr-portal.key'"
step "The department restores the newest snapshot" \
        "yunbak restore --store '$OUT/store' --system hr-portal --key '$OUT/keys/hr-portal.key' --target '$OUT/restored'"
diff -r "$OUT/hr-data" "$OUT/restored/hr-data" >/dev/null
echo "The restored tree is identical to the source."

# yunbakd: the operations unit runs the daemon on the demo configuration; it runs the example
# policy of hr-portal on the demo tree and answers over its control socket.
Y="$OUT/yunbakd"
mkdir -p "$Y/policies" "$Y/keys"
cp "$OUT/keys/hr-portal.pub" "$Y/keys/"
sed -e "s|^    - /srv/hr-portal$|    - $OUT/hr-data|" -e '/^    - \/etc\/nginx$/d' \
        -e '/^    - \/srv\/hr-portal\/cache$/d' -e '/^drill:$/,$d' \
        policies/examples/hr-portal.yaml >"$Y/policies/hr-portal.yaml"
# The drill's check proves the restored portal could serve: its start script parses, its
# configuration names the database, and the database holds every employee record (14,727 in the
# demo tree). It runs in the drill's sandbox, where the restore put hr-data/ (docs/drills.md).
cat >>"$Y/policies/hr-portal.yaml" <<'YAML'
drill:
  every: 1y
  check: >-
    sh -n hr-data/app/bin/portal.sh &&
    grep -q '^database: /srv/hr-portal/db/hr.db$' hr-data/app/config.yaml &&
    n=$(grep -ac '^[0-9]\{7\}|' hr-data/db/hr.db) &&
    echo "hr-data/db/hr.db holds $n employee records (at least 14700 wanted)" &&
    test "$n" -ge 14700
YAML
# Tier 2 for the demo: continuous replication to a second store (docs/replication.md).
mkdir -p "$OUT/intra" # the operations unit makes the intra-city store's directory
cat >>"$Y/policies/hr-portal.yaml" <<YAML
tier2:
  store: nas-intra
  interval: 2s
  max_lag: 1min
  checkpoint: "*-*-* 03:00 Asia/Shanghai"
YAML
cat >"$Y/yunbakd.yaml" <<YAML
# The demo's yunbakd.yaml (docs/operations.md, "Configuration"). Relative paths are taken from
# this file's directory.
catalog: catalog.db
socket: yunbakd.sock
policies: policies
keys: keys
state: state
max_jobs: 2
stores:
  nas-main:
    url: $OUT/store
  nas-intra:
    url: $OUT/intra
hosts:
  web-03:
    local: true
    state_dir: $OUT/agent-state
people:
  - user: $(id -un)
    role: operator
YAML
export YUNBAK_SOCKET="$Y/yunbakd.sock"
step "The operations unit checks yunbakd's configuration and policies" \
        "yunbakd --config '$Y/yunbakd.yaml' --check"
step "... and starts yunbakd (it detaches once ready; under systemd it runs as the unit cmake --install makes from dist/yunbakd.service.in)" \
        "yunbakd --config '$Y/yunbakd.yaml'"
step "The department asks yunbakd for a backup now and waits for it" \
        "yunbak backup now --system hr-portal --wait"
# Tier 2: yunbakd has started hr-portal's replicator; wait (at most a minute) until it reports.
tier2_running() {
        yunbak status --json | python3 -c 'import json, sys
t = [s["tier2"] for s in json.load(sys.stdin)["systems"] if s["id"] == "hr-portal"][0]
sys.exit(0 if t and t["state"] == "running" and t["lag_known"] else 1)'
}
i=0
until tier2_running; do
        i=$((i + 1))
        [ $i -lt 300 ] || { echo "demo: hr-portal's tier-2 replicator did not report within a minute; yunbak status:" >&2; yunbak status >&2 || true; exit 1; }
        sleep 0.2
done
echo "A new payslip file appears on the host at $(date -u +%H:%M:%S)." >"$OUT/hr-data/payslip-new.txt"
# Wait (at most a minute) for the segment that holds it.
i=0
until yunbak restore --store "$OUT/intra" --system hr-portal --key "$OUT/keys/hr-portal.key" \
        --target "$OUT/intra-probe" hr-data/payslip-new.txt >/dev/null 2>&1; do
        rm -rf "$OUT/intra-probe"
        i=$((i + 1))
        [ $i -lt 300 ] || { echo "demo: the new file did not reach the intra-city store within a minute" >&2; exit 1; }
        sleep 0.2
done
rm -rf "$OUT/intra-probe"
step "Tier 2: the file written a moment ago is already at the intra-city store; the department restores it from the newest segment" \
        "yunbak restore --store '$OUT/intra' --system hr-portal --key '$OUT/keys/hr-portal.key' --target '$OUT/restored-intra' hr-data/payslip-new.txt && cmp '$OUT/hr-data/payslip-new.txt' '$OUT/restored-intra/hr-data/payslip-new.txt' && echo 'The same bytes.'"
step "The intra-city store holds the chain: a root and its segments" \
        "yunbak snapshots --store '$OUT/intra' --system hr-portal"
step "Everyone sees the state of the systems they may see (tier 2 with its lag)" "yunbak status || true"
step "The jobs yunbakd ran" "yunbak jobs"
step "The catalog learns the snapshots made before yunbakd ran, from the store alone" \
        "yunbak catalog rebuild && yunbak snapshots --system hr-portal"
# A restore drill (docs/drills.md): yunbakd gives it an id and its start, the run restores the
# newest tier-1 snapshot into a sandbox under a stopwatch, verifies every file, runs the policy's
# check there, and yunbakd signs the record.
step "The department runs a restore drill of hr-portal from tier 1: restore, verify, the policy's check, under a stopwatch" \
        "yunbak drill --system hr-portal --tier 1 --scenario 'yearly drill (demo)' --sandbox '$OUT/drill-sandbox' --key '$OUT/keys/hr-portal.key' --passphrase-file '$OUT/passphrase'"
drill=$(yunbak drill list --system hr-portal --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["drills"][0]["id"])')
step "The department gets the drill's signed record as a page" \
        "yunbak drill show $drill --html '$OUT/drill-$drill.html'"
step "Anyone checks the page offline with yunbakd's public key" \
        "yunbak drill verify '$OUT/drill-$drill.html' --public-key '$Y/state/yunbakd.pub'"
month=$(date +%Y-%m)
step "The auditor reads this month's report (jobs, RPO met, tier-2 lag, storage, drills)" \
        "yunbak report --month $month --html '$OUT/report-$month.html'"
echo "(The demo is seconds old: yunbakd measures the stores at its start, before it knew any snapshot,"
echo "and daily after midnight UTC, so tier 1 shows 0 B; tier 2's lag counts per hour, once the hour"
echo "has ended; the RPO met is of the seconds yunbakd has watched. docs/reports.md says each number.)"
step "The auditor checks the audit trail" "yunbak audit verify"
step "The operations unit stops yunbakd (SIGTERM: it cancels what runs and seals the audit log)" \
        "pid=\$(yunbak status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"daemon\"][\"pid\"])') &&
        kill -TERM \$pid && while kill -0 \$pid 2>/dev/null; do sleep 0.1; done &&
        echo \"yunbakd (pid \$pid) has stopped.\""

cat <<MSG

Everything is under demo-out/:
  keys/hr-portal.pub, keys/hr-portal.key   the system's key pair (passphrase in demo-out/passphrase)
  store/hr-portal/                         the repository: config, snapshots/<id>/{header,manifest,vol-*,sigindex}
  agent-state/                             the agent's own key and signature cache
  hr-data/                                 the demo system's data (changed after the full backup)
  restored/hr-data/                        the restore of the newest snapshot
  intra/hr-portal/                         the intra-city store: chain roots and segments/ (tier 2)
  yunbakd/                                 yunbakd's configuration, policy, catalog and audit key
                                           (state/yunbakd.pub: the public key that checks its signatures)
  $(printf '%-41s' "drill-$drill.html")the restore drill's record as a page, signed by yunbakd
  $(printf '%-41s' "report-$month.html")this month's report as a page (storage, jobs, RPO, tier 2, drills)
docs/format.md says how to recover a file by hand with only the key, zstd, tar and rdiff.

The programs are in build/: build/yunbak, build/yunbak-agent, build/yunbakd. To run them
yourself:  export PATH="$ROOT/build:\$PATH"
yunbakd was stopped at the end of the demo; start it again with
  build/yunbakd --config demo-out/yunbakd/yunbakd.yaml

Open in a browser: demo-out/drill-$drill.html (the drill's signed record) and
demo-out/report-$month.html (this month's report).
MSG
