#!/usr/bin/env bash
# bench/replicate.sh - tier-2 replication (issue 11): yunbak-agent replicate beside lsyncd (rsync
# over ssh, with its default delay and with delay = 1) on the same workload, in one run.
#
#   ROUNDS=3 DURATION=600 bench/replicate.sh       # needs root (sshd, a network namespace)
#
# Per round and peer: a fresh tree (bench/workload.py prep: 4 x 256 MiB database-like files and
# 10,000 small files), replicated to an SFTP/ssh server in a network namespace over a veth pair;
# once the peer's first copy is there, DURATION seconds of workload (200 file operations and
# 5 MB of 8 KiB page rewrites a second, a canary every 100 ms), then until the replica holds the
# last change. Measured (bench/replag.py): the lag each 100 ms (p50, p99, max), the peer's CPU
# seconds over the workload (children included: lsyncd's rsync and ssh once reaped) as cores, its
# peak RSS (VmHWM: the process itself), and the bytes that crossed the link per byte written.
#
# Output: $WORK/results/replicate.tsv, logs in $WORK/results/logs/.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
WORK="${WORK:-/tmp/bench-work}"
RES="$WORK/results"
S="$WORK/replicate"
ROUNDS="${ROUNDS:-1}"
DURATION="${DURATION:-600}"
PEERS="${PEERS:-yunbak lsyncd-default lsyncd-delay1}"
INTERVAL="${INTERVAL:-2s}"
CATCHUP="${CATCHUP:-120}"
export DEBIAN_FRONTEND=noninteractive

