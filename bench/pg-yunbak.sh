# bench/pg-yunbak.sh - sourced by bench/pg.sh: yunbak's steps in the PostgreSQL benchmark (the
# same functions as pg.sh's pgbackrest_* and barman_*). Each is a no-op when yunbak is not among
# the peers.
yunbak_on() { [[ " $PEERS " == *" yunbak "* ]]; }
yunbak_setup() { echo "bench/pg.sh: yunbak's PostgreSQL steps are not written yet" >&2; return 1; }
yunbak_archive_line() { :; }
yunbak_tree_cpu() { echo 0; }
yunbak_wal_begin() { :; }
yunbak_wal_end() { :; }
yunbak_stop() { :; }
