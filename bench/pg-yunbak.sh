# shellcheck shell=bash
# bench/pg-yunbak.sh - sourced by bench/pg.sh: yunbak's steps in the PostgreSQL benchmark, the
# counterparts of pg.sh's pgbackrest_* and barman_* (each a no-op when yunbak is not a peer).
#
# Everything runs as the server's user, as a tier-1 system without tier 2 would (postgresql.md,
# "WAL archive without tier 2"): the agent's physical base backups (`yunbak-agent backup
# --postgresql bench=CONNINFO`, full then incremental) and `yunbak-agent wal-archive` as
# archive_command write one local store; the restore is `yunbak restore --latest` (the newest
# base, the WAL after it, recovery settings without a target: PostgreSQL replays to the end).
# Defaults throughout (zstd level 3).
#
# When the agent's `replicate` takes --postgresql (WAL streamed to tier 2), the replicator runs
# too, as root, beside them: `yunbak-agent replicate --postgresql bench=CONNINFO --interval
# INTERVAL` into a second local store (its root is its own base backup, made before pgbench
# starts); its CPU over the pgbench run is the `wal-stream` row, and the p99 of its own lag
# reports (JSON "lag" events) over the run is the `lag` row (wall_s holds the p99; the note the
# p50, the max and the lag measured from its committed segments, bench/replag.py).
YBR="$REPO/yunbak"
YBKEYS="$S/yunbak-keys"
YBSTATE="$S/yunbak-state"
YBCONN="host=$SRC user=postgres dbname=postgres"
yunbak_on() { [[ " $PEERS " == *" yunbak "* ]]; }
yb_agent() { # the agent's options shared by its commands
  echo "$YB/yunbak-agent" "$1" --store "$YBR" --system bench --public-key "$YBKEYS/bench.pub" --state-dir "$YBSTATE"
}
yunbak_setup() {
  rm -rf "$YBKEYS" "$YBSTATE"
  install -d -o postgres -g postgres -m 700 "$YBR" "$YBSTATE"
  install -d -m 755 "$YBKEYS"
  echo bench-password >"$YBKEYS/pass"
  YUNBAK_PASSPHRASE_FILE="$YBKEYS/pass" "$YB/yunbak" key init --system bench --out "$YBKEYS" --kdf interactive >/dev/null
  chmod 644 "$YBKEYS/bench.pub"
  chown postgres "$YBKEYS/bench.key" "$YBKEYS/pass"
}
yunbak_archive_line() {
  yunbak_on || return 0
  echo "python3 $PGRUN $CPU/wal-yunbak.tsv %f -- $(yb_agent wal-archive) --postgresql bench %p %f"
}
yunbak_newest() { ls -dt "$YBR/bench/snapshots/"*/ | head -1; }
yunbak_step_bytes() { du_b "$(yunbak_newest)"; }
yunbak_wal_bytes() { du_b "$YBR/bench/segments"; }
yunbak_backup() { # ROUND STEP LEVEL
  local level=$3
  [[ $level == incr ]] && level=incremental
  # shellcheck disable=SC2046
  tstep "$1" yunbak "$2" postgres yunbak_step_bytes "--level $level" -- \
        $(yb_agent backup) --level "$level" --json --postgresql "bench=$YBCONN"
}
# The archive_command runs every peer's command in turn, so the server's archiver has it once the
# whole command succeeded.
yunbak_has() { [[ $(q "SELECT coalesce(last_archived_wal, '') >= '$1' FROM pg_stat_archiver") == t ]]; }
yunbak_restore() { # ROUND DEST: the data directory in DEST/target/_pg/bench/data
  RDATA=$2/target/_pg/bench/data
  tstep "$1" yunbak restore postgres - "--latest: the incremental's base, the WAL after it, recovery to the end" -- \
        "$YB/yunbak" restore --store "$YBR" --system bench --key "$YBKEYS/bench.key" \
        --passphrase-file "$YBKEYS/pass" --latest --target "$2/target"
}

YBT2="$REPO/yunbak-t2"
YB_REPL_PID=
yb_can_replicate() { yunbak_on && "$YB/yunbak-agent" replicate --help 2>&1 | grep -q -- --postgresql; }
yunbak_tree_cpu() { if [[ -n $YB_REPL_PID ]]; then tree_cpu "$YB_REPL_PID"; else echo 0; fi; }
yb_repl_ready() { # the replicator's first root is committed
  python3 -c 'import json,sys
for l in open(sys.argv[1]):
    try: e=json.loads(l)
    except ValueError: continue
    if e.get("event")=="root" and e.get("state")=="done": sys.exit(0)
sys.exit(1)' "$1"
}
yunbak_wal_begin() { # ROUND: starts the replicator and waits for its root
  yb_can_replicate || return 0
  local log="$RES/logs/pg_r$1_yunbak_replicate"
  rm -rf "$YBT2" "$S/yunbak-repl-state" "$S/yunbak-repl-stdin"
  mkdir -p "$YBT2"
  mkfifo "$S/yunbak-repl-stdin"
  "$YB/yunbak-agent" replicate --store "$YBT2" --system bench --public-key "$YBKEYS/bench.pub" \
    --state-dir "$S/yunbak-repl-state" --interval "$INTERVAL" --postgresql "bench=$YBCONN" \
    <"$S/yunbak-repl-stdin" >"$log.jsonl" 2>"$log.err" &
  YB_REPL_PID=$!
  exec 8>"$S/yunbak-repl-stdin"
  wait_for 900 "yunbak's replicator's first root" yb_repl_ready "$log.jsonl"
}
yunbak_wal_end() { # ROUND T0_NS T1_NS C0: the replicator's CPU since C0 and its lag over [T0, T1]
  [[ -n $YB_REPL_PID ]] || return 0
  local log="$RES/logs/pg_r$1_yunbak_replicate" c lag
  c=$(yunbak_tree_cpu)
  yunbak_stop
  lag=$(python3 "$HERE/replag.py" yunbak "$log.jsonl" "$2" "$3")
  row "$1" yunbak wal-stream "$(secs "$2" "$3")" "$(awk -v a="$c" -v b="$4" 'BEGIN { print a - b }')" 0 - 0 \
      "$(du_b "$YBT2/bench/segments")" "$(du_b "$YBT2")" - "$(load1)" \
      "the replicator (pg_receivewal included) over the pgbench run: user_s holds its CPU (user+sys), step_bytes its segments"
  python3 - "$lag" <<'PY' | while IFS=$'\t' read -r p99 note; do row "$1" yunbak lag "$p99" 0 0 - 0 - - - "$(load1)" "$note"; done
import json, sys
l = json.loads(sys.argv[1]); rep = l.get("reported") or {}
f = lambda x: "-" if x is None else f"{x:.2f}"
print(f'{rep.get("p99") if rep.get("p99") is not None else "nan"}\twall_s is the p99 of its own lag reports over the pgbench run: '
      f'p50 {f(rep.get("p50"))} s, max {f(rep.get("max"))} s, {rep.get("samples")} reports, {rep.get("unknown")} unknown; '
      f'measured from its segments: p50 {f(l.get("p50"))}, p99 {f(l.get("p99"))}, max {f(l.get("max"))} s')
PY
}
yunbak_stop() {
  [[ -n $YB_REPL_PID ]] || return 0
  exec 8>&-
  wait "$YB_REPL_PID" || echo "!! yunbak-agent replicate exited $?" >&2
  YB_REPL_PID=
}
