# Sourced by the PostgreSQL tests after lib.sh: a real PostgreSQL cluster of Debian's newest
# server binaries, in the scratch directory, listening only on a Unix socket there. Postgres
# refuses to run as root: then it runs as nobody, and the tests reach it as that database user
# (DBUSER). The test exits 77, saying why, when the server binaries are not installed.
#
#   pg_init DIR            initdb (trust, C locale, UTF8) into DIR/data, owned by the server's user
#   pg_start DIR [OPT...]  starts it (-c options for postgres: "-c archive_mode=on" ...), waiting
#                          until it answers; its log is DIR/server.log; stopped when the test ends
#   pg_stop DIR            stops it (fast)
#   conninfo DB            "host=$PGDIR user=DBUSER dbname='DB'": the cluster in $PGDIR (pg_init
#                          sets PGDIR to the cluster it made); conninfo_at DIR DB for another
#   sql DB SQL             runs SQL there (psql -At, stops at the first error), printing the
#                          rows; sql_at DIR DB SQL for another cluster
#   as_pg CMD...           runs CMD as the server's user
#   shquote WORD           WORD as one /bin/sh word
# As root, when nobody cannot run $BIN's programs (a clone under /root), BIN and PATH point at a
# copy of them in the scratch directory. The test's current directory is the scratch directory.
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
        echo "$TEST_NAME: no PostgreSQL server binaries (Debian package postgresql): skipped"
        exit 77
fi
PATH="$PGBIN:$PATH"
export PATH

if is_root; then
        chmod 711 "$SCRATCH"
        as_pg() { setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"; }
        DBUSER=nobody
        # The server runs our programs as nobody (archive_command), and tests run them so: from
        # a clone nobody cannot reach (under /root, mode 0700) they run from a copy in the
        # scratch directory.
        if ! as_pg test -x "$BIN/yunbak-agent"; then
                mkdir "$SCRATCH/bin"
                find "$BIN" -maxdepth 1 -type f -perm -u+x -exec cp -p {} "$SCRATCH/bin/" \;
                chmod -R a+rX "$SCRATCH/bin"
                BIN="$SCRATCH/bin"
                PATH="$BIN:$PATH"
        fi
else
        as_pg() { "$@"; }
        DBUSER=$(id -un)
fi
# PostgreSQL's programs change to the current directory first, and say so when they cannot (the
# build tree of a clone nobody may reach): work from the scratch directory.
cd "$SCRATCH"
PG_STARTED=""
trap 'pg_stop_all; cleanup' EXIT

pg_init() {
        PGDIR=$1
        mkdir -p "$1"
        ! is_root || chown nobody:nogroup "$1"
        (cd "$1" && as_pg initdb -D "$1/data" --auth=trust --username="$DBUSER" --no-sync \
                --encoding=UTF8 --locale=C) >"$1/initdb.log" 2>&1 || {
                cat "$1/initdb.log" >&2
                die "initdb of $1/data failed"
        }
}

pg_start() {
        _dir=$1
        shift
        (cd "$_dir" && as_pg pg_ctl -D "$_dir/data" -l "$_dir/server.log" -w -t 120 \
                -o "-c listen_addresses='' -k $_dir -c fsync=off $*" start) >/dev/null || {
                cat "$_dir/server.log" >&2
                die "the test cluster in $_dir did not start"
        }
        PG_STARTED="$PG_STARTED $_dir"
}

pg_stop() {
        (cd "$1" && as_pg pg_ctl -D "$1/data" -m fast -w -t 120 stop) >/dev/null 2>&1 || true
}

pg_stop_all() {
        for _dir in $PG_STARTED; do
                (cd "$_dir" && as_pg pg_ctl -D "$_dir/data" -m immediate stop) >/dev/null 2>&1 || true
        done
}

shquote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
conninfo_at() { printf "host=%s user=%s dbname='%s'" "$1" "$DBUSER" "$2"; }
conninfo() { conninfo_at "$PGDIR" "$1"; }
sql_at() { psql -X -q -At -v ON_ERROR_STOP=1 --dbname="$(conninfo_at "$1" "$2")" -c "$3"; }
sql() { sql_at "$PGDIR" "$1" "$2"; }
