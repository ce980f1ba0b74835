#!/bin/sh
# The yunbak commands that ask yunbakd (docs/cli.md, "Commands that ask yunbakd"), against a
# real yunbakd: status before and after backups (exit 3 while a system has none), backup now
# --wait and its outcome, jobs and their filters, the catalog's snapshots matching the store's,
# the audit log over the API and offline with the daemon's key (an edit made in the SQLite file
# behind yunbakd's back is found both ways), catalog rebuild, and the exit codes of a daemon
# that is not there (6), a refused action (403 → 4), a conflict (409 → 8), an unknown system
# (404 → 1) and a bad option (2).
. "$TESTS/integration/lib.sh"
command -v yunbakd >/dev/null || {
        echo "cli-daemon: yunbakd is not built (configure with -DYB_DAEMON=ON): skipped"
        exit 77
}
for tool in curl sqlite3 python3; do
        command -v "$tool" >/dev/null || {
                echo "cli-daemon: no $tool: skipped"
                exit 77
        }
done
. "$TESTS/integration/daemon-lib.sh"
trap 'kill -TERM "${YUNBAKD_PID:-}" 2>/dev/null || true; cleanup' EXIT
export YUNBAK_SOCKET="$SOCK"

# No daemon yet: the socket is named, and what to do.
expect_exit 6 yunbak status
expect_stderr "Cannot reach yunbakd at $SOCK: No such file or directory — is yunbakd running\\?"
expect_exit 6 yunbak jobs --socket "$SCRATCH/elsewhere.sock"
expect_stderr "at $SCRATCH/elsewhere.sock"

daemon_config
daemon_system hr-portal "市人力资源和社会保障局"
daemon_system tax-db "市税务局"
start_yunbakd

# Nothing backed up yet: both systems need attention.
expect_exit 3 yunbak status
grep -q "^yunbakd .*: 2 policies in force" "$SCRATCH/stdout" || die "no daemon line"
[ "$(grep -c 'NO BACKUP YET' "$SCRATCH/stdout")" -eq 2 ] || {
        cat "$SCRATCH/stdout" >&2
        die "status does not flag both systems"
}
expect_exit 3 yunbak status --json
[ "$(json 'len(j["systems"])' <"$SCRATCH/stdout")" -eq 2 ] || die "status --json"

# Usage errors never reach the daemon.
expect_exit 2 yunbak backup now --system hr-portal --level weekly
expect_exit 2 yunbak backup now --system Bad_Id
expect_exit 2 yunbak jobs --state bogus
expect_exit 2 yunbak jobs --limit 0

# backup now --wait: the job's outcome is the exit status; no progress line off a terminal.
expect_exit 0 yunbak backup now --system hr-portal --level full --wait
grep -Eq '^Queued job [0-9]+: full backup of hr-portal\.' "$SCRATCH/stdout" || die "no job id"
grep -Eq '^Job [0-9]+ succeeded after .*: full snapshot [0-9T]+Z-' "$SCRATCH/stdout" || {
        cat "$SCRATCH/stdout" >&2
        die "no outcome"
}
if tr -d '\n' <"$SCRATCH/stderr" | grep -q "$(printf '\r')"; then
        die "a progress line was written off a terminal"
fi
JOB1=$(sed -n 's/^Queued job \([0-9]*\):.*/\1/p' "$SCRATCH/stdout")
SNAP1=$(sed -n 's/.*: full snapshot \([^ ]*\) .*/\1/p' "$SCRATCH/stdout")

# --json --wait prints the ended job as yunbakd reports it.
expect_exit 0 yunbak backup now --system tax-db --wait --json
[ "$(json 'j["state"] + " " + j["system"]' <"$SCRATCH/stdout")" = "succeeded tax-db" ] ||
        die "backup now --wait --json"
JOB2=$(json 'j["id"]' <"$SCRATCH/stdout")

# Both systems have a fresh backup now.
expect_exit 0 yunbak status
grep -Eq "^hr-portal +general +succeeded [0-9]+ (s|min|h) ago +$SNAP1 .* ok \\(24 h\\)" \
        "$SCRATCH/stdout" || {
        cat "$SCRATCH/stdout" >&2
        die "status after the backups"
}

# Jobs: newest first, filters, and the table.
expect_exit 0 yunbak jobs
[ "$(awk 'NR == 2 { print $1 }' "$SCRATCH/stdout")" = "$JOB2" ] || die "jobs: newest first"
grep -Eq "^$JOB1 +hr-portal +1 +full +succeeded +api:" "$SCRATCH/stdout" || {
        cat "$SCRATCH/stdout" >&2
        die "jobs table"
}
expect_exit 0 yunbak jobs --system hr-portal --json
[ "$(json '",".join(sorted(set(x["system"] for x in j["jobs"])))' <"$SCRATCH/stdout")" = \
        hr-portal ] || die "jobs --system"
