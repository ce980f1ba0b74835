#!/bin/sh
# `yunbak key destroy` against a careless or hostile local user, with a real yunbakd and real
# uids (daemon: hr-portal's department): what is destroyed is what was checked, and what is
# reported to yunbakd is what happened.
# - A key file with a second name (a hard link) is refused: unlinking one name would leave the
#   key readable under the other.
# - A FIFO, a huge file, a file the caller may not write and a file in a directory the caller may
#   not write are refused before anything is done (before, a key in a read-only directory was
#   overwritten and left there, its copy still held, and a file of another owner was unlinked
#   without its overwrite while the output spoke of an overwrite).
# - The file swapped for another between the check and the overwrite (done by a proxy in front of
#   yunbakd's socket at the moment `seen` is asked, the only moment another process can act
#   deterministically): the key file examined is not destroyed, nothing is reported destroyed;
#   a directory of its path swapped for a link to another directory cannot redirect the
#   destruction to a file of the same name there; a directory made unwritable meanwhile leaves
#   the file overwritten in place, which is said, and nothing is reported.
# - A key file of a system decommissioned and since removed from the policies is still a copy
#   that survived: recorded, warned about, destroyed (it was refused as an unknown system).
. "$TESTS/integration/key-copies-lib.sh"
start_yunbakd
expect_as 0 daemon key register "$DEPT/hr-portal.key"
held() { [ "$(sql "SELECT count(*) FROM key_copies WHERE state = 'held'")" = "$1" ] ||
        die "expected $1 held copies: $(sql "SELECT id, path, state FROM key_copies")"; }
# copy_as DEST: a registered copy of the key at DEST, the department's.
copy_as() {
        expect_as 0 daemon key copy "$DEPT/hr-portal.key" --to "$1"
}
same_key() { cmp -s "$DEPT/hr-portal.key" "$1" || die "$1 is not the key any more"; }

# A hard link: refused, both names left as they were, the copy held.
copy_as "$DEPT/linked.key"
ln "$DEPT/linked.key" "$DEPT/second-name.key"
expect_as 1 daemon key destroy "$DEPT/linked.key"
err_has "has 2 names (hard links"
err_has "Nothing was done"
same_key "$DEPT/linked.key"
same_key "$DEPT/second-name.key"
held 2
rm "$DEPT/second-name.key"
expect_as 0 daemon key destroy "$DEPT/linked.key"
held 1

# A FIFO is not opened for long (no hang), a huge file not read: both refused, saying what they are.
mkfifo "$DEPT/fifo.key"
chown daemon "$DEPT/fifo.key"
expect_as 2 daemon key destroy "$DEPT/fifo.key"
err_has "is a FIFO (named pipe), not a key file"
expect_as 2 daemon key register "$DEPT/fifo.key"
err_has "is a FIFO (named pipe)"
# (bounded: before, key show waited on the FIFO for a writer forever)
expect_exit 2 timeout 60 yunbak key show "$DEPT/fifo.key"
err_has "is a FIFO (named pipe)"
truncate -s 1G "$DEPT/huge.key"
chown daemon "$DEPT/huge.key"
expect_as 2 daemon key destroy "$DEPT/huge.key"
err_has "is 1073741824 bytes: not a yunbak key file"

# A directory the caller may not write: refused before the overwrite (the key is not left
# overwritten in place), the copy still held.
mkdir "$DEPT/locked"
chown daemon "$DEPT/locked"
copy_as "$DEPT/locked/"
chown root:root "$DEPT/locked"
chmod 755 "$DEPT/locked"
expect_as 1 daemon key destroy "$DEPT/locked/hr-portal.key"
err_has "cannot be removed from its directory '$DEPT/locked'"
err_has "Nothing was done"
same_key "$DEPT/locked/hr-portal.key"
held 2
# A file of another owner the caller may not write, in the caller's directory: refused, not
# unlinked without its overwrite.
cp "$DEPT/hr-portal.key" "$DEPT/roots.key"
chmod 644 "$DEPT/roots.key"
expect_as 1 daemon key destroy "$DEPT/roots.key"
err_has "cannot be opened for writing"
same_key "$DEPT/roots.key"
[ "$(sql "SELECT count(*) FROM key_copies WHERE path = '$DEPT/roots.key'")" = 0 ] ||
        die "a refused destroy was reported"

