#!/bin/sh
# Without a passphrase file, key init asks twice on the terminal (and refuses a mismatch);
# restore asks once. Driven through a pseudo-terminal.
. "$TESTS/integration/lib.sh"

python3 - "$SCRATCH" <<'PY' || die "the terminal dialogue failed"
import os, pty, signal, sys, time
scratch = sys.argv[1]
signal.alarm(120)  # a dialogue that hangs fails instead of blocking the suite

def run(argv, answers):
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(argv[0], argv)
    out = b""
    for a in answers:
        while b"assphrase" not in out.split(b"\n")[-1]:
            chunk = os.read(fd, 1024)
            if not chunk:
                break
            out += chunk
        os.write(fd, a + b"\n")
        out += b"\n"
    while True:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")

os.makedirs(scratch + "/k1")
code, out = run(["yunbak", "key", "init", "--system", "hr", "--out", scratch + "/k1"], [b"one", b"two"])
assert code == 1 and "differ" in out, (code, out)
assert not os.path.exists(scratch + "/k1/hr.key")
code, out = run(["yunbak", "key", "init", "--system", "hr", "--out", scratch + "/k1"], [b"s3cret", b"s3cret"])
assert code == 0 and os.path.exists(scratch + "/k1/hr.key"), (code, out)
assert "s3cret" not in out, "the passphrase was echoed"
os.makedirs(scratch + "/store")
os.makedirs(scratch + "/data")
open(scratch + "/data/f", "w").write("x")
import subprocess
subprocess.run(["yunbak-agent", "backup", "--store", scratch + "/store", "--system", "hr",
                "--public-key", scratch + "/k1/hr.pub", "--level", "full", scratch + "/data"],
               check=True, stdout=subprocess.DEVNULL)
code, out = run(["yunbak", "restore", "--store", scratch + "/store", "--system", "hr",
                 "--key", scratch + "/k1/hr.key", "--target", scratch + "/out"], [b"s3cret"])
assert code == 0 and open(scratch + "/out/data/f").read() == "x", (code, out)
PY
echo "key-prompt: ok"
