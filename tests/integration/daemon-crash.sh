#!/bin/sh
# SIGKILL yunbakd while its jobs run, 20 times: each time the catalog passes PRAGMA
# integrity_check, no job is left "running" after the restart, every snapshot the catalog
# records is in the store and verifies, and `catalog rebuild` makes the catalog agree with the
# stores exactly. The audit chain stays intact.
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/daemon-lib.sh"

MAX_JOBS=3 daemon_config
for s in alpha beta gamma; do
        daemon_system "$s" 人社局
        # Enough data that a backup takes a moment, so that the kills land inside jobs.
        head -c 3000000 /dev/urandom >"$D/trees/$s/data/blob.bin"
done

store_snapshots() {
        for s in alpha beta gamma; do
                yunbak snapshots --store "$D/store" --system "$s" --json 2>/dev/null |
                        json '"\n".join(x["id"] for x in j)' | sed "s/^/$s /"
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
for s in alpha beta gamma; do
        yunbak verify --store "$D/store" --system "$s" >/dev/null || die "verify $s"
done
[ "$(api GET /v1/audit/verify | json 'j["ok"]')" = True ] || die "audit chain broken by kills"
stop_yunbakd
echo ok
