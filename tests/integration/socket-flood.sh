#!/bin/sh
# The control socket under a flood of slow callers: an account that is not one of the people
# (nobody) opens more connections than yunbakd serves at a time and trickles bytes into them; a
# department person does the same with its own connections. The operator is still answered, the
# unknown uid is refused at once, a person gets at most YB_HTTP_MAX_PER_UID (8) connections, a
# request that trickles is cut off after 10 s in all however often bytes arrive, and the unknown
# uid's refusals are audited as a count per minute, not one record each.
. "$TESTS/integration/lib.sh"
is_root || { echo "needs root: callers are other uids" >&2; exit 77; }
command -v setpriv >/dev/null || exit 77
# The system's Python: other uids may not reach one installed under root's home.
[ -x /usr/bin/python3 ] || exit 77
chmod 755 "$SCRATCH"
. "$TESTS/integration/daemon-lib.sh"
chmod -R a+rX "$D"

daemon_config "  - user: daemon
    role: department
    department: 人社局"
# Open to every account, so that the kernel lets nobody connect and yunbakd has to refuse it.
sed -i 's/^socket: yunbakd.sock/socket: yunbakd.sock\nsocket_mode: "0666"/' "$D/yunbakd.yaml"
daemon_system hr-portal 人社局
start_yunbakd

# slow USER N SECONDS: as USER, opens N connections and sends one byte of a request to each every
# 0.2 s for up to SECONDS. Prints, as each ends, "refused STATUS" (answered before the request
# was complete), "cut AFTER" (closed unanswered after AFTER seconds) or "open" (still open at the
# end); writes $D/slow-USER.ready once all N are connected.
cat >"$SCRATCH/slow.py" <<'PY'
import os, select, socket, sys, time
sock, n, secs, ready = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
req = b"GET /v1/status HTTP/1.1\r\nHost: yunbakd\r\nX-Slow: " + b"a" * 100000
conns = []
for _ in range(n):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.setblocking(False)
    conns.append([s, time.monotonic(), 0])
open(ready, "w").close()
end = time.monotonic() + secs
while conns and time.monotonic() < end:
    for c in list(conns):
        s, t0, sent = c
        try:
            data = s.recv(4096)
        except BlockingIOError:
            data = None
        except ConnectionResetError:
            data = b""
        if data is not None:
            print("refused " + data.split(b" ")[1].decode() if data.startswith(b"HTTP/") else
                  "cut %.1f" % (time.monotonic() - t0), flush=True)
            conns.remove(c)
            s.close()
            continue
        try:
            s.send(req[sent:sent + 1])
            c[2] += 1
        except BlockingIOError:
            pass
        except (BrokenPipeError, ConnectionResetError):
            # yunbakd may have answered and closed between our recv and this send: its answer
            # is still queued for us to read.
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            print("refused " + data.split(b" ")[1].decode() if data.startswith(b"HTTP/") else
                  "cut %.1f" % (time.monotonic() - t0), flush=True)
            conns.remove(c)
            s.close()
    select.select([c[0] for c in conns], [], [], 0.2)
for c in conns:
    print("open", flush=True)
PY
mkdir -m 1777 "$SCRATCH/flags"
slow() {
        uid=$(id -u "$1")
        gid=$(id -g "$1")
        setpriv --reuid="$uid" --regid="$gid" --clear-groups \
                /usr/bin/python3 "$SCRATCH/slow.py" "$SOCK" "$2" "$3" "$SCRATCH/flags/$1.ready"
}
# wait_file PATH PID: until it exists (bounded: the callers connect at once or not at all).
wait_file() {
        i=0
        until [ -e "$1" ]; do
                kill -0 "$2" 2>/dev/null || die "the slow callers ended before $1 appeared"
                i=$((i + 1))
                [ "$i" -lt 300 ] || die "$1 did not appear within 30 s"
                sleep 0.1
        done
}

# 100 connections of nobody, more than yunbakd's 64 of old: each is refused at once.
slow nobody 100 30 >"$D/nobody.out" &
NOBODY=$!
# 12 of the department person: 8 are served (and cut off after 10 s), 4 refused at once.
slow daemon 12 30 >"$D/daemon.out" &
DEPT=$!
wait_file "$SCRATCH/flags/nobody.ready" "$NOBODY"
wait_file "$SCRATCH/flags/daemon.ready" "$DEPT"
# The operator is answered while both floods go on.
for _ in 1 2 3; do
        curl -sf --max-time 5 --unix-socket "$SOCK" http://yunbakd/v1/whoami >"$D/me.json" ||
                die "the operator was locked out by slow callers"
        json 'j["role"]' <"$D/me.json" | grep -qx operator || die "whoami: $(cat "$D/me.json")"
done
wait "$NOBODY" || die "the slow callers of nobody failed"
wait "$DEPT" || die "the slow callers of the department failed"

[ "$(grep -cx 'refused 403' "$D/nobody.out")" = 100 ] ||
        die "not every connection of nobody was refused at once: $(sort "$D/nobody.out" | uniq -c)"
[ "$(grep -cx 'refused 503' "$D/daemon.out")" = 4 ] ||
        die "one person got more than 8 connections: $(sort "$D/daemon.out" | uniq -c)"
[ "$(grep -c '^cut ' "$D/daemon.out")" = 8 ] ||
        die "trickling requests were not cut off: $(sort "$D/daemon.out" | uniq -c)"
# Each cut came after the 10 s a request may take, well before the 30 s the caller went on.
awk '/^cut / && ($2 < 9.5 || $2 > 20) { bad = 1 } END { exit bad }' "$D/daemon.out" ||
        die "a trickling request was cut off at the wrong time: $(grep '^cut' "$D/daemon.out")"

# The refusals: a count per uid per minute, all of them, in a record or two (if a minute began
# during the flood), not 100 fsync'd records. Reported at stop at the latest.
stop_yunbakd
n=$(sql "SELECT count(*) FROM audit WHERE actor = 'uid:65534'")
[ "$n" -ge 1 ] && [ "$n" -le 2 ] || die "$n audit records for nobody's 100 refused connections"
[ "$(sql "SELECT sum(CAST(detail AS INTEGER)) FROM audit WHERE actor = 'uid:65534'")" = 100 ] ||
        die "the audit records do not count 100 refusals: $(sql "SELECT detail FROM audit WHERE actor = 'uid:65534'")"
echo ok
