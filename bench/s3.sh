#!/usr/bin/env bash
# bench/s3.sh - yunbak's S3 store beside a local directory and restic's S3 backend, on the same
# radosgw in the same run; and a copy to S3 through a 100 Mbit/s link (issue 15).
#
#   ROUNDS=3 bench/s3.sh              # needs root (drop_caches, ip netns, tc)
#   STEPS=backup bench/s3.sh          # only the backups; STEPS=link only the link
#
# Each round starts its own single-node Ceph (tests/integration/ceph-lib.sh: mon, an OSD on
# memstore of CEPH_MEMSTORE_BYTES, default 6 GiB, radosgw) so that what one round stored does not
# fill the next round's memory, then:
#
#   backup  the corpus (../shared/bench/corpus.sh) on a fresh copy: every peer's full backup; the
#           day-1 change (corpus.sh mutate); every peer's incremental. The peers:
#             yunbak-local   yunbak-agent backup to a local directory
#             yunbak-s3      the same backup to s3://ybbench/rN on the radosgw
#             restic-s3      restic 0.14's S3 backend, s3:http://127.0.0.1:PORT/resticbench/rN
#           Before each step: sync, drop_caches, the source read once (source warm, store cold).
#   link    a yunbak snapshot of LINK_SRC (default the corpus's media: about 260 MB, already
#           compressed) in a local store is copied (`yunbak copy`) to S3 through a veth pair into
#           a network namespace, each end's way out shaped by `tc tbf rate TBF_RATE` (100mbit);
#           restic backs up the same directory through the same link beside it. The yunbak and
#           restic clients run in the namespace and reach a second radosgw of the same Ceph on the
#           host's end of the link (radosgw itself must reach the mon and OSD on 127.0.0.1, which
#           a namespace cannot). link_use = bytes / wall / (TBF_RATE / 8), bytes being the
#           snapshot's size for yunbak and what the radosgw received in PUTs for restic;
#           send_link_use = bytes / the seconds `yunbak copy --json` says it sent (its read-back
#           check of what it sent comes after, the other way).
#
# Every step runs under /usr/bin/time -v (wall, CPU user+sys, peak RSS). For S3 steps the
# radosgw's perf counters (its admin socket's `perf dump`) are read before and after: requests
# (req, failed_req, get, put, and the bytes of get and put), and the CPU the radosgw and OSD
# spent (from /proc). Stored bytes: `du -sb` of a local store; the sum of `radosgw-admin bucket
# stats` sizes under the step's prefix for S3 (`s3_prefix_bytes`).
#
# Output: $WORK/results/s3.tsv, logs in $WORK/results/logs/; bench/s3summary.py prints tables.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
SHARED="${SHARED_BENCH:-$ROOT/../shared/bench}"
WORK="${WORK:-/tmp/bench-work}"
BASE="${CORPUS:-$WORK/corpus-base}"
SRC="$WORK/src"
RES="$WORK/results"
S="$WORK/s3"
ROUNDS="${ROUNDS:-1}"
STEPS="${STEPS:-backup link}"
PEERS="${PEERS:-yunbak-local yunbak-s3 restic-s3}"
TBF_RATE="${TBF_RATE:-100mbit}"
LINK_SRC="${LINK_SRC:-$BASE/media}"
export CEPH_MEMSTORE_BYTES="${CEPH_MEMSTORE_BYTES:-6442450944}"
export DEBIAN_FRONTEND=noninteractive

