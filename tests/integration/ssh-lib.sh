# Sourced after lib.sh by the tests that need an SSH host: a real OpenSSH sshd, as root in a fresh
# network namespace reached over a veth pair, otherwise on 127.0.0.1 as the same user (nobody:
# libnss_wrapper gives sshd a login shell for it). Set SSH_DIR (where its keys, config, log and
# known_hosts go) before sourcing; call ssh_finish from the test's EXIT trap.
# A test may define ssh_extra_config, a function whose output is appended to sshd_config (after
# ADDR and PORT are known).
# Provides: need_link_cut, ME, ADDR, PORT, CLOSED_PORT, DEAD (an address that never answers, netns mode only),
# MODE (netns or loopback), FP (the host key's SHA256 fingerprint), and in SSH_DIR: host_key,
# other_host_key, client_key, other_client_key (ed25519), authorized_keys (client_key,
# restricted), known_hosts (scanned and checked), sshd.log.
# A test that needs a second host sources this file again with another SSH_DIR and SSH_HOST=2
# (a namespace, veth pair and network of its own); it keeps the first host's ADDR, PORT and FP
# before, since they are set anew; ssh_finish then ends both.
: "${SSH_DIR:?set SSH_DIR before sourcing ssh-lib.sh}"
mkdir -p "$SSH_DIR"
ME=$(id -un)
# The hosts made before this one (sshd pid, veth, namespace), for ssh_finish.
SSH_EARLIER="${SSH_EARLIER:-} ${SSHD_PID:-}/${VETH:-}/${NS:-}"
NS=
VETH=
SSHD_PID=
ssh_finish() {
        set +e
        for _h in "$SSHD_PID/$VETH/$NS" $SSH_EARLIER; do
                _pid=${_h%%/*}
                _ns=${_h##*/}
                _veth=${_h#*/}
                _veth=${_veth%/*}
                if [ -n "$_pid" ]; then
                        kill "$_pid" 2>/dev/null
                        wait "$_pid" 2>/dev/null
                fi
                [ -z "$_veth" ] || ip link del "$_veth" 2>/dev/null
                [ -z "$_ns" ] || ip netns del "$_ns" 2>/dev/null
        done
        SSHD_PID=
        SSH_EARLIER=
        set -e
}

skip() {
        echo "${TEST_NAME:-ssh}: skipped: $*" >&2
        exit 77
}
# need_link_cut: skips the test unless the link to the sshd can be black-holed (iptables DROP in
# its network namespace); call it after sourcing.
need_link_cut() {
        [ "$MODE" = netns ] || skip "cutting the link needs a network namespace of its own (run as root)"
        command -v iptables >/dev/null || skip "no iptables (package iptables) to black-hole the link"
        ip netns exec "$NS" iptables -L INPUT >/dev/null 2>&1 ||
                skip "iptables does not work in a network namespace here"
}
[ -x /usr/sbin/sshd ] || skip "no /usr/sbin/sshd (package openssh-server)"
command -v ssh-keygen >/dev/null && command -v ssh-keyscan >/dev/null ||
        skip "no ssh-keygen or ssh-keyscan (package openssh-client)"

# --- Where sshd runs -------------------------------------------------------------------------

setup_netns() {
        # A second host's network is 10.150-199.x, apart from the first hosts' of every test.
        base=200
        [ -z "${SSH_HOST:-}" ] || base=150
        net=10.$((base + $$ % 50)).$((($$ / 50) % 256))
        VETH=ybv$$${SSH_HOST:-}a
        peer=ybv$$${SSH_HOST:-}b
        ip link add "$VETH" type veth peer name "$peer" || return 1
        ip link set "$peer" netns "$NS" &&
                ip addr add "$net.1/24" dev "$VETH" &&
                ip link set "$VETH" up &&
                ip netns exec "$NS" ip addr add "$net.2/24" dev "$peer" &&
                ip netns exec "$NS" ip link set "$peer" up &&
                ip netns exec "$NS" ip link set lo up || return 1
        # The unreachable host: an address on our own veth whose frames go to a MAC nobody has,
        # so its SYNs vanish without an answer, as a powered-off host's do.
        ip neigh replace "$net.3" lladdr 02:00:00:00:00:03 dev "$VETH" nud permanent || return 1
        # Test traffic must stay on the veth pair.
        ip route get "$net.2" | grep -q "dev $VETH " || return 1
        ip route get "$net.3" | grep -q "dev $VETH " || return 1
        ADDR=$net.2
        DEAD=$net.3
        PORT=2222
        CLOSED_PORT=2223
}

free_port() {
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

MODE=loopback
if is_root && command -v ip >/dev/null && ip netns add "ybssh$$${SSH_HOST:-}" 2>/dev/null; then
        NS=ybssh$$${SSH_HOST:-}
        if setup_netns; then
                MODE=netns
        else
                echo "${TEST_NAME:-ssh}: the network namespace could not be set up; using 127.0.0.1" >&2
                [ -z "$VETH" ] || ip link del "$VETH" 2>/dev/null || true
                ip netns del "$NS" 2>/dev/null || true
                VETH=
                NS=
        fi
fi
if [ "$MODE" = loopback ]; then
        ADDR=127.0.0.1
        PORT=$(free_port)
        CLOSED_PORT=$(free_port)
fi
echo "${TEST_NAME:-ssh}: sshd on $ADDR:$PORT ($MODE), user $ME" >&2

# sshd runs the command with the user's login shell; nobody's is nologin. libnss_wrapper gives
# sshd (only it) a passwd entry with /bin/sh instead.
SSHD_ENV=
shell=$(getent passwd "$ME" | cut -d: -f7)
case "$shell" in
*/nologin | */false | "")
        lib=$(ls /usr/lib/*/libnss_wrapper.so /usr/lib/libnss_wrapper.so 2>/dev/null | head -n 1)
        [ -n "$lib" ] || skip "$ME's login shell is '$shell', so sshd cannot run commands for it," \
                "and libnss_wrapper (package libnss-wrapper) is not there to give it another"
        mkdir -p "$SSH_DIR/home"
        getent passwd "$ME" | awk -F: -v OFS=: -v home="$SSH_DIR/home" '{ $6 = home; $7 = "/bin/sh"; print }' >"$SSH_DIR/passwd"
        getent group "$(id -gn)" >"$SSH_DIR/group"
        SSHD_ENV="LD_PRELOAD=$lib NSS_WRAPPER_PASSWD=$SSH_DIR/passwd NSS_WRAPPER_GROUP=$SSH_DIR/group"
        ;;
esac

ssh-keygen -q -t ed25519 -N '' -C host -f "$SSH_DIR/host_key"
ssh-keygen -q -t ed25519 -N '' -C other-host -f "$SSH_DIR/other_host_key"
ssh-keygen -q -t ed25519 -N '' -C client -f "$SSH_DIR/client_key"
ssh-keygen -q -t ed25519 -N '' -C other-client -f "$SSH_DIR/other_client_key"
# As docs/operations.md advises: restricted (no pty, no forwarding); commands still run.
printf 'restrict %s\n' "$(cat "$SSH_DIR/client_key.pub")" >"$SSH_DIR/authorized_keys"
cat >"$SSH_DIR/sshd_config" <<EOF
ListenAddress $ADDR:$PORT
HostKey $SSH_DIR/host_key
PidFile $SSH_DIR/sshd.pid
AuthorizedKeysFile $SSH_DIR/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
AllowUsers $ME
LogLevel VERBOSE
Subsystem sftp internal-sftp
EOF
if command -v ssh_extra_config >/dev/null; then
        ssh_extra_config >>"$SSH_DIR/sshd_config"
fi
# As root, sshd wants its privilege separation directory (the service normally makes it).
if is_root && [ ! -d /run/sshd ]; then
        mkdir -m 0755 /run/sshd
fi
if [ "$MODE" = netns ]; then
        # shellcheck disable=SC2086
        ip netns exec "$NS" env $SSHD_ENV /usr/sbin/sshd -D -e -f "$SSH_DIR/sshd_config" 2>"$SSH_DIR/sshd.log" &
else
        # shellcheck disable=SC2086
        env $SSHD_ENV /usr/sbin/sshd -D -e -f "$SSH_DIR/sshd_config" 2>"$SSH_DIR/sshd.log" &
fi
SSHD_PID=$!
i=0
until grep -q 'Server listening on' "$SSH_DIR/sshd.log" 2>/dev/null; do
        kill -0 "$SSHD_PID" 2>/dev/null || {
                cat "$SSH_DIR/sshd.log" >&2
                die "sshd did not start"
        }
        i=$((i + 1))
        [ $i -lt 300 ] || die "sshd did not listen within 30 s"
        sleep 0.1
done

# The operator's procedure (docs/operations.md, "Remote hosts (SSH)"): scan the key, then
# compare its fingerprint with the one the host's administrators read on the host itself.
ssh-keyscan -p "$PORT" -t ed25519 "$ADDR" >"$SSH_DIR/known_hosts" 2>/dev/null
FP=$(ssh-keygen -lf "$SSH_DIR/host_key.pub" | cut -d' ' -f2)
[ "$(ssh-keygen -lf "$SSH_DIR/known_hosts" | cut -d' ' -f2)" = "$FP" ] ||
        die "ssh-keyscan got another key than the host's"

