# Sourced by the tests of PostgreSQL WAL streamed to tier 2 (after lib.sh, pg-lib.sh and
# replicate-lib.sh): a cluster that keeps its WAL files (so that the test can compare them with
# what the tier-2 store holds), pgbench on it, and the byte-for-byte check.
#
#   wal_cluster DIR        pg_init + pg_start, wal_keep_size large enough to keep every WAL file
#                          of the test; pgbench's tables (scale 1) in database postgres
#   pgbench_start SECONDS  pgbench -c 2 in the background for at most SECONDS; PGBENCH_PID
#   pgbench_stop           stops it (the test's end stops it too)
#   current_lsn            the server's pg_current_wal_lsn()
#   switch_wal             SELECT pg_switch_wal(): prints the LSN the next WAL file starts at
#   wait_shipped NAME HOOK LSN SECONDS
#                          waits until replicator NAME's lag says hook HOOK's shipped_lsn >= LSN
#   check_wal_pieces DIR UPTO-LSN START-WAL STOP-WAL
#                          DIR holds a restored _pg/<hook> whose root has WAL START..STOP: the
#                          root's WAL files before STOP-WAL and, per WAL file from STOP-WAL (where
#                          the chain starts) up to the one before UPTO-LSN, the chain's pieces
#                          (following one another from offset 0) put together, equal the
#                          server's own pg_wal files byte for byte; prints how many were compared
#   root_wal STORE-ARGS... "START-WAL STOP-WAL" of hook db in the newest root of the store
PGBENCH_PID=
wal_cluster() {
        pg_init "$1"
        pg_start "$1" -c wal_keep_size=4GB -c max_wal_senders=4
        pgbench -q -i -s 1 "$(conninfo postgres)" >"$SCRATCH/pgbench-init.log" 2>&1 ||
                die "pgbench -i failed: $(tail -n 3 "$SCRATCH/pgbench-init.log")"
}

pgbench_start() {
        pgbench -n -c 2 -T "$1" "$(conninfo postgres)" >"$SCRATCH/pgbench.log" 2>&1 &
        PGBENCH_PID=$!
}

pgbench_stop() {
        if [ -n "$PGBENCH_PID" ]; then
                kill -TERM "$PGBENCH_PID" 2>/dev/null || true
                wait "$PGBENCH_PID" 2>/dev/null || true
                PGBENCH_PID=
        fi
}

current_lsn() { sql postgres "SELECT pg_current_wal_lsn()"; }

switch_wal() {
        sql postgres "SELECT pg_switch_wal()" >/dev/null
        current_lsn
}

# The Python expression of an "X/Y" LSN's value.
lsn_py() { echo "(lambda s: (int(s.split('/')[0], 16) << 32) | int(s.split('/')[1], 16))($1)"; }

wait_shipped() {
        repl_wait "$1" "$4" "L['event'] == 'lag' and (L.get('postgresql', {}).get('$2') or {}).get('shipped_lsn') and $(lsn_py "L['postgresql']['$2']['shipped_lsn']") >= $(lsn_py "'$3'")"
}

check_wal_pieces() {
        python3 - "$1" "$PGDIR/data/pg_wal" "$2" "$3" "$4" <<'PY'
import os, re, sys
hook, server, upto, start_wal, stop_wal = sys.argv[1:6]
hi, lo = upto.split("/")
upto = (int(hi, 16) << 32) | int(lo, 16)
SEG = 16 * 1024 * 1024
PER = 0x100000000 // SEG
wal = os.path.join(hook, "wal")
pieces = {}
for name in os.listdir(wal):
    m = re.fullmatch(r"([0-9A-F]{24})\.([0-9A-F]{8})", name)
    assert m, "not a WAL piece: " + name
    pieces.setdefault(m.group(1), []).append((int(m.group(2), 16), name))
assert pieces, "no WAL piece in " + wal
def segno(name):
    return int(name[8:16], 16) * PER + int(name[16:24], 16)
def name_of(s):
    return "%s%08X%08X" % (stop_wal[:8], s // PER, s % PER)
def server_file(name):
    with open(os.path.join(server, name), "rb") as f:
        return f.read()
assert min(pieces) == stop_wal, "the chain starts at %s, not at the root's stop WAL file %s" % (min(pieces), stop_wal)
# The root's own WAL, start up to stop: whole files in its data directory.
for s in range(segno(start_wal), segno(stop_wal)):
    with open(os.path.join(hook, "data", "pg_wal", name_of(s)), "rb") as f:
        assert f.read() == server_file(name_of(s)), "the root's %s differs from the server's" % name_of(s)
first, last = segno(stop_wal), upto // SEG - 1
assert last >= first, "nothing complete to compare (%s, up to %x)" % (stop_wal, upto)
for s in range(first, last + 1):
    name = name_of(s)
    assert name in pieces, "WAL file %s has no piece in the chain" % name
    data, at = b"", 0
    for off, p in sorted(pieces[name]):
        assert off == at, "%s: a piece starts at %d, the one before ends at %d" % (name, off, at)
        with open(os.path.join(wal, p), "rb") as f:
            b = f.read()
        assert b, "%s is empty" % p
        data += b
        at += len(b)
    assert len(data) == SEG, "%s: the chain holds %d bytes of it" % (name, len(data))
    assert data == server_file(name), "%s differs from the server's" % name
print(segno(stop_wal) - segno(start_wal) + last - first + 1)
PY
}

# root_wal STORE-ARGS...: "START_WAL STOP_WAL" of hook db in the newest root of the store.
root_wal() {
        yunbak snapshots "$@" --system hr --json | python3 -c '
import json, sys
roots = [s for s in json.load(sys.stdin) if s.get("postgresql")]
p = [p for p in roots[-1]["postgresql"] if p["name"] == "db"][0]
print(p["start_wal"], p["stop_wal"])'
}
