# Sourced by every integration test: scratch directory, helpers, and the binaries on PATH.
# Provides $SCRATCH, die, expect_exit, make_key, tree_digest, make_rich_tree, wait_for,
# start_silent_server.
set -eu
: "${TESTS:?run through ctest}"
: "${BIN:?run through ctest}"
PATH="$BIN:$PATH"
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/yb-it-${TEST_NAME:-x}-XXXXXX")
# Tests make throw-away keys: the cheap Argon2id profile is enough there.
export YUNBAK_KDF=interactive
export YUNBAK_AGENT_STATE_DIR="$SCRATCH/agent-state"
unset YUNBAK_PASSPHRASE_FILE
cleanup() {
        chmod -R u+rwx "$SCRATCH" 2>/dev/null || true
        rm -rf "$SCRATCH"
}
trap cleanup EXIT

die() {
        echo "FAIL: $*" >&2
        exit 1
}

# expect_exit CODE CMD...: runs CMD, fails the test unless it exits with CODE. Keeps stderr in
# $SCRATCH/stderr for message checks.
expect_exit() {
        want=$1
        shift
        set +e
        "$@" >"$SCRATCH/stdout" 2>"$SCRATCH/stderr"
        got=$?
        set -e
        if [ "$got" -ne "$want" ]; then
                cat "$SCRATCH/stdout" "$SCRATCH/stderr" >&2
                die "expected exit $want, got $got: $*"
        fi
}

# expect_stderr REGEX: the last expect_exit's stderr matches (grep -E).
expect_stderr() {
        grep -Eq -- "$1" "$SCRATCH/stderr" || {
                cat "$SCRATCH/stderr" >&2
                die "stderr does not match /$1/"
        }
}

# make_key SYSTEM: $SCRATCH/keys/SYSTEM.{pub,key} with passphrase file $SCRATCH/pass.
make_key() {
        mkdir -p "$SCRATCH/keys"
        [ -f "$SCRATCH/pass" ] || printf 'correct horse battery staple\n' >"$SCRATCH/pass"
        yunbak key init --system "$1" --out "$SCRATCH/keys" --passphrase-file "$SCRATCH/pass" >/dev/null
}

# tree_digest DIR: one line per entry with type, mode, owner, size, mtime (ns), xattrs, link target
# and content hash; hard links by group. Equal digests mean equal trees.
tree_digest() {
        python3 "$TESTS/integration/treedigest.py" "$@"
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# flip_byte FILE OFFSET: changes the byte at OFFSET of FILE in place (its lowest bit), so that it
# is different whatever it was: writing a fixed byte over random or encrypted data leaves it as
# it was once in 256 times, and a test of tampering then fails now and then.
flip_byte() {
        python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
off = int(sys.argv[2])
b = os.pread(fd, 1, off)
assert len(b) == 1, "no byte at %d" % off
os.pwrite(fd, bytes([b[0] ^ 1]), off)
os.close(fd)' "$1" "$2"
}

# age_recent DIR: files written in the last minute get an mtime a minute old. A file written less
# than a second before a backup reads it is read again by the next backup (it could still change
# within the clock tick); tests that count what an incremental reads age their files so that
# the counts do not depend on how fast the machine is.
age_recent() {
        find "$1" -type f -newermt '1 minute ago' -execdir touch -d '1 minute ago' {} +
}

# wait_for MESSAGE CONDITION: evaluates the shell CONDITION every 0.05 s until it holds, for at
# most 60 s; then dies with MESSAGE.
wait_for() {
        _wait_i=0
        until eval "$2"; do
                _wait_i=$((_wait_i + 1))
                [ "$_wait_i" -lt 1200 ] || die "$1"
                sleep 0.05
        done
}

# start_silent_server SOCKET: a server on the Unix socket SOCKET that accepts every connection and
# never answers (a database server that hangs), running in the background once the socket is
# there; SILENT_PID is its pid, for the test to kill.
start_silent_server() {
        python3 - "$1" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(8)
held = []
while True:
    held.append(s.accept()[0])
PY
        SILENT_PID=$!
        wait_for "the silent server at $1 did not start" "[ -S '$1' ]"
}

# make_rich_tree DIR: every kind of thing a backup must keep.
make_rich_tree() {
        d=$1
        mkdir -p "$d/etc" "$d/empty-dir" "$d/data/nested/deeper"
        printf 'listen: 8443\n' >"$d/etc/app.yaml"
        : >"$d/empty-file"
        head -c 300000 /dev/urandom >"$d/data/random.bin"
        seq 1 20000 >"$d/data/numbers.txt"
        ln -s ../etc/app.yaml "$d/data/config-link"
        ln -s /nonexistent/target "$d/dangling"
        ln "$d/data/numbers.txt" "$d/data/nested/numbers-hardlink"
        mkfifo "$d/fifo"
        printf 'new\nline' >"$d/name with
newline"
        printf 'bytes' >"$d/$(printf 'bad\377utf8')"
        printf 'long' >"$d/$(python3 -c 'print("n" * 255)')"
        printf 'sticky' >"$d/data/sticky" && chmod 1644 "$d/data/sticky"
        printf 'setuid' >"$d/data/setuid" && chmod 4755 "$d/data/setuid"
        chmod 0700 "$d/data/nested/deeper"
        if setfattr -n user.department -v finance "$d/etc/app.yaml" 2>/dev/null; then
                setfattr -n user.empty "$d/empty-file"
                setfattr -n user.dir -v attr "$d/data"
        fi
        setfacl -m u:nobody:r "$d/etc/app.yaml" 2>/dev/null || true
        setfacl -d -m g:nogroup:rx "$d/data" 2>/dev/null || true
        # Sparse: 64 MiB with two islands of data.
        truncate -s 64M "$d/data/sparse.img"
        printf 'island one' | dd of="$d/data/sparse.img" bs=1 seek=1048576 conv=notrunc 2>/dev/null
        printf 'island two' | dd of="$d/data/sparse.img" bs=1 seek=40000000 conv=notrunc 2>/dev/null
        # A path deeper than PATH_MAX (4096): 40 levels of 120-byte names.
        python3 - "$d" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
for i in range(40):
    name = ("deep%02d" % i) + "x" * 114
    os.mkdir(name, dir_fd=fd)
    nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
    os.close(fd)
    fd = nfd
f = os.open("bottom.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
os.write(f, b"at the bottom\n")
os.close(f)
os.close(fd)
PY
        touch -h -d '2020-02-29 12:34:56.123456789' "$d/data/config-link" "$d/dangling"
        touch -d '2001-09-09 01:46:40.987654321' "$d/etc/app.yaml" "$d/empty-dir"
        if is_root; then
                mknod "$d/chardev" c 1 3
                mknod "$d/blockdev" b 7 200
                chown 1234:5678 "$d/etc/app.yaml"
                chown -h 4321:8765 "$d/dangling"
        fi
}