expect_exit 0 yunbak jobs --state failed
grep -q '^No jobs match\.' "$SCRATCH/stdout" || die "jobs --state failed"
expect_exit 0 yunbak jobs --limit 1 --json
[ "$(json 'len(j["jobs"])' <"$SCRATCH/stdout")" -eq 1 ] || die "jobs --limit"

# A job that has ended cannot be cancelled: 409.
expect_exit 8 yunbak jobs cancel "$JOB1"
expect_stderr "conflict: job $JOB1 has already ended"

# The catalog's snapshots are the store's.
expect_exit 0 yunbak snapshots --system hr-portal
grep -Eq "^local +$SNAP1 +full +- " "$SCRATCH/stdout" || {
        cat "$SCRATCH/stdout" >&2
        die "snapshots from the catalog"
}
awk 'NR > 1 { print $2, $3, $4, $5, $6, $7 }' "$SCRATCH/stdout" >"$SCRATCH/from-catalog"
expect_exit 0 yunbak snapshots --store "$D/store" --system hr-portal
awk 'NR > 1 { print $1, $2, $3, $4, $5, $6 }' "$SCRATCH/stdout" >"$SCRATCH/from-store"
cmp -s "$SCRATCH/from-catalog" "$SCRATCH/from-store" || {
        diff "$SCRATCH/from-catalog" "$SCRATCH/from-store" >&2
        die "the catalog's snapshots differ from the store's"
}
expect_exit 1 yunbak snapshots --system no-such-system
expect_stderr "not found: no system 'no-such-system'"

# Catalog rebuild finds the same two snapshots.
expect_exit 0 yunbak catalog rebuild
grep -q '^Catalog rebuilt from the stores: 2 systems, 2 snapshots (0 added, 0 removed)\.' \
        "$SCRATCH/stdout" || {
        cat "$SCRATCH/stdout" >&2
        die "catalog rebuild"
}

# Its only source gone: the job fails (exit 1), naming it, and commits nothing.
mv "$D/trees/tax-db/data" "$D/trees/tax-db/moved"
expect_exit 1 yunbak backup now --system tax-db --wait
grep -Eq "^Job [0-9]+ failed after .*none of its sources can be read \('.*trees/tax-db/data'\)" "$SCRATCH/stdout" || {
        cat "$SCRATCH/stdout" >&2
        die "the failed backup is not reported"
}
mv "$D/trees/tax-db/moved" "$D/trees/tax-db/data"
# A store that is gone: the job fails (exit 1), and status names it (exit 3).
mv "$D/store" "$D/store.moved"
expect_exit 1 yunbak backup now --system tax-db --wait
grep -Eq '^Job [0-9]+ failed after .*: .+' "$SCRATCH/stdout" || {
        cat "$SCRATCH/stdout" >&2
        die "the failure is not reported"
}
JOB3=$(sed -n 's/^Queued job \([0-9]*\):.*/\1/p' "$SCRATCH/stdout")
grep -q "Store '$D/store' does not exist" "$SCRATCH/stdout" || die "the failure does not name the store"
mv "$D/store.moved" "$D/store"
expect_exit 3 yunbak status
grep -Eq "^tax-db +general +failed [0-9]+ (s|min|h) ago " "$SCRATCH/stdout" &&
        grep -Eq "^tax-db: job $JOB3 failed: .+" "$SCRATCH/stdout" || {
        cat "$SCRATCH/stdout" >&2
        die "status does not show the failure"
}

# The audit log has our actions, and is intact, over the API and offline.
expect_exit 0 yunbak audit log --limit 1000
grep -Eq "^[0-9]+ .* $ME +operator +api.backup-now +hr-portal +ok " "$SCRATCH/stdout" || {
        cat "$SCRATCH/stdout" >&2
        die "audit log"
}
expect_exit 0 yunbak audit log --after 1 --limit 1
grep -q '^2 ' "$SCRATCH/stdout" || die "audit log --after"
grep -q 'yunbak audit log --after 2' "$SCRATCH/stdout" || die "audit log: how to ask for more"
expect_exit 0 yunbak audit verify
grep -q '^Audit log intact: ' "$SCRATCH/stdout" || die "audit verify"
expect_exit 0 yunbak audit verify --catalog "$D/catalog.db" --daemon-key "$D/state/yunbakd.pub"
grep -q '^Audit log intact: ' "$SCRATCH/stdout" || die "audit verify --catalog"
expect_exit 2 yunbak audit verify --catalog "$D/catalog.db"
expect_exit 1 yunbak audit verify --catalog "$SCRATCH/missing.db" \
        --daemon-key "$D/state/yunbakd.pub"