# The evidence names only what was done and checked.
copy_as "$DEPT/plain.key"
expect_as 0 daemon key destroy "$DEPT/plain.key"
sql "SELECT evidence FROM key_copies WHERE path = '$DEPT/plain.key'" |
        json '(j["method"], "no name left: link count 0" in j["checks"], "read back: the key'"'"'s bytes are gone" in j["checks"], j["checks"][-1])' |
        grep -qx "('overwrite + unlink', True, True, 'open fails: ENOENT')" ||
        die "the evidence: $(sql "SELECT evidence FROM key_copies WHERE path = '$DEPT/plain.key'")"

# A proxy in front of yunbakd's socket runs SWAP (a shell command) when `seen` passes through,
# then forwards each request to yunbakd and its answer back.
cat >"$SCRATCH/proxy.py" <<'PY'
import os, socket, subprocess, sys
listen, upstream, swap = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX)
s.bind(listen)
os.chmod(listen, 0o666)
s.listen(8)
while True:
    c, _ = s.accept()
    data = b""
    while b"\r\n\r\n" not in data:
        data += c.recv(65536)
    head, body = data.split(b"\r\n\r\n", 1)
    n = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v)
    while len(body) < n:
        body += c.recv(65536)
    if b"/key-copies/seen" in head.split(b"\r\n")[0]:
        subprocess.run(["sh", "-c", swap], check=True)
    u = socket.socket(socket.AF_UNIX)
    u.connect(upstream)
    u.sendall(head + b"\r\n\r\n" + body)
    u.shutdown(socket.SHUT_WR)
    while True:
        b = u.recv(65536)
        if not b:
            break
        c.sendall(b)
    u.close()
    c.close()
PY
# with_proxy SWAP USER ARGS...: yunbak as USER through the proxy; the exit code in $rc.
with_proxy() {
        rm -f "$SCRATCH/proxy.sock"
        python3 "$SCRATCH/proxy.py" "$SCRATCH/proxy.sock" "$SOCK" "$1" 2>"$SCRATCH/proxy.log" &
        proxy=$!
        wait_for "the proxy did not start" '[ -S "$SCRATCH/proxy.sock" ]'
        shift
        u=$1
        shift
        rc=0
        setpriv --reuid="$(id -u "$u")" --regid="$(id -g "$u")" --clear-groups \
                "$YUNBAK" "$@" --socket "$SCRATCH/proxy.sock" >"$SCRATCH/stdout" 2>"$SCRATCH/stderr" ||
                rc=$?
        kill "$proxy"
        wait "$proxy" 2>/dev/null || true
}

# The file swapped for a decoy once checked: the key examined is neither overwritten nor
# reported destroyed, and yunbak says where it went.
copy_as "$DEPT/swapped.key"
before=$(sql "SELECT count(*) FROM key_copies WHERE state = 'destroyed'")
with_proxy "mv '$DEPT/swapped.key' '$DEPT/moved-away.key' && echo decoy >'$DEPT/swapped.key' &&
        chown daemon '$DEPT/swapped.key'" daemon key destroy "$DEPT/swapped.key"
[ "$rc" = 1 ] || die "a swapped file: exit $rc: $(cat "$SCRATCH/stdout" "$SCRATCH/stderr")"
err_has "was replaced while it was being destroyed"
same_key "$DEPT/moved-away.key"
[ "$(sql "SELECT count(*) FROM key_copies WHERE state = 'destroyed'")" = "$before" ] ||
        die "a swapped file was reported destroyed"
[ "$(sql "SELECT state FROM key_copies WHERE path = '$DEPT/swapped.key'")" = held ] ||
        die "the swapped copy is not held"