[[ $(id -u) == 0 ]] || { echo "bench/s3.sh: needs root (drop_caches, ip netns, tc)" >&2; exit 1; }
pkgs=()
for p in restic time iproute2 gcc libc6-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || pkgs+=("$p")
done
if ((${#pkgs[@]})); then apt-get update -qq; apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null; fi
sh "$ROOT/scripts/install-deps.sh"
cmake -S "$ROOT" -B "$ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release -DYB_TESTS=OFF -DYB_SANITIZE= \
      -DYB_FAULT_INJECTION=OFF >/dev/null
cmake --build "$ROOT/build-bench" -j "$(nproc)" >/dev/null
YB="$ROOT/build-bench"
[[ -f "$BASE/.complete" || -n "${CORPUS:-}" ]] || "$SHARED/corpus.sh" build
mkdir -p "$WORK/bin" "$RES/logs" "$S"
[[ -x "$WORK/bin/readall" ]] || gcc -O2 -o "$WORK/bin/readall" "$SHARED/limits/readall.c"

KEYS="$S/keys"
export YUNBAK_PASSPHRASE_FILE="$KEYS/pass" RESTIC_PASSWORD=bench-password
TSV="$RES/s3.tsv"
[[ -f "$TSV" && "${APPEND:-0}" != 1 ]] && mv "$TSV" "$TSV.$(date +%Y%m%d-%H%M%S)"
[[ -f "$TSV" ]] || printf 'ts\tround\tpeer\tstep\twall_s\tuser_s\tsys_s\tmaxrss_kib\texit\tstored_bytes\treq\tfailed_req\tget\tput\tget_b\tput_b\tserver_cpu_s\tbytes\tlink_use\tsend_s\tsend_link_use\n' >"$TSV"

# --- Ceph and the link -----------------------------------------------------------------------
. "$HERE/lib-sshd.sh" # bench_netns_up, bench_cleanup
die() { echo "bench/s3.sh: $*" >&2; exit 1; }
TEST_NAME=bench/s3.sh
CEPH_PIDS=
cleanup() {
  set +e
  [[ -n $CEPH_PIDS ]] && ceph_finish
  bench_cleanup
}
trap cleanup EXIT

# A fresh Ceph in $S/ceph: S3_ENDPOINT, S3_ACCESS, S3_SECRET, S3_CREDS, CEPH_PIDS and ceph-lib.sh's
# functions. Sourced from this (the main) shell: the daemons are its children.
ceph_up() {
  [[ -n $CEPH_PIDS ]] && ceph_finish
  CEPH_DIR="$S/ceph"
  rm -rf "$CEPH_DIR"
  mkdir -p "$CEPH_DIR"
  . "$ROOT/tests/integration/ceph-lib.sh"
  RGW_ASOK="$CEPH_DIR/run/client.rgw.asok"
  export AWS_ACCESS_KEY_ID="$S3_ACCESS" AWS_SECRET_ACCESS_KEY="$S3_SECRET"
}

# A second radosgw of the same Ceph, on the host's end of the link (LINK_HOST:LINK_PORT).
rgw_on_link() {
  LINK_PORT=$(ceph_free_port)
  mkdir -p "$CEPH_DIR/rgw-link"
  # In the foreground as our child, ended with us (as ceph-lib.sh runs its daemons).
  setpriv --pdeathsig KILL radosgw -f -c "$CEPH_CONF" -n client.rgw.link \
    --rgw-frontends "beast endpoint=$LINK_HOST:$LINK_PORT" --rgw-data "$CEPH_DIR/rgw-link" \
    --rgw-dns-name localhost --rgw-enable-usage-log false >"$CEPH_DIR/log/client.rgw.link.out" 2>&1 &
  CEPH_PIDS="$CEPH_PIDS $!"
  local i
  for i in $(seq 1 1200); do
    curl -s -o /dev/null --max-time 2 "http://$LINK_HOST:$LINK_PORT/" && return 0
    sleep 0.05
  done
  die "the second radosgw does not answer on http://$LINK_HOST:$LINK_PORT/: see $CEPH_DIR/log/client.rgw.link.log"
}

# The CPU (user+sys, seconds) the Ceph daemons have spent so far.
server_cpu() {
  local p t=0 tck
  tck=$(getconf CLK_TCK)
  for p in $CEPH_PIDS; do
    [[ -r /proc/$p/stat ]] || continue
    t=$((t + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat")))
  done
  awk -v t="$t" -v h="$tck" 'BEGIN { printf "%.2f", t / h }'
}
# The radosgw's request counters: "req failed_req get put get_b put_b" (ASOK: which radosgw).
rgw_counters() {
  ceph --admin-daemon "${1:-$RGW_ASOK}" perf dump rgw | python3 -c 'import json,sys
r = json.load(sys.stdin)["rgw"]
print(*(r[k] for k in ("req", "failed_req", "get", "put", "get_b", "put_b")))'
}
# The bytes and objects stored under s3://BUCKET/PREFIX (objects listed by radosgw-admin).
s3_prefix_bytes() { # BUCKET PREFIX
  s3_admin bucket list --bucket="$1" --max-entries=10000000 2>/dev/null | python3 -c 'import json,sys
p = sys.argv[1]
objs = [o for o in json.load(sys.stdin) if o["name"].startswith(p)]
print(sum(o["meta"]["size"] for o in objs), len(objs))' "$2"
}

drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
# tstep ROUND PEER STEP STORED WARM ASOK BYTES RATE_BPS -- cmd...
#   STORED: a local path (du -sb), s3://BUCKET/PREFIX, or "" ; WARM: warm|cold (read the source
#   first); ASOK: the radosgw whose counters to read, or "-"; BYTES/RATE_BPS: for link_use, or -
#   (BYTES "put_b": the bytes the radosgw received in PUTs during the step).
tstep() {
  local round=$1 peer=$2 step=$3 stored=$4 warm=$5 asok=$6 bytes=$7 rate=$8; shift 9
  local log="$RES/logs/s3_r${round}_${peer}_${step}" rc=0 c0="- - - - - -" c1="- - - - - -"
  local cpu0=- cpu1=- sb=""
  drop
  [[ $warm == warm ]] && "$WORK/bin/readall" "$SRC" >/dev/null
  if [[ $asok != - ]]; then c0=$(rgw_counters "$asok"); cpu0=$(server_cpu); fi
  /usr/bin/time -v -o "$log.time" "$@" >"$log.out" 2>&1 || rc=$?
  if [[ $asok != - ]]; then c1=$(rgw_counters "$asok"); cpu1=$(server_cpu); fi
  # yunbak copy --json says how long it sent (send_seconds); its read-back check comes after.
  local send
  send=$(python3 -c 'import json,sys
try: print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])["send_seconds"])
except Exception: print("-")' "$log.out")
  case $stored in
    s3://*) local b=${stored#s3://}; sb=$(s3_prefix_bytes "${b%%/*}" "${b#*/}/" | cut -d' ' -f1) ;;
    "") ;;
    *) [[ -e $stored ]] && sb=$(du -sb "$stored" | cut -f1) ;;
  esac
  awk -v ts="$(date -u +%FT%TZ)" -v r="$round" -v p="$peer" -v s="$step" -v rc="$rc" -v sb="$sb" \
      -v c0="$c0" -v c1="$c1" -v cpu0="$cpu0" -v cpu1="$cpu1" -v b="$bytes" -v rate="$rate" -v send="$send" -F': ' '
    /Elapsed \(wall clock\)/ { n=split($2,a,":"); w=0; for(i=1;i<=n;i++) w=w*60+a[i] }
    /User time/ {u=$2} /System time/ {y=$2} /Maximum resident set size/ {m=$2}
    END {
      split(c0, x, " "); split(c1, z, " "); d = "";
      for (i = 1; i <= 6; i++) d = d "\t" (x[i] == "-" ? "-" : z[i] - x[i]);
      if (b == "put_b") b = x[6] == "-" ? "-" : z[6] - x[6];
      scpu = cpu0 == "-" ? "-" : sprintf("%.2f", cpu1 - cpu0);
      use = (rate == "-" || b == "-" || w == 0) ? "-" : sprintf("%.3f", b / w / rate);
      suse = (use == "-" || send == "-" || send == 0) ? "-" : sprintf("%.3f", b / send / rate);
      printf "%s\t%s\t%s\t%s\t%.2f\t%.2f\t%.2f\t%s\t%s\t%s%s\t%s\t%s\t%s\t%s\t%s\n",
             ts,r,p,s,w,u,y,m,rc,sb,d,scpu,b,use,send,suse }' "$log.time" | tee -a "$TSV"
  if ((rc != 0 && rc != 3)); then echo "!! $peer $step exited $rc; see $log.out" >&2; tail -5 "$log.out" >&2; fi
}

# --- The steps ---------------------------------------------------------------------------------
yb_keys() {
  rm -rf "$KEYS"; mkdir -p "$KEYS"
  echo bench-password >"$KEYS/pass"
  "$YB/yunbak" key init --system bench --out "$KEYS" --kdf interactive >/dev/null
}
s3_env() { # ENDPOINT: yunbak's S3 settings for the test's radosgw (the environment
  # variables yunbak reads when no --s3-* option is given)
  echo "YUNBAK_S3_ENDPOINT=$1" "YUNBAK_S3_CREDENTIALS=$S3_CREDS" YUNBAK_S3_REGION=default
}
# /usr/bin/time runs programs: the command lines as words (no path here has a space).
yb_backup() { # PEER ROUND LEVEL
  local store=$S/local/r$2 senv=
  [[ $1 == yunbak-s3 ]] && { store=s3://ybbench/r$2; senv=$(s3_env "$S3_ENDPOINT"); }
  echo env "YUNBAK_AGENT_STATE_DIR=$S/state-$1" $senv "$YB/yunbak-agent" backup --store "$store" \
    --system bench --public-key "$KEYS/bench.pub" --level "$3" "$SRC"
}
stored_of() { # PEER ROUND
  case $1 in
    yunbak-local) echo "$S/local/r$2" ;;
    yunbak-s3) echo "s3://ybbench/r$2" ;;
    restic-s3) echo "s3://resticbench/r$2" ;;
  esac
}
asok_of() { case $1 in *-s3) echo "$RGW_ASOK" ;; *) echo - ;; esac; }
backup_step() { # ROUND PEER full|incr
  local r=$1 p=$2 what=$3 level
  [[ $what == full ]] && level=full || level=incremental
  case $p in
    yunbak-*)
      if [[ $what == full ]]; then
        rm -rf "$S/state-$p"
        [[ $p == yunbak-local ]] && { rm -rf "$S/local/r$r"; mkdir -p "$S/local/r$r"; }
      fi
      tstep "$r" "$p" "$what" "$(stored_of "$p" "$r")" warm "$(asok_of "$p")" - - -- \
        $(yb_backup "$p" "$r" "$level") ;;
    restic-s3)
      local repo="s3:$S3_ENDPOINT/resticbench/r$r"
      export RESTIC_CACHE_DIR="$S/restic-cache"
      if [[ $what == full ]]; then
        rm -rf "$RESTIC_CACHE_DIR"
        tstep "$r" "$p" init "" cold "$RGW_ASOK" - - -- restic -r "$repo" init --repository-version 2
      fi
      tstep "$r" "$p" "$what" "$(stored_of "$p" "$r")" warm "$RGW_ASOK" - - -- restic -r "$repo" backup "$SRC" ;;
  esac
}

