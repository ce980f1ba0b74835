#!/usr/bin/env bash
# bench/sftp.sh - yunbak's SFTP store and off-site copy beside OpenSSH's sftp and rsync -e ssh,
# on the shared corpus, in one run (issue 10).
#
#   ROUNDS=3 bench/sftp.sh            # needs root (sshd, a network namespace, tc)
#
# Per round, from a full and an incremental yunbak snapshot of the corpus in a local store:
#   lo-*   over loopback to an sshd on 127.0.0.1
#   tbf-*  over a veth pair into a network namespace whose sshd is reached through a tc tbf
#          of TBF_RATE (default 100mbit) on the way out; link use = bytes / wall / rate
# (the namespace shares our mounts, so both servers write to the same REMOTE directory)
# the steps, each to a fresh directory on the server, as root with the same key:
#   copy-full, copy-incr   `yunbak copy` of the full, then of the incremental (its chain is there)
#   sftp-full              OpenSSH `sftp -b` put -r of the full snapshot's directory
#   rsync-full             `rsync -a -e ssh` of the same directory
# and, over loopback only, the agent's backup of the corpus to the SFTP store beside the same
# backup to a local directory (backup-sftp, backup-local). Before each step: sync, drop_caches.
#
# Output: $WORK/results/sftp.tsv (the columns of bench.tsv plus bytes, link use over the wall time,
# and for yunbak copy the seconds it sent and the link's use over them), logs in
# $WORK/results/logs/.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
SHARED="${SHARED_BENCH:-$ROOT/../shared/bench}"
WORK="${WORK:-/tmp/bench-work}"
BASE="${CORPUS:-$WORK/corpus-base}"
SRC="$WORK/src"
RES="$WORK/results"
S="$WORK/sftp"
ROUNDS="${ROUNDS:-1}"
TBF_RATE="${TBF_RATE:-100mbit}"
STEPS="${STEPS:-lo tbf backup}"
export DEBIAN_FRONTEND=noninteractive

