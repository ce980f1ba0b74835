#!/bin/sh
# yb_run over SSH (orchestrator/runner.c, driven by yb-run) against a real OpenSSH sshd: as root
# in a fresh network namespace reached over a veth pair, otherwise on 127.0.0.1 as the same user
# (nobody: libnss_wrapper gives sshd a login shell for it). A command's output and exit status
# come back; a real `yunbak-agent backup --json` runs on the "remote" host; unknown, mismatching
# and revoked host keys and a wrong client key are refused with clear messages and nothing runs;
# a timeout and a cancel leave no remote process; an unreachable host fails within the connect
# timeout, a closed port at once.
. "$TESTS/integration/lib.sh"

D=$SCRATCH
SSH_DIR=$SCRATCH
HOLD_PID=
finish() {
        set +e
        [ -z "$HOLD_PID" ] || kill "$HOLD_PID" 2>/dev/null
        ssh_finish
        cleanup
}
trap finish EXIT
trap 'exit 1' HUP INT TERM
. "$TESTS/integration/ssh-lib.sh"
command -v yb-run >/dev/null || die "yb-run is not built"

# --- Helpers ---------------------------------------------------------------------------------

# yb NAME [yb-run options] -- COMMAND...: runs yb-run against the sshd, JSON in $D/NAME.json.
# Fails the test on a sanitizer report, or when the exit code does not agree with "ret".
yb() {
        name=$1
        shift
        set +e
        yb-run --ssh "$ME@$ADDR:$PORT" --key "$D/client_key" --known-hosts "$D/known_hosts" \
                "$@" >"$D/$name.json" 2>"$D/$name.err"
        code=$?
        set -e
        check_run "$name" "$code"
}
check_run() {
        if grep -Eq 'Sanitizer|runtime error' "$D/$1.err"; then
                cat "$D/$1.err" >&2
                die "$1: yb-run reported a memory or UB error"
        fi
        # One line per field, "name<TAB>value" (strings as they are, with newlines as \n;
        # the rest as JSON), for expect.
        python3 -c 'import json, sys
for k, v in json.load(open(sys.argv[1])).items():
    print(k + "\t" + (v.replace("\n", "\\n") if isinstance(v, str) else json.dumps(v)))' \
                "$D/$1.json" >"$D/$1.fields" || die "$1: yb-run printed no JSON (exit $2)"
        ret=$(field "$1" ret)
        if [ "$ret" -eq 0 ]; then want=0; else want=1; fi
        if [ "$2" -ne "$want" ]; then
                cat "$D/$1.json" "$D/$1.err" >&2
                die "$1: exit code $2 with ret $ret"
        fi
}
# jf NAME FIELD: a field of NAME's result (strings as they are, the rest as JSON).
jf() {
        python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))[sys.argv[2]]
sys.stdout.write(v if isinstance(v, str) else json.dumps(v))' "$D/$1.json" "$2"
}
field() { # NAME FIELD
        awk -F '\t' -v k="$2" '$1 == k { sub(/^[^\t]*\t/, ""); print; exit }' "$D/$1.fields"
}
expect() { # NAME FIELD VALUE (a newline in a string field as \n)
        got=$(field "$1" "$2")
        [ "$got" = "$3" ] || {
                cat "$D/$1.json" >&2
                die "$1: $2 is '$got', expected '$3'"
        }
}
# error_has NAME TEXT...: the error message holds each TEXT (fixed strings).
error_has() {
        n=$1
        shift
        for t in "$@"; do
                field "$n" error | grep -Fq -- "$t" || {
                        cat "$D/$n.json" >&2
                        die "$n: the error does not say '$t'"
                }
        done
}
# gone PID: no such process, or a zombie (dead, waiting to be reaped).
gone() {
        st=$(ps -o stat= -p "$1" 2>/dev/null) || return 0
        case "$st" in
        Z* | "") return 0 ;;
        esac
        return 1
}
# wait_gone MARKER PID...: within 30 s every PID is gone and no live process's command line
# holds MARKER (the remote wrapper's watcher included).
wait_gone() {
        marker=$1
        shift
        i=0
        while :; do
                alive=
                for p in "$@"; do
                        gone "$p" || alive="$alive $p"
                done
                for p in $(pgrep -f -- "$marker" || true); do
                        gone "$p" || alive="$alive $p"
                done
                [ -n "$alive" ] || return 0
                i=$((i + 1))
                if [ $i -ge 300 ]; then
                        for p in $alive; do
                                ps -o pid=,ppid=,stat=,args= -p "$p" >&2 || true
                        done
                        die "remote processes still running:$alive"
                fi
                sleep 0.1
        done
}
# wait_file PATH: bounded wait for a file the remote command writes.
wait_file() {
        i=0
        until [ -s "$1" ]; do
                i=$((i + 1))
                [ $i -lt 300 ] || die "$1 did not appear within 30 s"
                sleep 0.1
        done
}

