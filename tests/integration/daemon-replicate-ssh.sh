#!/bin/sh
# yunbakd runs a system's replicator (tier 2) on a host it reaches by SSH, as tier-1 jobs run: a
# real OpenSSH sshd, in its own network namespace over veth as root (on 127.0.0.1 otherwise; see
# ssh-lib.sh). The replicator runs there (its environment has sshd's SSH_CONNECTION), its JSON
# lines come back over the channel: status says it runs with a known lag within seconds of a
# change, and its stderr is in yunbakd's log under the system's name. SIGKILL of it on the host
# ends the channel, and yunbakd starts it again over a new connection. yunbakd's stop reaches it
# through the channel (stop, then EOF): it ends, and nothing of it is left on the host.
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/daemon-lib.sh"
. "$TESTS/integration/daemon-replicate-lib.sh"

SSH_DIR=$SCRATCH/ssh
finish() {
        set +e
        stop_left_yunbakd
        ssh_finish
        cleanup
}
trap finish EXIT
trap 'exit 1' HUP INT TERM
. "$TESTS/integration/ssh-lib.sh"

T2="$D/intracity"
mkdir -p "$T2"
EXTRA_HOSTS="  web:
    ssh: $ME@$ADDR:$PORT
    ssh_key: $SSH_DIR/client_key
    known_hosts: $SSH_DIR/known_hosts
    agent: $BIN/yunbak-agent
    state_dir: $D/web-state"
daemon_config
sed -i "s|^    url: $D/store\$|&\n  intracity:\n    url: $T2|" "$D/yunbakd.yaml"
HOST=web daemon_system web-app dept-a "" "" "tier2:
  store: intracity
  max_lag: 30s
  interval: 1s
  checkpoint: \"*-*-* 00:00:00 UTC\""
DATA="$D/trees/web-app/data"


start_yunbakd
until_t2 't["state"] == "running" and t["lag_known"]' "the replicator does not run over SSH" 90
pid=$(t2 't["pid"]')
# It runs on the host, under sshd.
tr '\0' '\n' <"/proc/$pid/environ" | grep -q "^SSH_CONNECTION=.* $ADDR $PORT\$" ||
        die "the replicator (pid $pid) did not start through the sshd at $ADDR:$PORT"
grep -q "System 'web-app' replicator: " "$D/yunbakd.log" ||
        die "the replicator's stderr is not in yunbakd's log under the system's name"

seg0=$(t2 't["segments"]')
echo "over ssh" >"$DATA/change.txt"
until_t2 "t['segments'] > $seg0 and t['lag_known'] and t['lag_seconds'] < 5" \
        "the change did not reach the store with a known lag" 20
[ -n "$(find "$T2/web-app/segments" -path '*/header' | head -1)" ] || die "no segment in the store"

# SIGKILL on the host: the channel ends, and yunbakd starts it again over a new connection.
kill -KILL "$pid"
until_t2 "t['restarts'] == 1 and t['last_exit']['signal'] == 9" \
        "status does not say the replicator on the host was killed" 20
until_t2 "t['state'] == 'running' and t['pid'] != $pid and t['lag_known']" \
        "the replicator was not started again over SSH" 90
pid=$(t2 't["pid"]')

# yunbakd's stop: the replicator gets the stop command and EOF over the channel, and ends.
stop_yunbakd
YUNBAKD_PID=
i=0
while kill -0 "$pid" 2>/dev/null; do
        i=$((i + 1))
        [ "$i" -lt 300 ] || die "the replicator (pid $pid) still runs on the host after yunbakd stopped"
        sleep 0.1
done
grep -q "System 'web-app': the replicator stopped (stop command, status 0)" "$D/yunbakd.log" ||
        die "the replicator did not stop on yunbakd's command"
[ "$(sql "SELECT count(*) FROM replication_lag WHERE system = 'web-app' AND samples > 0")" -ge 1 ] ||
        die "no hourly lag row in the catalog"
exit 0
