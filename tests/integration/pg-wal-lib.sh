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
#   check_wal_pieces DIR UPTO-LSN
#                          DIR holds a restored _pg/<hook>/wal: per WAL file, its pieces follow
#                          one another from offset 0, and concatenated they equal the server's
#                          own pg_wal file byte for byte, for every WAL file from the chain's
#                          first up to the one before UPTO-LSN (all complete); prints the count
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
        python3 - "$1" "$PGDIR/data/pg_wal" "$2" <<'PY'
import os, re, sys
wal, server, upto = sys.argv[1], sys.argv[2], sys.argv[3]
hi, lo = upto.split("/")
upto = (int(hi, 16) << 32) | int(lo, 16)
SEG = 16 * 1024 * 1024
pieces = {}
for name in os.listdir(wal):
    m = re.fullmatch(r"([0-9A-F]{24})\.([0-9A-F]{8})", name)
    assert m, "not a WAL piece: " + name
    pieces.setdefault(m.group(1), []).append((int(m.group(2), 16), name))
assert pieces, "no WAL piece in " + wal
def segno(name):
    return int(name[8:16], 16) * (0x100000000 // SEG) + int(name[16:24], 16)
names = sorted(pieces)
first, last = segno(names[0]), upto // SEG - 1
assert last >= first, "nothing complete to compare (%s, up to %x)" % (names[0], upto)
for s in range(first, last + 1):
    name = "%s%08X%08X" % (names[0][:8], s // (0x100000000 // SEG), s % (0x100000000 // SEG))
    assert name in pieces, "WAL file %s has no piece in the chain" % name
    data, at = b"", 0
    for off, p in sorted(pieces[name]):
        assert off == at, "%s: a piece starts at %d, the one before ends at %d" % (name, off, at)
        with open(os.path.join(wal, p), "rb") as f:
            b = f.read()
        assert b, "%s is empty" % p
        data += b
        at += len(b)
    with open(os.path.join(server, name), "rb") as f:
        orig = f.read()
    assert len(data) == SEG, "%s: the chain holds %d bytes of it" % (name, len(data))
    assert data == orig, "%s differs from the server's" % name
print(last - first + 1)
PY
}
