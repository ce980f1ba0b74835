#!/bin/sh
# A physical base backup of a cluster on a timeline above 1. A base backup of a cluster (timeline
# 1) is restored and started out of archive recovery, which promotes it to timeline 2; rows are
# written there, and that cluster is backed up in turn: the header's timeline is 2, the snapshot's
# pg_wal holds 00000002.history (as the server has it) and the timeline-2 WAL from start to stop,
# and it restores and starts on timeline 2 with the rows of both timelines.
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/pg-lib.sh"
pg_init "$SCRATCH/pg"
pg_start "$PGDIR"
sql postgres "CREATE TABLE t (id int PRIMARY KEY, note text);
        INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 10000) g"

mkdir -p "$SCRATCH/store"
make_key hr
base() { # CONNINFO NAME: a full base backup of hook db, its summary in $SCRATCH/NAME.json
        yunbak-agent backup --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
                --level full --json --postgresql "db=$1" >"$SCRATCH/$2.json" 2>"$SCRATCH/$2.err" || {
                cat "$SCRATCH/$2.err" >&2
                die "the base backup $2 failed"
        }
        python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot"])' "$SCRATCH/$2.json"
}
restore() { # SNAPSHOT TARGET: the cluster at TARGET/_pg/db, ready for pg_start
        yunbak restore --store "$SCRATCH/store" --system hr --key "$SCRATCH/keys/hr.key" \
                --passphrase-file "$SCRATCH/pass" --snapshot "$1" --target "$2" >/dev/null
        chmod 711 "$2" "$2/_pg" "$2/_pg/db"
}
# The timeline the cluster in DIR writes on (its current WAL file's first 8 digits).
tli() { sql_at "$1" postgres "SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)"; }
rows() { sql_at "$1" postgres "SELECT count(*) || ' ' || md5(string_agg(note, ',' ORDER BY id)) FROM t"; }

B1=$(base "$(conninfo postgres)" b1)
pg_stop "$PGDIR"
restore "$B1" "$SCRATCH/out1"
C1="$SCRATCH/out1/_pg/db"

# Archive recovery (recovery.signal) with nothing to fetch ends at the end of the WAL the base
# holds and promotes: timeline 2, whose history file the server writes into its pg_wal.
touch "$C1/data/recovery.signal"
pg_start "$C1" "-c restore_command=false"
i=0
until [ "$(sql_at "$C1" postgres "SELECT pg_is_in_recovery()")" = f ]; do
        i=$((i + 1))
        [ $i -lt 1200 ] || die "the restored cluster did not leave recovery within 60 s"
        sleep 0.05
done
[ "$(tli "$C1")" = 00000002 ] || die "the promoted cluster writes on timeline $(tli "$C1"), not 2"
[ -f "$C1/data/pg_wal/00000002.history" ] || die "the promoted cluster has no 00000002.history"
sql_at "$C1" postgres "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(10001, 12000) g"
ROWS=$(rows "$C1")
[ "${ROWS%% *}" = 12000 ] || die "the promoted cluster holds $ROWS rows"

# The base backup on timeline 2.
B2=$(base "$(conninfo_at "$C1" postgres)" b2)
python3 - "$SCRATCH/b2.json" "$SCRATCH/store/hr/snapshots/$B2/header" <<'PY' || die "the timeline-2 base's summary or header"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["partial"] is False and s["errors"] == 0, s
assert s["postgresql"][0]["timeline"] == 2, s["postgresql"]
with open(sys.argv[2]) as f:
    b = json.loads(f.readline())["postgresql"][0]
assert b["timeline"] == 2, b
assert b["start_wal"].startswith("00000002") and b["stop_wal"].startswith("00000002"), b
PY
cp "$C1/data/pg_wal/00000002.history" "$SCRATCH/history"
pg_stop "$C1"

restore "$B2" "$SCRATCH/out2"
C2="$SCRATCH/out2/_pg/db"
cmp "$SCRATCH/history" "$C2/data/pg_wal/00000002.history" ||
        die "the snapshot's 00000002.history is not the server's"
ls "$C2/data/pg_wal" | grep -v '^archive_status$' | grep -v '^00000002' &&
        die "the snapshot's pg_wal holds WAL of another timeline"
ls "$C2/data/pg_wal" | grep -q '^00000002[0-9A-F]\{16\}$' || die "the snapshot's pg_wal holds no WAL of timeline 2"
grep -q "^START TIMELINE: 2$" "$C2/data/backup_label" || die "backup_label: $(cat "$C2/data/backup_label")"
pg_start "$C2"
[ "$(sql_at "$C2" postgres "SELECT pg_is_in_recovery()")" = f ] || die "the restored timeline-2 base is still in recovery"
[ "$(tli "$C2")" = 00000002 ] || die "the restored timeline-2 base writes on timeline $(tli "$C2")"
[ "$(rows "$C2")" = "$ROWS" ] || die "the restored timeline-2 base does not hold the rows of both timelines"
pg_stop "$C2"
echo "pg-timeline: ok"
