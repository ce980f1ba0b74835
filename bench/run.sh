#!/usr/bin/env bash
# bench/run.sh - yunbak beside restic and Borg on the shared corpus, in one run.
#
#   bench/run.sh                      # ROUNDS=1, PEERS="yunbak restic borg"
#   ROUNDS=3 bench/run.sh
#
# Same method as ../shared/bench/peers.sh, so figures compare with shared/bench/RESULTS.md: per
# round a fresh copy of the corpus; every peer makes a full backup; the day-1 mutation
# (corpus.sh mutate); every peer makes an incremental; yunbak also makes an incremental with
# nothing changed; every peer restores the latest backup (checked against the source with
# diff -r in round 1) and runs its own verification. Before each timed step: sync and
# drop_caches; backup steps pre-read the source (source warm, repository cold). Each step runs
# under /usr/bin/time -v (wall, CPU, peak RSS); stored bytes are `du -sb` of the repository.
#
# Output: $WORK/results/bench.tsv, logs in $WORK/results/logs/; bench/summary.py prints tables.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
SHARED="${SHARED_BENCH:-$ROOT/../shared/bench}"
WORK="${WORK:-/tmp/bench-work}"
BASE="${CORPUS:-$WORK/corpus-base}"
SRC="$WORK/src"
REPOS="$WORK/repos"
RESTORE="$WORK/restore"
CACHE="$WORK/cache"
RES="$WORK/results"
ROUNDS="${ROUNDS:-1}"
PEERS="${PEERS:-yunbak restic borg}"
export DEBIAN_FRONTEND=noninteractive