# --- A command runs; its output and exit status come back ------------------------------------

yb basic -- sh -c 'printf "hello %s\n" "$1"; echo oops >&2; exit 3' sh 'wor ld'
expect basic ret 0
expect basic exit_status 3
expect basic signal 0
python3 - "$D/basic.json" <<'PY' || die "basic: stdout or stderr differ"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["stdout"] == "hello wor ld\n" and d["stderr"] == "oops\n", d
PY

# Arguments reach the remote program exactly (quoted for its shell).
yb quoting -- printf '%s\n' "it's" '$HOME' '*' 'a  b' '' 'x;y' '`id`' 'Grüße' '"q"'
printf '%s\n' "it's" '$HOME' '*' 'a  b' '' 'x;y' '`id`' 'Grüße' '"q"' >"$D/quoting.want"
jf quoting stdout >"$D/quoting.got"
cmp -s "$D/quoting.want" "$D/quoting.got" || die "arguments changed on the way: $(cat "$D/quoting.got")"

yb env --env 'YB_X=two words' --env "YB_Y=it's \$HOME" -- sh -c 'printf "%s|%s" "$YB_X" "$YB_Y"'
expect env stdout "two words|it's \$HOME"

yb signal -- sh -c 'kill -USR1 $$'
expect signal ret 0
expect signal signal "$(python3 -c 'import signal; print(int(signal.SIGUSR1))')"
expect signal exit_status -1

yb missing -- yb-no-such-program --json
expect missing ret 0
expect missing exit_status 127

yb big --sizes-only -- head -c 5000000 /dev/zero
expect big ret 0
expect big stdout_size 5000000
yb endless --sizes-only -- yes
expect endless errno EMSGSIZE
expect endless stdout_size 16777216

# Hashed known_hosts entries (ssh-keygen -H) are checked too.
cp "$D/known_hosts" "$D/known_hosts_hashed"
ssh-keygen -q -H -f "$D/known_hosts_hashed" >/dev/null 2>&1
rm -f "$D/known_hosts_hashed.old"
grep -q '^|1|' "$D/known_hosts_hashed" || die "ssh-keygen -H did not hash"
yb hashed --known-hosts "$D/known_hosts_hashed" -- printf hashed-ok
expect hashed stdout hashed-ok

# --- The backup agent on the "remote" host ---------------------------------------------------

make_key hr
mkdir -p "$D/src/etc" "$D/store"
printf 'listen: 8443\n' >"$D/src/etc/app.yaml"
seq 1 5000 >"$D/src/numbers.txt"
yb agent --env "PATH=$BIN:/usr/bin:/bin" --env "YUNBAK_AGENT_STATE_DIR=$D/agent-state" -- \
        yunbak-agent backup --store "$D/store" --system hr --public-key "$D/keys/hr.pub" \
        --level full --json "$D/src"