backup_round() { # ROUND
  local r=$1 n i order=() p
  read -r -a peers <<<"$PEERS"
  n=${#peers[@]}
  for ((i = 0; i < n; i++)); do order+=("${peers[$(((i + r - 1) % n))]}"); done
  echo "== round $r backup: ${order[*]}"
  s3_bucket ybbench 2>/dev/null || true
  s3_bucket resticbench 2>/dev/null || true
  rm -rf "$SRC"; cp -a "$BASE" "$SRC"; rm -f "$SRC/.complete" "$SRC/MANIFEST" "$SRC/PACKAGES"
  yb_keys
  for p in "${order[@]}"; do backup_step "$r" "$p" full; done
  "$SHARED/corpus.sh" mutate "$SRC" >/dev/null
  for p in "${order[@]}"; do backup_step "$r" "$p" incr; done
}

LINK_NS=ybs3link$$ LINK_HOST=10.251.0.1 LINK_PEER_ADDR=10.251.0.2
link_round() { # ROUND
  local r=$1 rate ns_dev=ybl$$b
  echo "== round $r link ($TBF_RATE)"
  if [[ -z $BENCH_NS ]]; then
    bench_netns_up "$LINK_NS" ybl$$a "$ns_dev" "$TBF_RATE"
    ip netns exec "$LINK_NS" tc qdisc add dev "$ns_dev" root tbf rate "$TBF_RATE" burst 256kb latency 50ms
  fi
  rgw_on_link
  rate=$(python3 -c "import re; m=re.fullmatch(r'(\d+)(k|m|g)bit','$TBF_RATE'); print(int(m[1])*{'k':1e3,'m':1e6,'g':1e9}[m[2]]/8)")
  s3_bucket ybbench 2>/dev/null || true
  s3_bucket resticbench 2>/dev/null || true
  # The snapshot to copy, in a local store.
  local LOCAL="$S/link-local" snap bytes ep="http://$LINK_HOST:$LINK_PORT"
  rm -rf "$LOCAL" "$S/state-link"; mkdir -p "$LOCAL"
  yb_keys
  YUNBAK_AGENT_STATE_DIR="$S/state-link" "$YB/yunbak-agent" backup --store "$LOCAL" --system bench \
    --public-key "$KEYS/bench.pub" --level full "$LINK_SRC" >/dev/null
  snap=$(ls "$LOCAL/bench/snapshots" | sort | tail -1)
  bytes=$(du -sb "$LOCAL/bench/snapshots/$snap" | cut -f1)
  echo "link: snapshot $snap of $LINK_SRC, $bytes bytes" >&2
  local asok="$CEPH_DIR/run/client.rgw.link.asok"
  tstep "$r" yunbak link-copy "s3://ybbench/link$r" cold "$asok" "$bytes" "$rate" -- \
    ip netns exec "$LINK_NS" env $(s3_env "$ep") "$YB/yunbak" copy --store "$LOCAL" \
    --to "s3://ybbench/link$r" --system bench --snapshot "$snap" --json
  export RESTIC_CACHE_DIR="$S/restic-cache-link"
  rm -rf "$RESTIC_CACHE_DIR"
  ip netns exec "$LINK_NS" restic -r "s3:$ep/resticbench/link$r" init --repository-version 2 >/dev/null
  tstep "$r" restic link-backup "s3://resticbench/link$r" cold "$asok" put_b "$rate" -- \
    ip netns exec "$LINK_NS" restic -r "s3:$ep/resticbench/link$r" backup "$LINK_SRC"
}

{ echo "# $(date -u +%FT%TZ) bench/s3.sh rounds=$ROUNDS steps=[$STEPS] peers=[$PEERS] commit=$(git -C "$ROOT" describe --always --dirty)"
  echo "#   restic: $(restic version)"; echo "#   radosgw: $(radosgw --version 2>/dev/null | head -1)"
  echo "#   corpus: $(head -1 "$BASE/MANIFEST" 2>/dev/null); link: $LINK_SRC at $TBF_RATE"; } | tee -a "$RES/s3.meta"
for ((r = 1; r <= ROUNDS; r++)); do
  ceph_up
  for st in $STEPS; do
    case $st in
      backup) backup_round "$r" ;;
      link) link_round "$r" ;;
      *) die "unknown step $st (backup, link)" ;;
    esac
  done
done
ceph_finish
python3 "$HERE/s3summary.py" "$TSV"