pkgs=()
for p in restic borgbackup time diffutils gcc libc6-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || pkgs+=("$p")
done
if ((${#pkgs[@]})); then apt-get update -qq; apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null; fi
sh "$ROOT/scripts/install-deps.sh"
cmake -S "$ROOT" -B "$ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release -DYB_TESTS=OFF -DYB_SANITIZE= \
      -DYB_FAULT_INJECTION=OFF >/dev/null
cmake --build "$ROOT/build-bench" -j "$(nproc)" >/dev/null
YB="$ROOT/build-bench"
[[ -f "$BASE/.complete" || -n "${CORPUS:-}" ]] || "$SHARED/corpus.sh" build
mkdir -p "$WORK/bin" "$RES/logs"
[[ -x "$WORK/bin/readall" ]] || gcc -O2 -o "$WORK/bin/readall" "$SHARED/limits/readall.c"

export RESTIC_PASSWORD=bench-password RESTIC_CACHE_DIR="$CACHE/restic"
export BORG_PASSPHRASE=bench-password BORG_BASE_DIR="$CACHE/borg"
export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
KEYS="$WORK/yunbak-keys"
export YUNBAK_PASSPHRASE_FILE="$KEYS/pass" YUNBAK_AGENT_STATE_DIR="$CACHE/yunbak-agent"

TSV="$RES/bench.tsv"
[[ -f "$TSV" && "${APPEND:-0}" != 1 ]] && mv "$TSV" "$TSV.$(date +%Y%m%d-%H%M%S)"
[[ -f "$TSV" ]] || printf 'ts\tround\tpeer\tstep\twall_s\tuser_s\tsys_s\tmaxrss_kib\texit\tsync_s\tstored_bytes\n' >"$TSV"
drop() { sync; if [[ -w /proc/sys/vm/drop_caches ]]; then echo 3 >/proc/sys/vm/drop_caches; fi; }
tstep() { # ROUND PEER STEP STOREDPATH warm|cold -- cmd...
  local round=$1 peer=$2 step=$3 stored=$4 warm=$5; shift 6
  local log="$RES/logs/r${round}_${peer}_${step}" rc=0 s0 s1 bytes=""
  drop
  [[ $warm == warm ]] && "$WORK/bin/readall" "$SRC" >/dev/null
  /usr/bin/time -v -o "$log.time" "$@" >"$log.out" 2>&1 || rc=$?
  s0=$(date +%s.%N); sync; s1=$(date +%s.%N)
  [[ -n "$stored" && -e "$stored" ]] && bytes=$(du -sb "$stored" | cut -f1)
  awk -v ts="$(date -u +%FT%TZ)" -v r="$round" -v p="$peer" -v s="$step" -v rc="$rc" \
      -v sy="$(awk -v a="$s0" -v b="$s1" 'BEGIN{print b-a}')" -v b="$bytes" -F': ' '
    /Elapsed \(wall clock\)/ { n=split($2,a,":"); w=0; for(i=1;i<=n;i++) w=w*60+a[i] }
    /User time/ {u=$2} /System time/ {y=$2} /Maximum resident set size/ {m=$2}
    END { printf "%s\t%s\t%s\t%s\t%.2f\t%.2f\t%.2f\t%s\t%s\t%.2f\t%s\n", ts,r,p,s,w,u,y,m,rc,sy,b }' \
      "$log.time" | tee -a "$TSV"
  if ((rc != 0 && rc != 3)); then echo "!! $peer $step exited $rc; see $log.out" >&2; tail -5 "$log.out" >&2; fi
}

# /usr/bin/time runs programs, not shell functions: the agent's command line as an array.
yb_backup() { echo "$YB/yunbak-agent" backup --store "$REPOS/yunbak" --system bench \
                --public-key "$KEYS/bench.pub" --level "$1" "$SRC"; }
full() {
  local r=$1 p=$2 R="$REPOS/$2"
  case $p in
    yunbak)
      rm -rf "$KEYS" "$CACHE/yunbak-agent"; mkdir -p "$KEYS" "$R"
      echo bench-password >"$KEYS/pass"
      "$YB/yunbak" key init --system bench --out "$KEYS" --kdf interactive >/dev/null
      tstep "$r" "$p" full "$R" warm -- $(yb_backup full) ;;
    restic)
      tstep "$r" "$p" init "" cold -- restic init --repo "$R" --repository-version 2
      tstep "$r" "$p" full "$R" warm -- restic backup --repo "$R" "$SRC" ;;
    borg)
      tstep "$r" "$p" init "" cold -- borg init -e repokey "$R"
      tstep "$r" "$p" full "$R" warm -- borg create --compression zstd,3 "$R::day0" "$SRC" ;;
  esac
}
incr() {
  local r=$1 p=$2 R="$REPOS/$2"
  case $p in
    yunbak) tstep "$r" "$p" incr "$R" warm -- $(yb_backup incremental) ;;
    restic) tstep "$r" "$p" incr "$R" warm -- restic backup --repo "$R" "$SRC" ;;
    borg) tstep "$r" "$p" incr "$R" warm -- borg create --compression zstd,3 "$R::day1" "$SRC" ;;
  esac
}
restore_root() { case $1 in yunbak) echo "$RESTORE/$1/src" ;; *) echo "$RESTORE/$1$SRC" ;; esac; }
restore_and_check() {
  local r=$1 p=$2 R="$REPOS/$2" T="$RESTORE/$2"
  rm -rf "$T"; mkdir -p "$T"
  case $p in
    yunbak)
      tstep "$r" "$p" restore "" cold -- "$YB/yunbak" restore --store "$R" --system bench \
            --key "$KEYS/bench.key" --target "$T"
      tstep "$r" "$p" check "" cold -- "$YB/yunbak" verify --store "$R" --system bench \
            --deep --key "$KEYS/bench.key" ;;
    restic)
      tstep "$r" "$p" restore "" cold -- restic restore latest --repo "$R" --target "$T"
      tstep "$r" "$p" check "" cold -- restic check --read-data --repo "$R" ;;
    borg)
      tstep "$r" "$p" restore "" cold -- bash -c 'cd "$1" && exec borg extract "$2::day1"' _ "$T" "$R"
      tstep "$r" "$p" check "" cold -- borg check --verify-data "$R" ;;
  esac
  if [[ $r == 1 ]]; then
    if diff -r --no-dereference -q "$SRC" "$(restore_root "$p")" >"$RES/logs/r${r}_${p}_restore.diff" 2>&1; then
      echo "[verify] $p restore identical to source"
    else
      echo "[verify] $p restore DIFFERS: see $RES/logs/r${r}_${p}_restore.diff"
    fi
  fi
  rm -rf "$T"
}

{ echo "# $(date -u +%FT%TZ) bench/run.sh rounds=$ROUNDS peers=[$PEERS] commit=$(git -C "$ROOT" rev-parse --short HEAD)"
  echo "#   restic: $(restic version)"; echo "#   borg: $(borg --version)"
  echo "#   corpus: $(head -1 "$BASE/MANIFEST" 2>/dev/null)"; } | tee -a "$RES/bench.meta"
read -r -a peers <<<"$PEERS"
for ((r = 1; r <= ROUNDS; r++)); do
  n=${#peers[@]}; order=()
  for ((i = 0; i < n; i++)); do order+=("${peers[$(((i + r - 1) % n))]}"); done
  echo "== round $r: ${order[*]}"
  rm -rf "$SRC" "$REPOS" "$RESTORE" "$CACHE"; mkdir -p "$REPOS" "$RESTORE" "$CACHE"
  cp -a "$BASE" "$SRC"; rm -f "$SRC/.complete" "$SRC/MANIFEST" "$SRC/PACKAGES"
  for p in "${order[@]}"; do full "$r" "$p"; done
  "$SHARED/corpus.sh" mutate "$SRC" >/dev/null
  for p in "${order[@]}"; do incr "$r" "$p"; done
  [[ " ${order[*]} " == *" yunbak "* ]] && tstep "$r" yunbak incr-nochange "$REPOS/yunbak" warm -- $(yb_backup incremental)
  for p in "${order[@]}"; do restore_and_check "$r" "$p"; done
done
python3 "$HERE/summary.py" "$TSV"
