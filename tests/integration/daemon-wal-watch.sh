#!/bin/sh
# yunbakd watches the WAL archive of a physical PostgreSQL hook without tier 2: before the
# cluster's archive_command is set, the first base backup's chain holds no WAL and `yunbak
# status`, the API and /metrics say "none" (no timestamp metric); once archive_command runs
# `yunbak-agent wal-archive` and pg_switch_wal()'s file is archived, they say "archiving", with
# the time the file was archived and the base whose chain holds it; with the store away,
# "unknown", naming it; with archive_timeout counted short, "late". The changes to none and late
# are audited. yunbakd's check period is shortened to 200 ms and archive_timeout in step 4 to
# 0.5 s (YUNBAKD_TEST_WAL_CHECK_MS, YUNBAKD_TEST_WAL_ARCHIVE_TIMEOUT_MS: a build with fault
# injection); without them the test checks steps 1 to 3, slower, and says step 4 is skipped.
. "$TESTS/integration/lib.sh"
command -v yunbakd >/dev/null || {
        echo "daemon-wal-watch: yunbakd is not built (configure with -DYB_DAEMON=ON): skipped"
        exit 77
}
for tool in curl sqlite3 python3; do
        command -v "$tool" >/dev/null || {
                echo "daemon-wal-watch: no $tool: skipped"
                exit 77
        }
done
. "$TESTS/integration/daemon-lib.sh"
. "$TESTS/integration/pg-lib.sh"
trap 'kill -TERM "${YUNBAKD_PID:-}" 2>/dev/null || true; pg_stop_all; cleanup' EXIT
export YUNBAK_SOCKET="$SOCK"
export YUNBAKD_TEST_WAL_CHECK_MS=200
catalog() { sqlite3 "$D/catalog.db" "$1"; } # pg-lib.sh's sql is PostgreSQL's

pg_init "$SCRATCH/pg"
# archive_mode needs a restart, archive_command only a reload: it is set later.
pg_start "$PGDIR" -c archive_mode=on -c archive_timeout=0 -c wal_keep_size=1GB
sql postgres "CREATE TABLE t (v int)"

daemon_config
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -i "s/^socket: yunbakd.sock/socket: yunbakd.sock\nmetrics_listen: 127.0.0.1:$PORT/" "$D/yunbakd.yaml"
daemon_system hr-portal "市人力资源和社会保障局"
POLICY="$D/policies/hr-portal.yaml"
sed -i "s|^  paths:|  hooks:\n    - name: db\n      type: postgresql\n      mode: physical\n      host: $PGDIR\n      user: $DBUSER\n  paths:|" "$POLICY"
start_yunbakd

# hook_field FIELD: the hook's field in yunbakd's status, as Python prints it.
hook_field() {
        api GET /v1/status |
                json "[h for s in j['systems'] if s['id'] == 'hr-portal' for h in s['wal_archive']][0]['$1']"
}
# wait_field FIELD VALUE: until yunbakd's status says it (bounded: two check periods of a
# minute and a little, for a build without fault injection).
wait_field() {
        i=0
        until [ "$(hook_field "$1")" = "$2" ]; do
                i=$((i + 1))
                [ "$i" -lt 1500 ] || die "the WAL archive's $1 is not $2 after 150 s: $(cat "$D/body")"
                sleep 0.1
        done
}
metrics() { curl -sf "http://127.0.0.1:$PORT/metrics" >"$D/metrics" || die "no /metrics"; }

# 1. The first base, no archive_command: none, saying what to do.
expect_exit 0 yunbak backup now --system hr-portal --wait
B1=$(catalog "SELECT id FROM snapshots WHERE system = 'hr-portal' ORDER BY id DESC LIMIT 1")
[ -n "$B1" ] || die "the backup's snapshot is not in the catalog"
wait_field newest_base "$B1"
[ "$(hook_field state)" = none ] || die "after the first base the state is not none: $(cat "$D/body")"
[ "$(hook_field last_archived_usec)" = None ] || die "a WAL time without WAL: $(cat "$D/body")"
hook_field why | grep -q "no WAL of hook 'db' archived since its newest base $B1: is archive_command set? see yunbak policy explain" ||
        die "none does not say what to check: $(cat "$D/body")"
set +e
yunbak status >"$SCRATCH/status.txt" 2>&1
rc=$?
set -e
[ "$rc" = 3 ] || die "status with no WAL archived: exit $rc, not 3 (attention)"
grep -q "^hr-portal  *db  *none  *-" "$SCRATCH/status.txt" || die "status shows no 'none' row: $(cat "$SCRATCH/status.txt")"
grep -q "hr-portal: the WAL archive of hook 'db' is none: no WAL of hook 'db' archived since" "$SCRATCH/status.txt" ||
        die "status has no note on the WAL archive: $(cat "$SCRATCH/status.txt")"
metrics
grep -q '^yunbak_wal_archive_state{system="hr-portal",hook="db",state="none"} 1$' "$D/metrics" ||
        die "metrics lack state none: $(grep wal_archive "$D/metrics")"
grep -q '^yunbak_wal_archive_state{system="hr-portal",hook="db",state="archiving"} 0$' "$D/metrics" ||
        die "metrics lack state archiving 0"
! grep -q '^yunbak_wal_archive_last_timestamp_seconds{' "$D/metrics" ||
        die "a timestamp metric without WAL archived"
