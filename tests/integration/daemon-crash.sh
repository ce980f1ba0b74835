#!/bin/sh
# SIGKILL yunbakd while its jobs run, 20 times: each time the catalog passes PRAGMA
# integrity_check, no job is left "running" after the restart, every snapshot the catalog
# records is in the store and verifies, and `catalog rebuild` makes the catalog agree with the
# stores exactly. The audit chain stays intact. Then one agent is left running as an orphan
# (not killed with yunbakd): it commits its snapshot alone, and the rebuild adds it.
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/daemon-lib.sh"

MAX_JOBS=3 daemon_config
for s in alpha beta gamma; do
        daemon_system "$s" 人社局
        # Enough data that a backup takes a moment, so that the kills land inside jobs.
        head -c 3000000 /dev/urandom >"$D/trees/$s/data/blob.bin"
done

store_snapshots() {
        for s in alpha beta gamma omega; do
                # (omega has no repository until the end: no snapshots)
                { yunbak snapshots --store "$D/store" --system "$s" --json 2>/dev/null ||
                        echo '[]'; } | json '"\n".join(x["id"] for x in j)' | sed "s/^/$s /"
        done | grep -v ' $' | sort
}
catalog_snapshots() {
        sql "SELECT system || ' ' || id FROM snapshots ORDER BY 1" | sort
}

# kill_agents: SIGKILL to every agent the killed daemon left, and to a child it had forked but
# not yet turned into an agent (that one still shows yunbakd's command line, and would exec
# and write into the store later, even while the test's scratch is removed); then waits until
# they are gone. The brackets keep the pattern from matching pidwait's own command line.
kill_agents() {
        pat="$D/[y]unbakd\.yaml|--store=$D/[s]tore"
        n=0
        while pgrep -f "$pat" >/dev/null; do
                pkill -KILL -f "$pat" 2>/dev/null || true
                timeout 60 pidwait -f "$pat" 2>/dev/null || true
                n=$((n + 1))
                [ "$n" -lt 10 ] || die "processes of the killed yunbakd outlive SIGKILL: $(pgrep -af "$pat")"
        done
}

kills=0
round=0
while [ "$round" -lt 20 ]; do
        round=$((round + 1))
        start_yunbakd
        # Nothing is left running or queued by the previous, killed daemon.
        [ "$(sql "SELECT count(*) FROM jobs WHERE state IN ('running', 'queued')")" -eq 0 ] ||
                die "round $round: jobs of the killed daemon are still running or queued"
        for s in alpha beta gamma; do
                api POST "/v1/systems/$s/backup" '{"level":"incremental"}' >/dev/null
        done
        # Kill at a different point each round: after 0, 1, 2 ... job events of this round.
        want=$((round % 4))
        i=0
        while [ "$(sql "SELECT count(*) FROM jobs WHERE state NOT IN ('queued')" )" -lt "$want" ] &&
                [ "$i" -lt 3000 ]; do
                i=$((i + 1))
                sleep 0.01
        done
        kill -KILL "$YUNBAKD_PID"
        wait "$YUNBAKD_PID" 2>/dev/null || true
        kills=$((kills + 1))
        [ "$(sql "PRAGMA integrity_check")" = ok ] || die "round $round: integrity_check"
        # Whatever the catalog records exists in the store (it records only after the commit).
        catalog_snapshots >"$D/cat"
        store_snapshots >"$D/sto"
        comm -23 "$D/cat" "$D/sto" | grep . && die "round $round: the catalog has snapshots the store lacks"
        # Make room for the next round's jobs: the stale lock of a killed agent is broken by
        # the next backup (the agent's pid is dead).
        kill_agents
done
[ "$kills" -eq 20 ] || die "only $kills kills"

# An agent left running by a killed yunbakd, and not killed (run by hand, not under systemd):
# it goes on alone and commits its snapshot, which the store has and the catalog lacks until
# `catalog rebuild` (below) adds it (docs/operations.md, "If yunbakd itself is killed"). The
# system omega's host runs the agent through a wrapper that holds it until yunbakd is dead.
cat >"$D/held-agent" <<SH
#!/bin/sh
: >"$D/held-started"
i=0
until [ -e "$D/held-go" ]; do
        i=\$((i + 1))
        [ "\$i" -lt 2400 ] || exit 1
        sleep 0.05
done
exec "$BIN/yunbak-agent" "\$@"
SH
chmod +x "$D/held-agent"
EXTRA_HOSTS="  held:
    local: true
    agent: $D/held-agent
    state_dir: $D/agent-state" MAX_JOBS=3 daemon_config
HOST=held daemon_system omega 人社局
start_yunbakd
catalog_snapshots >"$D/cat"
store_snapshots >"$D/sto"
diff -u "$D/sto" "$D/cat" >/dev/null || {
        api POST /v1/catalog/rebuild >/dev/null
        [ "$(api_status)" = 200 ] || die "rebuild failed: $(cat "$D/body")"
}
api POST "/v1/systems/omega/backup" '{"level":"full"}' >/dev/null
[ "$(api_status)" = 202 ] || die "omega's backup was not accepted: $(api_status) $(cat "$D/body")"
wait_for "omega's agent did not start" '[ -e "$D/held-started" ]'
kill -KILL "$YUNBAKD_PID"
wait "$YUNBAKD_PID" 2>/dev/null || true
: >"$D/held-go"
orphan="--store=$D/[s]tore --system=omega "
# (pidwait exits 1 when the agent has ended already; timeout exits 124)
rc=0
timeout 120 pidwait -f -- "$orphan" || rc=$?
[ "$rc" -ne 124 ] || die "omega's orphaned agent did not end within 120 s"
catalog_snapshots >"$D/cat"
store_snapshots >"$D/sto"
[ "$(comm -13 "$D/cat" "$D/sto" | grep -c '^omega ')" -eq 1 ] ||
        die "omega's orphaned agent committed no snapshot: $(comm -3 "$D/cat" "$D/sto")"

start_yunbakd
[ "$(sql "SELECT count(*) FROM jobs WHERE state IN ('running', 'queued')")" -eq 0 ] ||
        die "jobs left running or queued after restart"
sql "SELECT count(*) FROM jobs WHERE error LIKE 'interrupted%'" | grep -qvx 0 ||
        die "no job was marked interrupted: the kills never landed inside a job"
api POST /v1/catalog/rebuild >/dev/null
[ "$(api_status)" = 200 ] || die "rebuild failed: $(cat "$D/body")"
catalog_snapshots >"$D/cat"
store_snapshots >"$D/sto"
diff -u "$D/sto" "$D/cat" || die "after rebuild the catalog and the stores disagree"
for s in alpha beta gamma omega; do
        yunbak verify --store "$D/store" --system "$s" >/dev/null || die "verify $s"
done
[ "$(api GET /v1/audit/verify | json 'j["ok"]')" = True ] || die "audit chain broken by kills"
stop_yunbakd
echo ok