expect agent ret 0
expect agent exit_status 0
snap=$(python3 - "$D/agent.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
s = json.loads(d["stdout"])
assert s["system"] == "hr" and s["level"] == "full", s
assert s["errors"] == 0 and s["files"] == 2 and s["parent"] is None, s
print(s["snapshot"])
PY
) || die "the agent's JSON summary is not what was expected: $(jf agent stdout)"
yunbak snapshots --store "$D/store" --system hr --json | grep -q "\"$snap\"" ||
        die "snapshot $snap from the remote agent is not in the store"

# --- Host keys: unknown, mismatching, revoked; a wrong client key ----------------------------

hostkey=$(cut -d' ' -f1,2 "$D/host_key.pub")
otherkey=$(cut -d' ' -f1,2 "$D/other_host_key.pub")
printf '[10.9.9.9]:%s %s\n' "$PORT" "$hostkey" >"$D/kh_unknown"
: >"$D/kh_empty"
printf '# operations unit, 2026-11-21\n[%s]:%s %s\n' "$ADDR" "$PORT" "$otherkey" >"$D/kh_mismatch"
{
        cat "$D/known_hosts"
        printf '@revoked * %s\n' "$hostkey"
} >"$D/kh_revoked"

for kh in unknown empty mismatch revoked; do
        yb "kh_$kh" --known-hosts "$D/kh_$kh" -- touch "$D/ran_$kh"
        expect "kh_$kh" errno EPERM
        error_has "kh_$kh" "host $ADDR:$PORT: " "ssh-ed25519 $FP" "nothing was run"
        [ ! -e "$D/ran_$kh" ] || die "a command ran despite the $kh host key"
done
error_has kh_unknown "host key not in $D/kh_unknown"
error_has kh_empty "host key not in $D/kh_empty"
error_has kh_mismatch "does not match $D/kh_mismatch:2"
error_has kh_revoked "is revoked in $D/kh_revoked:2"

yb kh_missing --known-hosts "$D/no_such_file" -- touch "$D/ran_missing"
expect kh_missing errno ENOENT
error_has kh_missing "cannot read the known hosts file '$D/no_such_file'"
[ ! -e "$D/ran_missing" ] || die "a command ran without a known_hosts file"

yb wrong_key --key "$D/other_client_key" -- touch "$D/ran_wrong_key"
expect wrong_key errno EPERM
error_has wrong_key "host $ADDR:$PORT: the host refused user '$ME' with the key '$D/other_client_key'"
[ ! -e "$D/ran_wrong_key" ] || die "a command ran with a wrong client key"

# --- Timeout and cancel leave no remote process ----------------------------------------------

# The remote sh and its background sleep; the marker names every process of this run.
yb timeout --timeout 5 --grace 2 -- \
        sh -c 'echo $$ >"$1/t.pid"; sleep 1000 & echo $! >"$1/t.kid"; wait' sh "$D" "mark-t-$$"
expect timeout errno ETIMEDOUT
expect timeout timed_out true
error_has timeout "host $ADDR:$PORT: 'sh' did not end within the timeout of 5 s"
[ -s "$D/t.pid" ] && [ -s "$D/t.kid" ] || die "the timed-out command never started"
wait_gone "mark-t-$$" "$(cat "$D/t.pid")" "$(cat "$D/t.kid")"

# cancel RUN-NAME READY-FILE yb-run ARGS...: starts the run, cancels it (SIGUSR1 to yb-run,
# which signals yb_run's cancel_fd) once the remote command wrote READY-FILE.
cancel() {
        name=$1
        ready=$2
        shift 2
        yb-run --ssh "$ME@$ADDR:$PORT" --key "$D/client_key" --known-hosts "$D/known_hosts" \
                "$@" >"$D/$name.json" 2>"$D/$name.err" &
        pid=$!
        wait_file "$ready"
        kill -USR1 "$pid"
        set +e
        wait "$pid"
        code=$?
        set -e
        check_run "$name" "$code"
}
cancel cancel "$D/c.kid" --timeout 120 -- \
        sh -c 'echo $$ >"$1/c.pid"; sleep 1000 & echo $! >"$1/c.kid"; wait' sh "$D" "mark-c-$$"
