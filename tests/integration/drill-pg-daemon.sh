#!/bin/sh
# yunbak drill of systems with PostgreSQL (tier 1, a local store), begun and recorded at
# yunbakd: one whose postgresql hook is a dump, one whose hook is a physical base backup. Each
# passes with the phase postgresql and each query's value in the signed record, and the check
# command reaches the drill's cluster through PGHOST/PGPORT/PGUSER. A query under its min fails
# the drill at check, the value named in the record. After each drill no process of the drill's
# clusters is left and their ports are free; as root, the dumps' cluster ran as postgres (nobody
# without it) and the base backup's as the owner of its data directory, never as root.
# About 20 s on an idle machine (backups, restores, initdb and a few clusters started).
. "$TESTS/integration/lib.sh"
command -v yunbakd >/dev/null || { echo "drill-pg-daemon: yunbakd is not built: skipped"; exit 77; }
for tool in curl sqlite3 python3; do
        command -v "$tool" >/dev/null || { echo "drill-pg-daemon: no $tool: skipped"; exit 77; }
done
. "$TESTS/integration/daemon-lib.sh"
. "$TESTS/integration/pg-lib.sh"
trap 'kill -TERM "${YUNBAKD_PID:-}" 2>/dev/null || true; pg_stop_all; cleanup' EXIT
export YUNBAK_SOCKET="$SOCK"

pg_init "$SCRATCH/pg"
pg_start "$PGDIR"
sql postgres "CREATE DATABASE hr"
sql hr "CREATE TABLE employees (id int PRIMARY KEY, name text);
        INSERT INTO employees SELECT g, '员工 ' || g FROM generate_series(1, 1234) g;"
sql postgres "CREATE TABLE kept (id int PRIMARY KEY); INSERT INTO kept SELECT generate_series(1, 777)"

daemon_config
# pg_system SYSTEM HOOK DRILL DATADIR: a system whose policy has the hook and drill.postgresql
# (HOOK and DRILL: YAML lines, \n between them); its check command records the postmaster of
# the cluster it reaches (its data directory DATADIR: pid, user, port) beside the sandbox, and
# asks it the count through PGHOST/PGPORT/PGUSER.
pg_system() {
        daemon_system "$1" "市人力资源和社会保障局"
        python3 - "$D/policies/$1.yaml" "$2" "$3" "$4" <<'PY'
import sys
path, hook, drill, datadir = sys.argv[1:]
s = open(path, encoding="utf-8").read()
check = ('pid=$(head -n 1 "%s/postmaster.pid") && echo "$pid $(ps -o user= -p $pid) $PGPORT" '
         '>"$YUNBAK_DRILL_SANDBOX.seen" && psql -X -At -d hr -c "SELECT count(*) FROM employees" '
         '| grep -qx 1234' % datadir)
s = s.replace("  paths:\n", "  hooks:\n" + hook.replace("\\n", "\n") + "\n  paths:\n", 1)
lines = s.split("\n")
lines = ["  check: '" + check.replace("'", "''") + "'\n  postgresql:\n" + drill.replace("\\n", "\n")
         if l.startswith("  check: ") else l for l in lines]
open(path, "w", encoding="utf-8").write("\n".join(lines))
PY
        yunbak policy check "$D/policies/$1.yaml" >/dev/null ||
                die "the policy of $1 does not check: $(yunbak policy check "$D/policies/$1.yaml" 2>&1)"
}
DUMP_HOOK="    - name: hr-db\n      type: postgresql\n      host: $PGDIR\n      user: $DBUSER\n      database: hr"
PHYS_HOOK="    - name: db\n      type: postgresql\n      mode: physical\n      host: $PGDIR\n      user: $DBUSER"
pg_system dumpsys "$DUMP_HOOK" "    - hook: hr-db\n      query: SELECT count(*) FROM employees\n      min: 1000" '$PGHOST/data'
pg_system physsys "$PHYS_HOOK" "    - hook: db\n      database: hr\n      query: SELECT count(*) FROM employees\n      min: 1000\n    - hook: db\n      query: SELECT count(*) FROM kept\n      min: 700" '$YUNBAK_DRILL_SANDBOX/_pg/db/data'
pg_system undersys "$DUMP_HOOK" "    - hook: hr-db\n      query: SELECT count(*) FROM employees\n      min: 5000" '$PGHOST/data'
start_yunbakd
for s in dumpsys physsys undersys; do
        expect_exit 0 yunbak backup now --system "$s" --level full --wait
done