[[ $(id -u) == 0 ]] || { echo "bench/replicate.sh: needs root (sshd, ip netns)" >&2; exit 1; }
pkgs=()
for p in lsyncd rsync openssh-server openssh-client iproute2 python3; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || pkgs+=("$p")
done
if ((${#pkgs[@]})); then apt-get update -qq; apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null; fi
sh "$ROOT/scripts/install-deps.sh"
cmake -S "$ROOT" -B "$ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release -DYB_TESTS=OFF -DYB_SANITIZE= \
      -DYB_FAULT_INJECTION=OFF >/dev/null
cmake --build "$ROOT/build-bench" -j "$(nproc)" >/dev/null
YB="$ROOT/build-bench"
mkdir -p "$RES/logs" "$S"

. "$HERE/lib-sshd.sh"
trap bench_cleanup EXIT
BENCH_SSH="$S/ssh"
bench_ssh_keys
bench_netns_up ybrepl$$ ybr$$a ybr$$b
bench_sshd_on 10.251.0.2 22 ybrepl$$
bench_known_hosts "10.251.0.2 22"

KEYS="$S/keys"
rm -rf "$KEYS"; mkdir -p "$KEYS"
echo bench-password >"$KEYS/pass"
export YUNBAK_PASSPHRASE_FILE="$KEYS/pass"
"$YB/yunbak" key init --system bench --out "$KEYS" --kdf interactive >/dev/null

TSV="$RES/replicate.tsv"
[[ -f "$TSV" && "${APPEND:-0}" != 1 ]] && mv "$TSV" "$TSV.$(date +%Y%m%d-%H%M%S)"
[[ -f "$TSV" ]] || printf 'ts\tround\tpeer\tduration_s\tlag_p50_s\tlag_p99_s\tlag_max_s\tcpu_cores\tpeak_rss_kib\tlink_bytes\tchanged_bytes\tshipped_per_changed\tcatchup_s\treported_p99_s\treported_unknown\n' >"$TSV"

SRC="$S/src"
DST=/srv/yunbak-bench-replica
link_bytes() { echo $(( $(cat /sys/class/net/ybr$$a/statistics/tx_bytes) + $(cat /sys/class/net/ybr$$a/statistics/rx_bytes) )); }
cpu_ticks() { awk '{ print $14 + $15 + $16 + $17 }' "/proc/$1/stat"; }
wait_for() { # SECONDS WHAT cmd...: polls cmd every 0.2 s
  local n=$(( $1 * 5 )) what=$2; shift 2
  for _ in $(seq "$n"); do "$@" && return 0; sleep 0.2; done
  echo "bench/replicate.sh: timed out waiting for $what" >&2; return 1
}
canary_same() { cmp -s "$SRC/canary" "$DST/canary"; }
yunbak_has_segment_after() { # NS: a segment started after NS is committed
  python3 -c 'import json,sys
t=int(sys.argv[2])
for l in open(sys.argv[1]):
    try: e=json.loads(l)
    except ValueError: continue
    if e.get("event")=="segment" and e["started_ns"]>t: sys.exit(0)
sys.exit(1)' "$1" "$2"
}
yunbak_ready() { # the first root is committed
  python3 -c 'import json,sys
for l in open(sys.argv[1]):
    try: e=json.loads(l)
    except ValueError: continue
    if e.get("event")=="root" and e.get("state")=="done": sys.exit(0)
sys.exit(1)' "$1"
}

for r in $(seq 1 "$ROUNDS"); do
  for peer in $PEERS; do
    log="$RES/logs/replicate_r${r}_$peer"
    rm -rf "$SRC" "$DST" "$S/agent-state" "$S/stop" "$log".*
    mkdir -p "$DST"
    python3 "$HERE/workload.py" prep "$SRC"
    sync
    case $peer in
      yunbak)
        rm -f "$S/stdin"; mkfifo "$S/stdin"
        YUNBAK_AGENT_STATE_DIR="$S/agent-state" "$YB/yunbak-agent" replicate \
          --store "sftp://root@10.251.0.2$DST" --ssh-key "$BENCH_SSH/client_key" \
          --known-hosts "$BENCH_SSH/known_hosts" --system bench --public-key "$KEYS/bench.pub" \
          --interval "$INTERVAL" "$SRC" <"$S/stdin" >"$log.jsonl" 2>"$log.err" &
        pid=$!
        exec 7>"$S/stdin"
        wait_for 600 "yunbak's first root" yunbak_ready "$log.jsonl" ;;
      lsyncd-*)
        delay=; [[ $peer == lsyncd-delay1 ]] && delay="delay = 1,"
        cat >"$log.lua" <<EOF
settings { nodaemon = true, logfile = "$log.lsyncd.log", insist = true }
sync { default.rsync, source = "$SRC/", target = "root@10.251.0.2:$DST/", $delay
       rsync = { archive = true,
                 rsh = "/usr/bin/ssh -i $BENCH_SSH/client_key -o UserKnownHostsFile=$BENCH_SSH/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes" } }
EOF
        lsyncd "$log.lua" >"$log.out" 2>&1 &
        pid=$!
        wait_for 600 "lsyncd's first copy" canary_same ;;
    esac
    python3 "$HERE/replag.py" poll "$DST/canary" "$log.poll" "$S/stop" &
    poller=$!
    b0=$(link_bytes); c0=$(cpu_ticks "$pid"); t0=$(date +%s%N)
    python3 "$HERE/workload.py" run "$SRC" "$DURATION" "$log.workload.json" >/dev/null
    t1=$(date +%s%N)
    # Catching up: until the replica holds the last change, for at most CATCHUP seconds (lsyncd
    # was seen to miss the workload's last rename and stay behind until the next change).
    caught=1
    case $peer in
      yunbak) wait_for "$CATCHUP" "yunbak to catch up" yunbak_has_segment_after "$log.jsonl" "$t1" || caught=0 ;;
      lsyncd-*) wait_for "$CATCHUP" "lsyncd to catch up" canary_same || caught=0 ;;
    esac
    t2=$(date +%s%N); b1=$(link_bytes); c1=$(cpu_ticks "$pid")
    ((caught)) || t2=0
    rss=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status")
    touch "$S/stop"; wait "$poller" || true
    case $peer in
      yunbak) exec 7>&-; wait "$pid" || echo "!! yunbak-agent replicate exited $?" >&2
              lag=$(python3 "$HERE/replag.py" yunbak "$log.jsonl" "$t0" "$t1") ;;
      lsyncd-*) kill "$pid"; wait "$pid" || true
                lag=$(python3 "$HERE/replag.py" canary "$log.poll" "$t0" "$t1") ;;
    esac
    changed=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bytes"])' "$log.workload.json")
    python3 - "$TSV" "$r" "$peer" "$DURATION" "$lag" "$(( c1 - c0 ))" "$(getconf CLK_TCK)" \
      "$rss" "$(( b1 - b0 ))" "$changed" "$(( t2 ? (t2 - t1) / 1000000 : -1 ))" "$t0" "$t1" <<'EOF'
import json, sys, time
tsv, r, peer, dur, lag, ticks, hz, rss, link, changed, catchup_ms, t0, t1 = sys.argv[1:]
lag = json.loads(lag)
rep = lag.get("reported") or {}
f = lambda x: "-" if x is None else f"{x:.2f}"
row = [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), r, peer, dur, f(lag["p50"]), f(lag["p99"]),
       f(lag["max"]), f"{int(ticks) / int(hz) / ((int(t1) - int(t0)) / 1e9):.3f}", rss, link, changed,
       f"{int(link) / max(1, int(changed)):.3f}", f"{int(catchup_ms) / 1000:.1f}" if int(catchup_ms) >= 0 else "never",
       f(rep.get("p99")), str(rep.get("unknown", "-"))]
line = "\t".join(row)
print(line)
open(tsv, "a").write(line + "\n")
EOF
  done
done
rm -rf "$DST" "$SRC"