[[ $(id -u) == 0 ]] || { echo "bench/sftp.sh: needs root (sshd, ip netns, tc)" >&2; exit 1; }
pkgs=()
for p in time rsync openssh-server openssh-client iproute2 gcc libc6-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || pkgs+=("$p")
done
if ((${#pkgs[@]})); then apt-get update -qq; apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null; fi
sh "$ROOT/scripts/install-deps.sh"
cmake -S "$ROOT" -B "$ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release -DYB_TESTS=OFF -DYB_SANITIZE= \
      -DYB_FAULT_INJECTION=OFF >/dev/null
cmake --build "$ROOT/build-bench" -j "$(nproc)" >/dev/null
YB="$ROOT/build-bench"
[[ -f "$BASE/.complete" || -n "${CORPUS:-}" ]] || "$SHARED/corpus.sh" build
mkdir -p "$RES/logs" "$S"

KEYS="$S/keys"
export YUNBAK_PASSPHRASE_FILE="$KEYS/pass" YUNBAK_AGENT_STATE_DIR="$S/agent-state"
TSV="$RES/sftp.tsv"
[[ -f "$TSV" && "${APPEND:-0}" != 1 ]] && mv "$TSV" "$TSV.$(date +%Y%m%d-%H%M%S)"
[[ -f "$TSV" ]] || printf 'ts\tround\tpeer\tstep\twall_s\tuser_s\tsys_s\tmaxrss_kib\texit\tbytes\tlink_use\tsend_s\tsend_link_use\n' >"$TSV"

# --- Two sshd: on loopback, and in a namespace behind tbf --------------------------------------
. "$HERE/lib-sshd.sh"
trap bench_cleanup EXIT
BENCH_SSH="$S/ssh"
bench_ssh_keys
LO_ADDR=127.0.0.1 LO_PORT=2322
bench_sshd_on $LO_ADDR $LO_PORT
bench_netns_up ybbench$$ ybb$$a ybb$$b "$TBF_RATE"
TBF_ADDR=10.251.0.2 TBF_PORT=22
bench_sshd_on $TBF_ADDR $TBF_PORT ybbench$$
bench_known_hosts "$LO_ADDR $LO_PORT" "$TBF_ADDR $TBF_PORT"
SSHO=("${BENCH_SSHO[@]}")
RATE_BPS=$(python3 -c "import re,sys; m=re.fullmatch(r'(\d+)(k|m|g)bit','$TBF_RATE'); print(int(m[1])*{'k':1e3,'m':1e6,'g':1e9}[m[2]]/8)")

drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
tstep() { # ROUND PEER STEP BYTES RATE_BPS|- -- cmd...
  local round=$1 peer=$2 step=$3 bytes=$4 rate=$5; shift 6
  local log="$RES/logs/sftp_r${round}_${peer}_${step}" rc=0
  drop
  /usr/bin/time -v -o "$log.time" "$@" >"$log.out" 2>&1 || rc=$?
  # yunbak copy --json says how long it sent (send_seconds); the read-back check after it goes
  # the other way, so the link's use while sending is bytes / send_seconds.
  local send
  send=$(python3 -c 'import json,sys
try: print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])["send_seconds"])
except Exception: print("-")' "$log.out")
  awk -v ts="$(date -u +%FT%TZ)" -v r="$round" -v p="$peer" -v s="$step" -v rc="$rc" \
      -v b="$bytes" -v rate="$rate" -v send="$send" -F': ' '
    /Elapsed \(wall clock\)/ { n=split($2,a,":"); w=0; for(i=1;i<=n;i++) w=w*60+a[i] }
    /User time/ {u=$2} /System time/ {y=$2} /Maximum resident set size/ {m=$2}
    END { use = (rate == "-" || w == 0) ? "-" : sprintf("%.3f", b / w / rate);
          suse = (rate == "-" || send == "-" || send == 0) ? "-" : sprintf("%.3f", b / send / rate);
          printf "%s\t%s\t%s\t%s\t%.2f\t%.2f\t%.2f\t%s\t%s\t%s\t%s\t%s\t%s\n", ts,r,p,s,w,u,y,m,rc,b,use,send,suse }' \
      "$log.time" | tee -a "$TSV"
  if ((rc != 0)); then echo "!! $peer $step exited $rc; see $log.out" >&2; tail -5 "$log.out" >&2; fi
}

# --- The snapshots to copy: a full and an incremental of the corpus ----------------------------
LOCAL="$S/local"
rm -rf "$SRC" "$LOCAL" "$KEYS" "$S/agent-state"; mkdir -p "$LOCAL" "$KEYS"
cp -a "$BASE" "$SRC"
echo bench-password >"$KEYS/pass"
"$YB/yunbak" key init --system bench --out "$KEYS" --kdf interactive >/dev/null
backup() { "$YB/yunbak-agent" backup --store "$1" --system bench --public-key "$KEYS/bench.pub" \
             --level "$2" "${@:3}" "$SRC"; }
backup "$LOCAL" full >/dev/null
FULL=$(ls "$LOCAL/bench/snapshots" | sort | tail -1)
"$SHARED/corpus.sh" mutate "$SRC" >/dev/null
backup "$LOCAL" incremental >/dev/null
INCR=$(ls "$LOCAL/bench/snapshots" | sort | tail -1)
FULL_BYTES=$(du -sb "$LOCAL/bench/snapshots/$FULL" | cut -f1)
INCR_BYTES=$(du -sb "$LOCAL/bench/snapshots/$INCR" | cut -f1)
echo "full $FULL: $FULL_BYTES bytes; incremental $INCR: $INCR_BYTES bytes" >&2

REMOTE=/srv/yunbak-bench
for r in $(seq 1 "$ROUNDS"); do
  for where in $STEPS; do
    case $where in
      lo) addr=$LO_ADDR port=$LO_PORT rate=- ;;
      tbf) addr=$TBF_ADDR port=$TBF_PORT rate=$RATE_BPS ;;
      backup)
        rm -rf "$REMOTE" "$S/backup-local"; mkdir -p "$REMOTE" "$S/backup-local"
        rm -rf "$S/agent-state"
        tstep "$r" yunbak backup-local 0 - -- "$YB/yunbak-agent" backup --store "$S/backup-local" \
          --system bench --public-key "$KEYS/bench.pub" --level full "$SRC"
        rm -rf "$S/agent-state"
        tstep "$r" yunbak backup-sftp 0 - -- "$YB/yunbak-agent" backup \
          --store "sftp://root@$LO_ADDR:$LO_PORT$REMOTE" --ssh-key "$S/ssh/client_key" \
          --known-hosts "$S/ssh/known_hosts" --system bench --public-key "$KEYS/bench.pub" \
          --level full "$SRC"
        continue ;;
    esac
    url="sftp://root@$addr:$port$REMOTE"
    rm -rf "$REMOTE"; mkdir -p "$REMOTE"
    tstep "$r" yunbak "$where-copy-full" "$FULL_BYTES" "$rate" -- "$YB/yunbak" copy --store "$LOCAL" \
      --to "$url" --ssh-key "$S/ssh/client_key" --known-hosts "$S/ssh/known_hosts" \
      --system bench --snapshot "$FULL" --json
    tstep "$r" yunbak "$where-copy-incr" "$INCR_BYTES" "$rate" -- "$YB/yunbak" copy --store "$LOCAL" \
      --to "$url" --ssh-key "$S/ssh/client_key" --known-hosts "$S/ssh/known_hosts" \
      --system bench --snapshot "$INCR" --json
    rm -rf "$REMOTE"; mkdir -p "$REMOTE"
    printf 'put -r %s %s/\n' "$LOCAL/bench/snapshots/$FULL" "$REMOTE" >"$S/sftp.batch"
    tstep "$r" sftp "$where-copy-full" "$FULL_BYTES" "$rate" -- sftp -q "${SSHO[@]}" -P "$port" \
      -b "$S/sftp.batch" "root@$addr"
    rm -rf "$REMOTE"; mkdir -p "$REMOTE"
    tstep "$r" rsync "$where-copy-full" "$FULL_BYTES" "$rate" -- rsync -a \
      -e "ssh ${SSHO[*]} -p $port" "$LOCAL/bench/snapshots/$FULL" "root@$addr:$REMOTE/"
  done
done
rm -rf "$REMOTE"