record() { api GET "/v1/drills/$1" | json "$2"; }
port_free() { python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1"; }
# drill SYSTEM CODE: drills SYSTEM in $SCRATCH/sb-SYSTEM (kept: its logs are read after), which
# must exit CODE; prints the record's id. Then nothing of its clusters runs, the port its check
# saw is free, the clusters' directories are gone and the user they ran as is checked.
drill() {
        sb="$SCRATCH/sb-$1"
        expect_exit "$2" yunbak drill --system "$1" --key "$D/keys/$1.key" --passphrase-file "$SCRATCH/pass" \
                --sandbox "$sb" --keep
        cp "$SCRATCH/stdout" "$SCRATCH/$1.out"
        ! pgrep -f -- "$sb/" >/dev/null || die "processes of the drill of $1 are left: $(pgrep -af -- "$sb/")"
        # each cluster's postmaster and port, from its log ("... [PID] LOG:  listening on IPv4
        # address "127.0.0.1", port PORT")
        sed -n 's/.* \[\([0-9]*\)\] LOG:  listening on IPv4 address "127.0.0.1", port \([0-9]*\)$/\1 \2/p' \
                "$sb/.yunbak-drill-pg"/*.log >"$SCRATCH/$1.ports"
        [ -s "$SCRATCH/$1.ports" ] || die "no cluster of the drill of $1 listened on 127.0.0.1: $(cat "$SCRATCH/$1.out")"
        while read -r pid port; do
                ! kill -0 "$pid" 2>/dev/null || die "the postmaster $pid of the drill of $1 still runs"
                port_free "$port" || die "the port $port of the drill of $1 is still taken"
        done <"$SCRATCH/$1.ports"
        for d in "$sb/.yunbak-drill-pg"/*/; do
                [ ! -d "$d" ] || die "the cluster's directory $d of the drill of $1 is left"
        done
        if [ -f "$sb.seen" ]; then # the check ran
                read -r pid user port <"$sb.seen"
                grep -qx "$pid $port" "$SCRATCH/$1.ports" || die "the check of $1 reached another cluster ($pid, port $port)"
                [ "$user" != root ] || die "the drill's cluster of $1 ran as root"
                echo "$user" >"$SCRATCH/$1.user"
        fi
        sed -n 's/^Recorded and signed by yunbakd as drill \([0-9]*\)\..*/\1/p' "$SCRATCH/$1.out"
}

# 1. A dump: passed, the phase postgresql in the record, the query's value there.
id=$(drill dumpsys 0)
[ -n "$id" ] || die "no record of the dump drill: $(cat "$SCRATCH/dumpsys.out")"
[ "$(record "$id" 'j["result"], [p["name"] for p in j["phases"]]')" = \
        "passed ['point', 'restore', 'verify', 'postgresql', 'check']" ] ||
        die "the dump drill's record: $(api GET "/v1/drills/$id")"
[ "$(record "$id" '[(q["name"], q["mode"], q["database"], q["value"], q["ok"]) for q in j["postgresql"]]')" = \
        "[('hr-db', 'dump', 'hr', 1234, True)]" ] || die "the dump drill's query: $(api GET "/v1/drills/$id")"
if is_root; then
        want=nobody
        getent passwd postgres >/dev/null && want=postgres
        [ "$(cat "$SCRATCH/dumpsys.user")" = "$want" ] || die "the dumps' cluster ran as $(cat "$SCRATCH/dumpsys.user"), not $want"
fi

# 2. A base backup: recovered in its own cluster; both queries' values recorded.
id=$(drill physsys 0)
[ -n "$id" ] || die "no record of the physical drill: $(cat "$SCRATCH/physsys.out")"
[ "$(record "$id" 'j["result"], [(q["mode"], q["database"], q["value"], q["ok"]) for q in j["postgresql"]]')" = \
        "passed [('physical', 'hr', 1234, True), ('physical', 'postgres', 777, True)]" ] ||
        die "the physical drill's record: $(api GET "/v1/drills/$id")"
owner=$(stat -c %U "$SCRATCH/sb-physsys/_pg/db/data")
[ "$(cat "$SCRATCH/physsys.user")" = "$owner" ] ||
        die "the base backup's cluster ran as $(cat "$SCRATCH/physsys.user"), not its data directory's owner $owner"

# 3. Under its min: failed at check, the value named in the error and the record.
id=$(drill undersys 10)
[ -n "$id" ] || die "no record of the failing drill: $(cat "$SCRATCH/undersys.out")"
[ "$(record "$id" 'j["result"], j["failed_phase"], [(q["value"], q["ok"]) for q in j["postgresql"]]')" = \
        "failed check [(1234, False)]" ] || die "the failing drill's record: $(api GET "/v1/drills/$id")"
record "$id" 'j["error"]' | grep -q "1234" || die "the error does not name the value: $(record "$id" 'j["error"]')"
exit 0
