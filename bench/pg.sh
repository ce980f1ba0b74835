#!/usr/bin/env bash
# bench/pg.sh - PostgreSQL physical backups (issue 12): yunbak beside pgBackRest and Barman
# (Debian 12's packages, 2.45 and 3.4) on one cluster, in one run.
#
#   ROUNDS=1 DURATION=600 bench/pg.sh       # needs root; the server runs as the postgres user
#   PEERS="pgbackrest barman" bench/pg.sh   # without yunbak
#   APPEND=1 FIRST_ROUND=2 bench/pg.sh      # one more round, its rows added to the same table
#
# Per round: a PostgreSQL 15 cluster in $WORK/pg/src (Unix socket only), `pgbench -i -s SCALE`
# (100: about 1.5 GiB); every peer's full backup, one after the other; then one shared
# `pgbench -c CLIENTS -T DURATION` whose WAL every peer archives or streams at once
# (pgBackRest: archive_command = pgbackrest archive-push; Barman: its streaming archiver,
# pg_receivewal on a slot; yunbak: see yb_* below); pg_switch_wal() and a wait until each peer
# holds the last WAL file; every peer's incremental; every peer's restore of its latest backup to
# the end of its WAL into a fresh directory, started (pg_ctl start, until out of recovery) and
# checked: count(*) of pgbench_history and sum(abalance) of pgbench_accounts equal the source's.
# Before each backup and restore step: sync and drop_caches. The peers' order rotates by round.
#
# Each step runs under bench/pgrun.py (wall; CPU = user + sys of the tool's processes, children
# included; peak RSS of the largest). The WAL phase's CPU is the sum over every archive_command
# call (one pgrun.py row each) plus what the long-running receivers used over the phase (their
# process trees' CPU in /proc, before and after). Stored bytes are `du -sb` of the step's
# backup (its own directory or snapshot) and of the whole repository. The machine is shared:
# each row carries the 1-minute load average at its start and end, and $WORK/results/logs/
# pg_r<N>_samples.tsv the load and pg_stat_replication's lag every second of the WAL phase.
#
# Output: $WORK/results/pg.tsv (one row per round, peer and step), logs in $WORK/results/logs/.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
WORK="${WORK:-/tmp/bench-work}"
RES="$WORK/results"
S="$WORK/pg"
ROUNDS="${ROUNDS:-1}"
FIRST_ROUND="${FIRST_ROUND:-1}" # rounds FIRST_ROUND.. (with APPEND=1, a later run goes on numbering)
DURATION="${DURATION:-600}"
SCALE="${SCALE:-100}"
CLIENTS="${CLIENTS:-4}"
PEERS="${PEERS:-pgbackrest barman yunbak}"
INTERVAL="${INTERVAL:-2s}"
PGBIN=/usr/lib/postgresql/15/bin
export DEBIAN_FRONTEND=noninteractive