# A directory of the path swapped for a link to another directory holding a file of the same
# name: that file is untouched; the key examined (in the directory as it was) is destroyed.
mkdir -p "$DEPT/sub" "$SCRATCH/victim"
chown daemon "$DEPT/sub"
copy_as "$DEPT/sub/"
cp "$DEPT/hr-portal.key" "$SCRATCH/victim/hr-portal.key"
with_proxy "mv '$DEPT/sub' '$DEPT/sub-moved' && ln -s '$SCRATCH/victim' '$DEPT/sub'" \
        daemon key destroy "$DEPT/sub/hr-portal.key"
[ "$rc" = 0 ] || die "a swapped directory: exit $rc: $(cat "$SCRATCH/stdout" "$SCRATCH/stderr")"
same_key "$SCRATCH/victim/hr-portal.key"
[ ! -e "$DEPT/sub-moved/hr-portal.key" ] || die "the key examined was not destroyed"
[ "$(sql "SELECT state FROM key_copies WHERE path = '$DEPT/sub/hr-portal.key'")" = destroyed ] ||
        die "the copy is not destroyed"
# Removed by another process once checked (two key destroys at once): this one says so and
# reports nothing.
copy_as "$DEPT/twice.key"
with_proxy "rm '$DEPT/twice.key'" daemon key destroy "$DEPT/twice.key"
[ "$rc" = 1 ] || die "a file removed meanwhile: exit $rc: $(cat "$SCRATCH/stdout" "$SCRATCH/stderr")"
err_has "was removed meanwhile by another process"
[ "$(sql "SELECT state FROM key_copies WHERE path = '$DEPT/twice.key'")" = held ] ||
        die "a file this run did not destroy was reported destroyed"

# The directory made unwritable once checked: the file is overwritten but cannot be removed;
# yunbak says so, by the file's own path, and reports nothing (the copy stays held).
mkdir "$DEPT/closing"
chown daemon "$DEPT/closing"
copy_as "$DEPT/closing/"
with_proxy "chmod 555 '$DEPT/closing'" daemon key destroy "$DEPT/closing/hr-portal.key"
[ "$rc" = 1 ] || die "an unwritable directory: exit $rc: $(cat "$SCRATCH/stdout" "$SCRATCH/stderr")"
err_has "'$DEPT/closing/hr-portal.key' is still there, overwritten with random bytes"
err_has "cannot remove '$DEPT/closing/hr-portal.key'"
grep -q /proc/self "$SCRATCH/stderr" && die "the message names the descriptor's path: $(cat "$SCRATCH/stderr")"
[ "$(sql "SELECT state FROM key_copies WHERE path = '$DEPT/closing/hr-portal.key'")" = held ] ||
        die "a file left in place was reported destroyed"
# Decommissioned, then its policy removed: a key file of it found later is still recorded
# (found), warned about and destroyed through yunbakd, not turned away as an unknown system.
sql "INSERT INTO decommissions (system, department, state, reason, requested_by, requested_usec,
     updated_usec) VALUES ('hr-portal', '人社局', 'certified', 'test', 'daemon', 1, 1)"
rm "$D/policies/hr-portal.yaml"
api POST /v1/reload >/dev/null
[ "$(cat "$D/status")" = 200 ] || die "reload: $(cat "$D/body")"
cp "$DEPT/hr-portal.key" "$DEPT/survivor.key"
chown daemon "$DEPT/survivor.key"
expect_as 0 daemon key destroy "$DEPT/survivor.key"
err_has "was not a registered copy"
[ ! -e "$DEPT/survivor.key" ] || die "the surviving copy is still there"
[ "$(sql "SELECT found, state FROM key_copies WHERE path = '$DEPT/survivor.key'")" = "1|destroyed" ] ||
        die "the surviving copy: $(sql "SELECT * FROM key_copies WHERE path = '$DEPT/survivor.key'")"
audit_has key.unregistered warning daemon "is certified"
# Another department still sees no such system.
mkdir "$SCRATCH/bins"
cp "$DEPT/hr-portal.key" "$SCRATCH/bins/hr-portal.key"
chown -R bin "$SCRATCH/bins"
expect_as 1 bin key destroy "$SCRATCH/bins/hr-portal.key"
err_has "no system 'hr-portal'"
[ -f "$SCRATCH/bins/hr-portal.key" ] || die "a refused destroy removed the file"
echo "key-copies-destroy-races: ok"
