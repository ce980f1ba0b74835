#!/usr/bin/env python3
"""bench/pgrun.py - runs a command and appends what it cost, for bench/pg.sh.

  pgrun.py OUT.tsv LABEL -- CMD [ARG...]

Appends "LABEL<TAB>wall_s<TAB>user_s<TAB>sys_s<TAB>maxrss_kib<TAB>exit" to OUT.tsv when CMD ends
and exits with CMD's code. CPU is getrusage(RUSAGE_CHILDREN): CMD and every process below it,
because this wrapper is a child subreaper (processes whose parent dies are re-parented to it and
reaped here, so a daemon's helper, such as Barman's pg_receivewal, is counted too). SIGTERM,
SIGINT and SIGHUP are passed to CMD's whole process group; then it waits for every descendant.
Used where /usr/bin/time cannot go: in archive_command (one row per WAL file) and around
long-running WAL receivers that are stopped by a signal.
"""
import ctypes
import os
import resource
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def main():
    if len(sys.argv) < 5 or sys.argv[3] != "--":
        sys.exit(__doc__)
    out, label, cmd = sys.argv[1], sys.argv[2], sys.argv[4:]
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.setpgid(0, 0)
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)

    def forward(sig, _frame):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            pass

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, forward)
    rc = None
    while True:
        try:
            p, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if p == pid:
            rc = os.waitstatus_to_exitcode(status)
            if rc < 0:
                rc = 128 - rc
            # What is left of its group (helpers it did not stop) goes with it.
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    wall = time.monotonic() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out, "a") as f:
        f.write(f"{label}\t{wall:.3f}\t{ru.ru_utime:.3f}\t{ru.ru_stime:.3f}\t{ru.ru_maxrss}\t{rc}\n")
    sys.exit(rc if rc is not None else 127)


if __name__ == "__main__":
    main()