[ ! -e "$SCRATCH/missing.db" ] || die "audit verify created a catalog"
# Another daemon's key does not seal this log.
mkdir -p "$SCRATCH/other-key"
yunbak-agent identity --state-dir "$SCRATCH/other-key" >"$SCRATCH/other.pub"
expect_exit 5 yunbak audit verify --catalog "$D/catalog.db" --daemon-key "$SCRATCH/other.pub"
expect_exit 4 yunbak audit verify --catalog "$D/catalog.db" --daemon-key "$D/yunbakd.yaml"

# Verifying never changes what it checks: a copy with an older schema version is neither
# migrated nor touched; in a directory the auditor cannot write, it is read all the same; an
# empty file is not a catalog.
mkdir "$SCRATCH/copy"
sql ".backup '$SCRATCH/copy/catalog.db'"
sqlite3 "$SCRATCH/copy/catalog.db" "PRAGMA user_version = 1"
sum_before=$(sha256sum <"$SCRATCH/copy/catalog.db")
expect_exit 0 yunbak audit verify --catalog "$SCRATCH/copy/catalog.db" --daemon-key "$D/state/yunbakd.pub"
[ "$(sha256sum <"$SCRATCH/copy/catalog.db")" = "$sum_before" ] || die "audit verify changed the catalog it checked"
[ "$(sqlite3 "$SCRATCH/copy/catalog.db" "PRAGMA user_version")" = 1 ] || die "audit verify migrated the catalog"
if ! is_root; then
        rm -f "$SCRATCH/copy/catalog.db-shm" "$SCRATCH/copy/catalog.db-wal"
        chmod 0555 "$SCRATCH/copy"
        expect_exit 0 yunbak audit verify --catalog "$SCRATCH/copy/catalog.db" \
                --daemon-key "$D/state/yunbakd.pub"
        chmod 0755 "$SCRATCH/copy"
fi
: >"$SCRATCH/copy/empty.db"
expect_exit 1 yunbak audit verify --catalog "$SCRATCH/copy/empty.db" --daemon-key "$D/state/yunbakd.pub"
expect_stderr "is not yunbakd's catalog"

# An edit made in the SQLite file behind yunbakd's back.
sql "UPDATE audit SET detail = 'nothing to see' WHERE seq = 1"
expect_exit 5 yunbak audit verify
grep -q '^record 1: ' "$SCRATCH/stdout" || die "audit verify: no problem named"
grep -q '^Audit log DAMAGED: ' "$SCRATCH/stdout" || die "audit verify: no summary"
expect_exit 5 yunbak audit verify --catalog "$D/catalog.db" --daemon-key "$D/state/yunbakd.pub"
grep -q '^record 1: its content was changed' "$SCRATCH/stdout" || die "offline: no problem"

# An auditor reads everything and may not act: 403 is exit 4, with yunbakd's sentence.
stop_yunbakd
sed 's/role: operator/role: auditor/' "$D/yunbakd.yaml" >"$D/auditor.yaml"
mv "$D/auditor.yaml" "$D/yunbakd.yaml"
start_yunbakd
expect_exit 4 yunbak backup now --system hr-portal
expect_stderr '^yunbak: error: permission denied: '
expect_exit 4 yunbak catalog rebuild
expect_stderr 'permission denied: only operators may rebuild the catalog'
expect_exit 0 yunbak jobs --system tax-db
stop_yunbakd

# The daemon gone again: its socket is removed, exit 6.
expect_exit 6 yunbak status

# Without --foreground, yunbakd detaches once it is ready: the command exits 0, and the daemon
# lets go of the streams it was started with (its log goes to syslog), so nothing it logs later
# (the job below) reaches them.
sed 's/role: auditor/role: operator/' "$D/yunbakd.yaml" >"$D/operator.yaml"
mv "$D/operator.yaml" "$D/yunbakd.yaml"
rm -f "$SOCK"
yunbakd --config "$D/yunbakd.yaml" >"$D/detached.out" 2>"$D/detached.err" </dev/null ||
        die "detached yunbakd exited $?: $(cat "$D/detached.err")"
YUNBAKD_PID=$(pgrep -f -x "yunbakd --config $D/yunbakd.yaml") || die "no detached yunbakd running"
expect_exit 0 yunbak backup now --system tax-db --wait
for fd in 0 1 2; do
        [ "$(readlink "/proc/$YUNBAKD_PID/fd/$fd")" = /dev/null ] ||
                die "the detached yunbakd's fd $fd is $(readlink "/proc/$YUNBAKD_PID/fd/$fd")"
done
! grep -q "Job " "$D/detached.out" "$D/detached.err" ||
        die "the detached yunbakd logged to the streams it was started with: $(cat "$D/detached.err")"
kill -TERM "$YUNBAKD_PID"
i=0
while kill -0 "$YUNBAKD_PID" 2>/dev/null; do
        i=$((i + 1))
        [ "$i" -lt 600 ] || die "the detached yunbakd did not stop on SIGTERM"
        sleep 0.1
done
YUNBAKD_PID=
[ ! -e "$SOCK" ] || die "the detached yunbakd left its socket behind"