expect cancel errno ECANCELED
expect cancel cancelled true
wait_gone "mark-c-$$" "$(cat "$D/c.pid")" "$(cat "$D/c.kid")"

# A command that ignores SIGTERM is killed after the grace.
cancel ignore "$D/i.pid" --timeout 120 --grace 1 -- \
        sh -c 'trap "" TERM; echo $$ >"$1/i.pid"; exec sleep 1000' sh "$D" "mark-i-$$"
expect ignore errno ECANCELED
wait_gone "mark-i-$$" "$(cat "$D/i.pid")"

# The connection drops while the command runs (its sshd dies): yb_run says so, and the remote
# command is stopped all the same, since its stdin closes.
yb-run --ssh "$ME@$ADDR:$PORT" --key "$D/client_key" --known-hosts "$D/known_hosts" \
        --timeout 120 -- sh -c 'echo $PPID >"$1/l.wrapper"; echo $$ >"$1/l.pid"
                sleep 1000 & echo $! >"$1/l.kid"; wait' sh "$D" "mark-l-$$" >"$D/lost.json" 2>"$D/lost.err" &
pid=$!
wait_file "$D/l.kid"
session=$(ps -o ppid= -p "$(cat "$D/l.wrapper")" | tr -d ' ')
case "$(ps -o args= -p "$session")" in
sshd:*) kill -KILL "$session" ;;
*) die "the remote wrapper's parent $session is not sshd: $(ps -o args= -p "$session")" ;;
esac
set +e
wait "$pid"
code=$?
set -e
check_run lost "$code"
expect lost errno ECONNRESET
error_has lost "host $ADDR:$PORT: the connection was lost while 'sh' ran"
wait_gone "mark-l-$$" "$(cat "$D/l.pid")" "$(cat "$D/l.kid")"

# --- Unreachable hosts -----------------------------------------------------------------------

if [ "$MODE" = loopback ]; then
        # A listener whose accept queue is full drops new SYNs unanswered, like a dead host.
        python3 - "$D/hold.port" <<'PY' &
import os, socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(0)
c1 = socket.create_connection(s.getsockname())
c2 = socket.socket()
c2.setblocking(False)
try:
    c2.connect(s.getsockname())
except BlockingIOError:
    pass
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(600)
PY
        HOLD_PID=$!
        wait_file "$D/hold.port"
        DEAD=127.0.0.1
        DEAD_PORT=$(cat "$D/hold.port")
else
        DEAD_PORT=$PORT
fi
yb dead --ssh "$ME@$DEAD:$DEAD_PORT" --connect-timeout 2 --timeout 120 -- touch "$D/ran_dead"
expect dead errno EHOSTUNREACH
error_has dead "host $DEAD:$DEAD_PORT: no answer within 2 s (the connect timeout)"
elapsed=$(field dead elapsed_ms)
[ "$elapsed" -ge 1900 ] || die "gave up on the unreachable host after $elapsed ms, before the connect timeout"
[ "$elapsed" -lt 60000 ] || die "the unreachable host took $elapsed ms: the connect timeout did not apply"

# The run's own timeout also bounds the connection.
yb dead_timeout --ssh "$ME@$DEAD:$DEAD_PORT" --connect-timeout 60 --timeout 2 -- true
expect dead_timeout errno ETIMEDOUT
error_has dead_timeout "host $DEAD:$DEAD_PORT: the timeout of 2 s passed while connecting"

yb refused --ssh "$ME@$ADDR:$CLOSED_PORT" -- true
expect refused errno ECONNREFUSED
error_has refused "host $ADDR:$CLOSED_PORT: connection refused"

echo "ssh-runner ($MODE): ok"