[[ $(id -u) == 0 ]] || { echo "bench/pg.sh: needs root (the server and the peers run as their own users)" >&2; exit 1; }
# The peers are installed here, for the benchmark only (scripts/install-deps.sh is the build's).
pkgs=()
for p in postgresql-15 postgresql-contrib pgbackrest barman barman-cli rsync time python3; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || pkgs+=("$p")
done
if ((${#pkgs[@]})); then apt-get update -qq; apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null; fi
YB="${YB_BUILD:-$ROOT/build-bench}" # YB_BUILD: an existing Release build to use as it is
if [[ " $PEERS " == *" yunbak "* && -z ${YB_BUILD:-} ]]; then
  sh "$ROOT/scripts/install-deps.sh"
  cmake -S "$ROOT" -B "$ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release -DYB_TESTS=OFF -DYB_SANITIZE= \
        -DYB_FAULT_INJECTION=OFF >/dev/null
  cmake --build "$ROOT/build-bench" -j "$(nproc)" >/dev/null
fi
PGRUN="$S/bin/pgrun.py"
mkdir -p "$RES/logs" "$S/bin"
install -m 755 "$HERE/pgrun.py" "$PGRUN"
chmod 755 "$WORK" "$S"

TSV="$RES/pg.tsv"
[[ -f "$TSV" && "${APPEND:-0}" != 1 ]] && mv "$TSV" "$TSV.$(date +%Y%m%d-%H%M%S)"
[[ -f "$TSV" ]] || printf 'ts\tround\tpeer\tstep\twall_s\tuser_s\tsys_s\tmaxrss_kib\texit\tstep_bytes\trepo_bytes\tload_start\tload_end\tnote\n' >"$TSV"

SRC="$S/src"      # the cluster: $SRC/data, its socket in $SRC
CPU="$S/cpu"      # pgrun.py's rows, written by the server's archive_command too
ETC="$S/etc"
REPO="$S/repo"
RESTORE="$S/restore"
as() { local u=$1; shift; runuser -u "$u" -- "$@"; }
as_pg() { as postgres "$@"; }
load1() { cut -d' ' -f1 /proc/loadavg; }
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
psql_at() { # SOCKETDIR SQL
  as_pg "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$1" -U postgres -d postgres -c "$2"
}
q() { psql_at "$SRC" "$1"; }
du_b() { local t=0 p; for p in "$@"; do [[ -e $p ]] && t=$((t + $(du -sb "$p" | cut -f1))); done; echo "$t"; }
wait_for() { # SECONDS WHAT cmd...: polls cmd every 0.5 s
  local n=$(($1 * 2)) what=$2; shift 2
  for _ in $(seq "$n"); do "$@" && return 0; sleep 0.5; done
  echo "bench/pg.sh: timed out after $1 s waiting for $what" >&2; return 1
}
row() { # ROUND PEER STEP WALL USER SYS RSS EXIT STEP_BYTES REPO_BYTES LOAD0 LOAD1 NOTE
  local line
  line=$(printf '%s\t%s\t%s\t%s\t%.2f\t%.2f\t%.2f\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$(date -u +%FT%TZ)" "$@")
  echo "$line" | tee -a "$TSV"
}
# tstep ROUND PEER STEP USER STEP_BYTES_FN NOTE -- CMD...: one timed step, caches dropped first;
# STEP_BYTES_FN (a function name, or -) prints the bytes the step stored once it is done.
tstep() {
  local r=$1 peer=$2 step=$3 user=$4 bytes_fn=$5 note=$6; shift 7
  local out="$CPU/step.tsv" log="$RES/logs/pg_r${r}_${peer}_$step" l0 rc=0 b=- w u y m x
  rm -f "$out"
  drop
  l0=$(load1)
  if [[ $user == root ]]; then
    python3 "$PGRUN" "$out" "$step" -- "$@" >"$log.out" 2>&1 || rc=$?
  else
    python3 "$PGRUN" "$out" "$step" -- runuser -u "$user" -- "$@" >"$log.out" 2>&1 || rc=$?
  fi
  IFS=$'\t' read -r _ w u y m x <"$out"
  [[ $bytes_fn == - ]] || b=$($bytes_fn)
  row "$r" "$peer" "$step" "$w" "$u" "$y" "$m" "$x" "$b" "$(repo_bytes "$peer")" "$l0" "$(load1)" "$note"
  if ((rc != 0)); then echo "!! $peer $step exited $rc; see $log.out" >&2; tail -5 "$log.out" >&2; fi
  return "$rc"
}
repo_bytes() { case $1 in pg) echo - ;; *) du_b "$REPO/$1" ;; esac; }
# The CPU seconds of a process and every process below it (reaped children included).
tree_cpu() {
  python3 - "$1" "$(getconf CLK_TCK)" <<'EOF'
import os, sys
root, hz = int(sys.argv[1]), int(sys.argv[2])
kids, ticks = {}, {}
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        st = open(f"/proc/{p}/stat").read()
    except OSError:
        continue
    f = st[st.rindex(")") + 2:].split()
    kids.setdefault(int(f[1]), []).append(int(p))
    ticks[int(p)] = sum(int(x) for x in f[11:15])
tot, todo = 0, [root]
while todo:
    p = todo.pop()
    tot += ticks.get(p, 0)
    todo += kids.get(p, [])
print(f"{tot / hz:.2f}")
EOF
}
sum_rows() { # FILE: "user sys n" summed over pgrun.py rows
  if [[ -s $1 ]]; then awk -F'\t' '{u += $3; s += $4; n++} END {printf "%.2f %.2f %d\n", u, s, n}' "$1"; else echo "0 0 0"; fi
}

# --- The cluster ---------------------------------------------------------------------------------
# archive_command runs each archiving peer in turn (archive_cmd, from the peers' *_archive_line),
# each under pgrun.py; pgBackRest refuses an archive_command that does not name it.
pg_start_src() {
  as_pg "$PGBIN/pg_ctl" -D "$SRC/data" -l "$SRC/server.log" -w -t 300 -o "-c listen_addresses='' \
-k $SRC -c wal_level=replica -c archive_mode=on -c archive_command='$(archive_cmd)' \
-c max_wal_senders=10 -c max_replication_slots=10 -c shared_buffers=256MB" start >/dev/null
}
pg_stop_at() { as_pg "$PGBIN/pg_ctl" -D "$1" -m fast -w -t 300 stop >/dev/null 2>&1 || true; }
fresh_cluster() { # ROUND: initdb + pgbench -i, or a copy of round 1's stopped cluster
  local r=$1 l0
  pg_stop_at "$SRC/data"
  rm -rf "$SRC"; mkdir -p "$SRC"; chown postgres:postgres "$SRC"
  if [[ -d $S/template/data ]]; then
    cp -a "$S/template/data" "$SRC/data"
    pg_start_src
    return
  fi
  as_pg "$PGBIN/initdb" -D "$SRC/data" --auth=trust --username=postgres --encoding=UTF8 --locale=C >"$RES/logs/pg_initdb.log"
  pg_start_src
  l0=$(load1)
  rm -f "$CPU/step.tsv"
  python3 "$PGRUN" "$CPU/step.tsv" init -- runuser -u postgres -- "$PGBIN/pgbench" -i -q -s "$SCALE" \
          -h "$SRC" -U postgres postgres >"$RES/logs/pg_r${r}_pgbench_init.log" 2>&1
  IFS=$'\t' read -r _ w u y m x <"$CPU/step.tsv"
  row "$r" pg pgbench-init "$w" "$u" "$y" "$m" "$x" "$(du_b "$SRC/data")" - "$l0" "$(load1)" "scale $SCALE"
  pg_stop_at "$SRC/data"
  rm -rf "$S/template"; mkdir -p "$S/template"; cp -a "$SRC/data" "$S/template/data"
  pg_start_src
}
source_state() { q "SELECT (SELECT count(*) FROM pgbench_history) || ' ' || (SELECT sum(abalance) FROM pgbench_accounts)"; }

# --- pgBackRest: archive-push in archive_command; full, incr; restore with archive-get ---------------
pgbackrest_conf() {
  cat <<EOF
[global]
repo1-path=$REPO/pgbackrest
repo1-retention-full=9
log-path=$S/pgbackrest/log
lock-path=$S/pgbackrest/lock
log-level-console=warn
log-level-file=info
compress-type=zst
compress-level=3
process-max=2
start-fast=y

[bench]
pg1-path=$SRC/data
pg1-socket-path=$SRC
pg1-user=postgres
EOF
}
PGBR=(pgbackrest --config="$ETC/pgbackrest.conf" --stanza=bench)
pgbackrest_setup() {
  mkdir -p "$REPO/pgbackrest" "$S/pgbackrest/log" "$S/pgbackrest/lock"
  chown -R postgres:postgres "$REPO/pgbackrest" "$S/pgbackrest"
  pgbackrest_conf >"$ETC/pgbackrest.conf"
  as_pg "${PGBR[@]}" stanza-create >"$RES/logs/pg_pgbackrest_stanza.log" 2>&1
}
pgbackrest_newest() { ls -d "$REPO/pgbackrest/backup/bench/"*[FDI] | sort | tail -1; }
pgbackrest_step_bytes() { du_b "$(pgbackrest_newest)"; }
pgbackrest_wal_bytes() { du_b "$REPO/pgbackrest/archive"; }
pgbackrest_backup() { # ROUND STEP TYPE
  tstep "$1" pgbackrest "$2" postgres pgbackrest_step_bytes "--type=$3" -- "${PGBR[@]}" --type="$3" backup
}
pgbackrest_archive_line() { echo "python3 $PGRUN $CPU/wal-pgbackrest.tsv %f -- ${PGBR[*]} archive-push %p"; }
pgbackrest_has() { [[ -e $(ls "$REPO/pgbackrest/archive/bench/15-1/${1:0:16}/$1"-* 2>/dev/null | head -1) ]]; }
pgbackrest_restore() { # ROUND DEST: the data directory in DEST/data
  RDATA=$2/data
  install -d -o postgres -g postgres -m 700 "$RDATA"
  tstep "$1" pgbackrest restore postgres - "to the end of the archive" -- "${PGBR[@]}" --pg1-path="$2/data" restore
}

# --- Barman: backup_method = postgres (pg_basebackup), streaming_archiver (pg_receivewal) ---------
barman_conf() {
  cat <<EOF
[barman]
barman_user = barman
barman_home = $REPO/barman
log_file = $S/barman/barman.log
log_level = INFO
configuration_files_directory = $S/barman/conf.d

[bench]
description = bench/pg.sh
conninfo = host=$SRC user=postgres dbname=postgres
streaming_conninfo = host=$SRC user=postgres
backup_method = postgres
streaming_archiver = on
slot_name = barman
archiver = off
path_prefix = $PGBIN
immediate_checkpoint = true
minimum_redundancy = 0
EOF
}
BARMAN=(barman -c "$ETC/barman.conf" -q)
BARMAN_PID=
BARMAN_LOOP=
barman_setup() {
  mkdir -p "$REPO/barman" "$S/barman/conf.d"
  chown -R barman:barman "$REPO/barman" "$S/barman"
  barman_conf >"$ETC/barman.conf"
  "${BARMAN[@]}" receive-wal --create-slot bench >"$RES/logs/pg_barman_slot.log" 2>&1
  # The streaming archiver, as `barman cron` would start it, but here under pgrun.py so that its
  # CPU (pg_receivewal's included) can be read; archive-wal (what cron runs every minute: streamed
  # files into wals/) every 10 s, each call a pgrun.py row.
  python3 "$PGRUN" "$CPU/barman-receive.tsv" receive-wal -- "${BARMAN[@]}" receive-wal bench \
          >"$RES/logs/pg_barman_receive.log" 2>&1 &
  BARMAN_PID=$!
  ( while :; do python3 "$PGRUN" "$CPU/wal-barman.tsv" archive-wal -- "${BARMAN[@]}" archive-wal bench \
            >>"$RES/logs/pg_barman_archive.log" 2>&1 || true; sleep 10; done ) &
  BARMAN_LOOP=$!
  wait_for 60 "Barman's pg_receivewal" barman_streaming
  "${BARMAN[@]}" switch-wal --force --archive --archive-timeout 120 bench >>"$RES/logs/pg_barman_slot.log" 2>&1
}
barman_streaming() { [[ $(q "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'barman_receive_wal'") == 1 ]]; }
barman_newest() { ls -d "$REPO/barman/bench/base/"*/ | sort | tail -1; }
barman_step_bytes() { du_b "$(barman_newest)"; }
barman_wal_bytes() { du_b "$REPO/barman/bench/wals" "$REPO/barman/bench/streaming"; }
barman_backup() { # ROUND STEP
  local note="full (pg_basebackup)"
  [[ $2 == incr ]] && note="a second full: no incremental with backup_method = postgres"
  tstep "$1" barman "$2" root barman_step_bytes "$note" -- "${BARMAN[@]}" backup --wait bench
}
barman_archive_line() { :; }
# Streamed (a whole file in streaming/, fsynced by pg_receivewal) or already moved into wals/.
barman_has() { [[ -e $REPO/barman/bench/streaming/$1 || -e $REPO/barman/bench/wals/${1:0:16}/$1 ]]; }
barman_restore() { # ROUND DEST: the data directory in DEST/data
  RDATA=$2/data
  install -d -o barman -g barman -m 700 "$RDATA"
  tstep "$1" barman restore root - "latest backup, every WAL file after it into pg_wal; chown to postgres" -- \
        sh -c '"$@" && chown -R postgres:postgres "$0"' "$2" "${BARMAN[@]}" recover bench latest "$2/data"
}
barman_stop() {
  [[ -n $BARMAN_LOOP ]] && { kill "$BARMAN_LOOP" 2>/dev/null; wait "$BARMAN_LOOP" 2>/dev/null || true; }
  [[ -n $BARMAN_PID ]] && { kill "$BARMAN_PID" 2>/dev/null; wait "$BARMAN_PID" 2>/dev/null || true; }
  BARMAN_LOOP='' BARMAN_PID=''
}

# --- yunbak ---------------------------------------------------------------------------------------
# shellcheck source=bench/pg-yunbak.sh
. "$HERE/pg-yunbak.sh"

# --- The run --------------------------------------------------------------------------------------
archive_cmd() { # the archive_command: every archiving peer in turn, each under pgrun.py
  local p line cmd=
  for p in "${order[@]}"; do
    line=$("${p}_archive_line")
    [[ -n $line ]] && cmd="${cmd:+$cmd && }$line"
  done
  echo "${cmd:-true}"
}
cleanup() {
  set +e
  barman_stop
  yunbak_stop
  [[ -n ${SAMPLER:-} ]] && kill "$SAMPLER" 2>/dev/null
  for d in "${RDATA:-}" "$SRC/data"; do [[ -n $d && -f $d/postmaster.pid ]] && pg_stop_at "$d"; done
  return 0
}
trap cleanup EXIT
sampler() { # every second: load average, then each replication client's lags
  while :; do
    printf '%s\t%s\t%s\n' "$(date +%s.%N)" "$(cut -d' ' -f1-3 /proc/loadavg)" \
      "$(q "SELECT string_agg(application_name || '=' || coalesce(extract(epoch FROM write_lag)::text, '-') || '/' ||
              coalesce(extract(epoch FROM flush_lag)::text, '-'), ' ') FROM pg_stat_replication" 2>/dev/null)"
    sleep 1
  done
}
wal_bytes() { "${1}_wal_bytes"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }

{ echo "# $(date -u +%FT%TZ) bench/pg.sh rounds=$ROUNDS duration=$DURATION scale=$SCALE clients=$CLIENTS peers=[$PEERS] commit=$(git -C "$ROOT" rev-parse --short HEAD)"
  echo "#   $("$PGBIN/postgres" --version); $(pgbackrest version); $(barman --version 2>&1 | head -1)"
  echo "#   $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB"; } | tee -a "$RES/pg.meta"
read -r -a peers <<<"$PEERS"
for ((r = FIRST_ROUND; r < FIRST_ROUND + ROUNDS; r++)); do
  n=${#peers[@]}; order=()
  for ((i = 0; i < n; i++)); do order+=("${peers[$(((i + r - 1) % n))]}"); done
  echo "== round $r: ${order[*]}"
  cleanup; trap cleanup EXIT
  rm -rf "$REPO" "$RESTORE" "$CPU" "$ETC" "$S/pgbackrest" "$S/barman"
  mkdir -p "$REPO" "$RESTORE" "$CPU" "$ETC"
  chmod 1777 "$CPU"; chmod 755 "$ETC" "$REPO" "$RESTORE"
  fresh_cluster "$r"
  for p in "${order[@]}"; do "${p}_setup"; done

  for p in "${order[@]}"; do "${p}_backup" "$r" full full || true; done

  # --- The shared pgbench run, whose WAL every peer archives or streams ---
  yunbak_wal_begin "$r" # the replicator, when there is one: its root before pgbench starts
  for f in "$CPU"/wal-*.tsv; do [[ -e $f ]] && mv "$f" "$f.before"; done
  declare -A cpu0=() wal0=()
  for p in "${order[@]}"; do
    cpu0[$p]=0; wal0[$p]=$(wal_bytes "$p")
    [[ $p == barman ]] && cpu0[$p]=$(tree_cpu "$BARMAN_PID")
  done
  repl0=$(yunbak_tree_cpu)
  sampler >"$RES/logs/pg_r${r}_samples.tsv" & SAMPLER=$!
  l0=$(load1); t0=$(date +%s%N)
  as_pg "$PGBIN/pgbench" -c "$CLIENTS" -j 2 -T "$DURATION" -P 60 -h "$SRC" -U postgres postgres \
        >"$RES/logs/pg_r${r}_pgbench.log" 2>&1
  t1=$(date +%s%N)
  tps=$(awk '/^tps = / { print $3; exit }' "$RES/logs/pg_r${r}_pgbench.log")
  row "$r" pg pgbench "$(secs "$t0" "$t1")" 0 0 0 0 - - "$l0" "$(load1)" "tps $tps, $CLIENTS clients, -T $DURATION"
  last=$(q "SELECT pg_walfile_name(pg_current_wal_lsn())")
  q "SELECT pg_switch_wal()" >/dev/null
  for p in "${order[@]}"; do
    wait_for 600 "$p to hold WAL file $last" "${p}_has" "$last" || true
    t2=$(date +%s%N)
    read -r u y nrows < <(sum_rows "$CPU/wal-$p.tsv")
    extra=0
    [[ $p == barman ]] && extra=$(tree_cpu "$BARMAN_PID")
    u=$(awk -v a="$u" -v c="$extra" -v c0="${cpu0[$p]}" 'BEGIN { print a + c - c0 }')
    row "$r" "$p" wal "$(secs "$t0" "$t2")" "$u" "$y" - 0 \
        "$(($(wal_bytes "$p") - ${wal0[$p]}))" "$(repo_bytes "$p")" "$l0" "$(load1)" \
        "WAL of the pgbench run until it held $last; $nrows archive calls; user_s holds the receivers' whole CPU (user+sys)"
  done
  kill "$SAMPLER"; SAMPLER=
  yunbak_wal_end "$r" "$t0" "$t1" "$repl0"
  want=$(source_state)
  echo "source: pgbench_history rows and sum(abalance): $want"

  for p in "${order[@]}"; do "${p}_backup" "$r" incr incr || true; done

  for p in "${order[@]}"; do
    D="$RESTORE/$p"
    rm -rf "$D"; mkdir -p "$D"; chown postgres:postgres "$D"; chmod 755 "$D"
    "${p}_restore" "$r" "$D" || continue # sets RDATA
    l0=$(load1); t0=$(date +%s%N)
    as_pg "$PGBIN/pg_ctl" -D "$RDATA" -l "$D/server.log" -w -t 1800 \
          -o "-c listen_addresses='' -k $D -c archive_mode=off" start >/dev/null ||
      { echo "!! $p's restored cluster did not start: see $D/server.log" >&2; cp "$D/server.log" "$RES/logs/pg_r${r}_${p}_server.log"; continue; }
    wait_for 1800 "$p's restored cluster to leave recovery" \
             eval '[[ $(psql_at "$D" "SELECT pg_is_in_recovery()" 2>/dev/null) == f ]]' || { pg_stop_at "$RDATA"; continue; }
    t1=$(date +%s%N)
    got=$(psql_at "$D" "SELECT (SELECT count(*) FROM pgbench_history) || ' ' || (SELECT sum(abalance) FROM pgbench_accounts)")
    verdict="equal to the source ($got)"; [[ $got == "$want" ]] || verdict="DIFFERS: $got, source $want"
    row "$r" "$p" start "$(secs "$t0" "$t1")" 0 0 0 0 - - "$l0" "$(load1)" \
        "pg_ctl start until out of recovery; $verdict"
    pg_stop_at "$RDATA"
    cp "$D/server.log" "$RES/logs/pg_r${r}_${p}_server.log"
    rm -rf "$D"
  done
  cleanup
done
