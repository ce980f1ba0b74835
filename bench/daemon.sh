#!/bin/sh
# yunbakd's speed targets (issue 3): `yunbak policy check` of 1,000 policies, yunbakd's CPU while
# idle with 1,000 systems, and `GET /v1/status` latency with 1,000 systems (p50/p99 over 500
# calls, timed by curl on the Unix socket). Usage: sh bench/daemon.sh [BUILD_DIR]
set -eu
cd "$(dirname "$0")/.."
B=${1:-build-bench}
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release -DYB_SANITIZE= -DYB_FAULT_INJECTION=OFF \
        -DYB_FUZZ=OFF -DYB_TESTS=OFF >/dev/null
cmake --build "$B" -j "$(nproc)" >/dev/null
B=$(cd "$B" && pwd)
W=$(mktemp -d /tmp/yb-bench-daemon-XXXXXX)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$W"' EXIT
mkdir -p "$W/policies" "$W/keys" "$W/store"
printf 'bench\n' >"$W/pass"
YUNBAK_KDF=interactive "$B/yunbak" key init --system sys-0000 --out "$W/keys" \
        --passphrase-file "$W/pass" >/dev/null
i=0
while [ "$i" -lt 1000 ]; do
        id=$(printf 'sys-%04d' "$i")
        [ "$i" -eq 0 ] || cp "$W/keys/sys-0000.pub" "$W/keys/$id.pub"
        cat >"$W/policies/$id.yaml" <<YAML
version: 1
system: {id: $id, name: 系统 $id, department: dept-$((i % 40)), contact: ops, classification: general}
sources: {host: here, paths: [/srv/$id]}
tier1:
  store: local
  full: "Sun *-*-* 02:00 Asia/Shanghai"
  incremental: "Mon..Sat *-*-* 02:$((i % 60)) Asia/Shanghai"
  retention: {keep_daily: 14, keep_weekly: 8}
objectives: {rpo: 1d, rto: 8h}
drill: {every: 1y, check: "true"}
YAML
        i=$((i + 1))
done
cat >"$W/yunbakd.yaml" <<YAML
catalog: catalog.db
socket: yunbakd.sock
policies: policies
keys: keys
state: state
stores: {local: {url: $W/store}}
hosts: {here: {local: true}}
people: [{user: $(id -un), role: operator}]
YAML

echo "== yunbak policy check, 1,000 policies (best of 5)"
best=999
for _ in 1 2 3 4 5; do
        t=$(python3 -c 'import subprocess,sys,time; t=time.perf_counter(); subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); print(f"{time.perf_counter()-t:.3f}")' \
                "$B/yunbak" policy check "$W"/policies/*.yaml)
        best=$(python3 -c "print(min($best, $t))")
done
echo "policy check: $best s"

"$B/yunbakd" --config "$W/yunbakd.yaml" --foreground 2>"$W/log" &
PID=$!
until curl -s --unix-socket "$W/yunbakd.sock" -o /dev/null http://y/v1/whoami; do sleep 0.1; done

echo "== GET /v1/status with 1,000 systems (500 calls)"
i=0
while [ "$i" -lt 500 ]; do
        curl -s --unix-socket "$W/yunbakd.sock" -o /dev/null -w '%{time_total}\n' http://y/v1/status
        i=$((i + 1))
done >"$W/times"
python3 - "$W/times" <<'PY'
import sys
t = sorted(float(x) * 1000 for x in open(sys.argv[1]))
print(f"status: n={len(t)} p50={t[len(t)//2]:.2f} ms p99={t[int(len(t)*0.99)-1]:.2f} ms max={t[-1]:.2f} ms")
PY
size=$(curl -s --unix-socket "$W/yunbakd.sock" http://y/v1/status | wc -c)
echo "status body: $size bytes"

echo "== idle CPU over 30 s with 1,000 systems"
t0=$(awk '{print $14 + $15}' /proc/$PID/stat)
sleep 30
t1=$(awk '{print $14 + $15}' /proc/$PID/stat)
python3 -c "print(f'idle: {($t1 - $t0) / $(getconf CLK_TCK):.2f} s of CPU in 30 s ({($t1 - $t0) / $(getconf CLK_TCK) / 30 * 100:.2f}%)')"
echo "RSS: $(awk '/VmRSS/ {print $2, $3}' /proc/$PID/status)"
