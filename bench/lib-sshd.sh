# bench/lib-sshd.sh - sourced by bench/sftp.sh and bench/replicate.sh: OpenSSH servers for a
# benchmark, on loopback or in a network namespace reached over a veth pair (optionally through a
# tc tbf), with a throwaway host key, client key and known_hosts. Needs root.
#
#   BENCH_SSH=<dir>; bench_ssh_keys            keys and authorized_keys under $BENCH_SSH
#   bench_netns_up NS VETH PEER [TBF_RATE]     10.251.0.1 here, 10.251.0.2 in NS
#   bench_sshd_on ADDR PORT [NS]               an sshd (its pid in BENCH_PIDS), waited for
#   bench_known_hosts "ADDR PORT"...           $BENCH_SSH/known_hosts from ssh-keyscan
#   bench_cleanup                              stops the servers, removes the namespace
# BENCH_SSHO holds ssh's options for the client key and known_hosts.

BENCH_PIDS=()
BENCH_NS=
BENCH_VETH=
bench_cleanup() {
  set +e
  for p in "${BENCH_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  [[ -n $BENCH_VETH ]] && ip link del "$BENCH_VETH" 2>/dev/null
  [[ -n $BENCH_NS ]] && ip netns del "$BENCH_NS" 2>/dev/null
  return 0
}

bench_ssh_keys() {
  rm -rf "$BENCH_SSH"; mkdir -p "$BENCH_SSH" /run/sshd
  ssh-keygen -q -t ed25519 -N '' -f "$BENCH_SSH/host_key"
  ssh-keygen -q -t ed25519 -N '' -f "$BENCH_SSH/client_key"
  cp "$BENCH_SSH/client_key.pub" "$BENCH_SSH/authorized_keys"
  BENCH_SSHO=(-o UserKnownHostsFile="$BENCH_SSH/known_hosts" -o StrictHostKeyChecking=yes
              -o BatchMode=yes -i "$BENCH_SSH/client_key")
}

bench_netns_up() { # NS VETH PEER [TBF_RATE]
  BENCH_NS=$1 BENCH_VETH=$2
  ip netns add "$1"
  ip link add "$2" type veth peer name "$3"
  ip link set "$3" netns "$1"
  ip addr add 10.251.0.1/24 dev "$2"; ip link set "$2" up
  ip netns exec "$1" ip addr add 10.251.0.2/24 dev "$3"
  ip netns exec "$1" ip link set "$3" up; ip netns exec "$1" ip link set lo up
  if [[ -n ${4:-} ]]; then tc qdisc add dev "$2" root tbf rate "$4" burst 256kb latency 50ms; fi
}

bench_sshd_on() { # ADDR PORT [NS]
  local conf="$BENCH_SSH/sshd-$1.conf" log="$BENCH_SSH/sshd-$1.log"
  cat >"$conf" <<EOF
ListenAddress $1:$2
HostKey $BENCH_SSH/host_key
PidFile none
AuthorizedKeysFile $BENCH_SSH/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
MaxStartups 100
MaxSessions 100
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
  if [[ -n ${3:-} ]]; then ip netns exec "$3" /usr/sbin/sshd -D -e -f "$conf" 2>"$log" &
  else /usr/sbin/sshd -D -e -f "$conf" 2>"$log" & fi
  BENCH_PIDS+=($!)
  for _ in $(seq 100); do grep -q 'Server listening' "$log" && break; sleep 0.1; done
  grep -q 'Server listening' "$log" || { cat "$log" >&2; return 1; }
}

bench_known_hosts() { # "ADDR PORT"...
  : >"$BENCH_SSH/known_hosts"
  local a
  for a in "$@"; do
    set -- $a; ssh-keyscan -p "$2" -t ed25519 "$1" >>"$BENCH_SSH/known_hosts" 2>/dev/null
  done
}