[ "$(catalog "SELECT count(*) FROM audit WHERE action = 'wal-archive.state' AND object = 'hr-portal' AND result = 'none'")" = 1 ] ||
        die "the change to none is not audited once: $(catalog "SELECT * FROM audit WHERE action = 'wal-archive.state'")"

# 2. archive_command set (a reload), a WAL file switched out and archived: archiving.
STATE="$SCRATCH/agent-state"
mkdir -p "$STATE"
if is_root; then # the server's user writes the store and its own state; reads the public key
        chown -R nobody:nogroup "$D/store" "$STATE"
        chmod 755 "$D/keys"
        chmod 644 "$D/keys/hr-portal.pub"
fi
cmd="$BIN/yunbak-agent wal-archive --store $D/store --system hr-portal --public-key $D/keys/hr-portal.pub --postgresql db --state-dir $STATE %p %f"
sql postgres "ALTER SYSTEM SET archive_command = $(shquote "$cmd")"
sql postgres "SELECT pg_reload_conf()" >/dev/null
t0=$(date +%s%6N)
sql postgres "INSERT INTO t VALUES (1)"
W=$(sql postgres "SELECT pg_walfile_name(pg_switch_wal())")
i=0
until [ "$(sql postgres "SELECT last_archived_wal >= '$W' FROM pg_stat_archiver")" = t ]; do
        i=$((i + 1))
        [ "$i" -lt 1200 ] || { tail -n 20 "$PGDIR/server.log" >&2; die "$W was not archived"; }
        sleep 0.05
done
# W is the chain's newest segment: its commit time is the time yunbakd must come to say.
at=$(yunbak snapshots --store "$D/store" --system hr-portal --segments "$B1" --json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["finished_ns"] // 1000)')
[ "$at" -ge "$t0" ] || die "the chain's newest segment ($at) is older than the switch ($t0)"
wait_field last_archived_usec "$at"
[ "$(hook_field state)" = archiving ] || die "the state is not archiving: $(cat "$D/body")"
[ "$(hook_field base)" = "$B1" ] || die "the WAL is not said to be in the chain of $B1: $(cat "$D/body")"
[ "$(hook_field newest_base_has_wal)" = True ] || die "newest_base_has_wal is not true"
yunbak status >"$SCRATCH/status.txt" 2>&1 || die "status exits $? with the WAL archiving"
grep -q "^hr-portal  *db  *archiving  *[0-9].* ago)  *$B1" "$SCRATCH/status.txt" ||
        die "status shows no 'archiving' row: $(cat "$SCRATCH/status.txt")"
metrics
grep -q '^yunbak_wal_archive_state{system="hr-portal",hook="db",state="archiving"} 1$' "$D/metrics" ||
        die "metrics lack state archiving: $(grep wal_archive "$D/metrics")"
grep -q '^yunbak_wal_archive_state{system="hr-portal",hook="db",state="none"} 0$' "$D/metrics" ||
        die "metrics still say none"
ts=$(sed -n 's/^yunbak_wal_archive_last_timestamp_seconds{system="hr-portal",hook="db"} //p' "$D/metrics")
python3 -c "import sys; sys.exit(abs(float('$ts') * 1e6 - $at) > 1000)" ||
        die "the timestamp metric ($ts) is not the status's time ($at)"
[ "$(catalog "SELECT count(*) FROM audit WHERE action = 'wal-archive.state' AND object = 'hr-portal' AND result = 'archiving'")" = 1 ] ||
        die "the change back to archiving is not audited"

# 3. The store away (unmounted, say): unknown, saying why; back: archiving again.
mv "$D/store" "$D/store.away"
wait_field state unknown
hook_field why | grep -q "store 'local'" || die "unknown does not name the store: $(cat "$D/body")"
metrics
grep -q '^yunbak_wal_archive_state{system="hr-portal",hook="db",state="unknown"} 1$' "$D/metrics" ||
        die "metrics lack state unknown: $(grep wal_archive "$D/metrics")"
mv "$D/store.away" "$D/store"
wait_field state archiving

# 4. With archive_timeout counted as 0.5 s (bound: 1.2 s), the same WAL file is soon late: a
# yunbakd started afresh sees it so, says why and audits it.
stop_yunbakd
if ! grep -q "^YB_FAULT_INJECTION:BOOL=ON" "$BIN/CMakeCache.txt" 2>/dev/null; then
        echo "daemon-wal-watch: ok (step 4, late, skipped: built without YB_FAULT_INJECTION)"
        exit 0
fi
export YUNBAKD_TEST_WAL_ARCHIVE_TIMEOUT_MS=500
start_yunbakd
wait_field state late
hook_field why | grep -q "the newest WAL file of hook 'db' was archived [0-9]* s ago, more than 1 s" ||
        die "late does not say why: $(cat "$D/body")"
[ "$(hook_field last_archived_usec)" = "$at" ] || die "the newest WAL's time changed: $(cat "$D/body")"
metrics
grep -q '^yunbak_wal_archive_state{system="hr-portal",hook="db",state="late"} 1$' "$D/metrics" ||
        die "metrics lack state late: $(grep wal_archive "$D/metrics")"
[ "$(catalog "SELECT count(*) FROM audit WHERE action = 'wal-archive.state' AND object = 'hr-portal' AND result = 'late'")" = 1 ] ||
        die "the change to late is not audited once"
grep -q "System 'hr-portal': the WAL archive of hook 'db' is late" "$D/yunbakd.log" || die "late is not logged"
stop_yunbakd
echo "daemon-wal-watch: ok"
