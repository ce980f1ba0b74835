# bench/pg-yunbak.sh - sourced by bench/pg.sh: yunbak's steps in the PostgreSQL benchmark, the
# counterparts of pg.sh's pgbackrest_* and barman_* (each a no-op when yunbak is not a peer).
#
# Everything runs as the server's user, as a tier-1 system without tier 2 would (postgresql.md,
# "WAL archive without tier 2"): the agent's physical base backups (`yunbak-agent backup
# --postgresql bench=CONNINFO`, full then incremental) and `yunbak-agent wal-archive` as
# archive_command write one local store; the restore is `yunbak restore --latest`. Defaults
# throughout (zstd level 3).
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
  tstep "$1" yunbak restore postgres - "the newest point: the incremental's base and its WAL chain" -- \
        "$YB/yunbak" restore --store "$YBR" --system bench --key "$YBKEYS/bench.key" \
        --passphrase-file "$YBKEYS/pass" --target "$2/target"
}
yunbak_tree_cpu() { echo 0; }
yunbak_wal_begin() { :; }
yunbak_wal_end() { :; }
yunbak_stop() { :; }
