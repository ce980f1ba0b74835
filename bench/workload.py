#!/usr/bin/env python3
"""bench/workload.py - the tier-2 replication workload (issue 11), the same for every peer.

  workload.py prep DIR                    the starting tree: DIR/app (small files in directories)
                                          and DIR/db (database-like files, DB_FILES x DB_SIZE)
  workload.py run DIR SECONDS [OUT.json]  changes the tree for SECONDS: per second about OPS file
                                          operations on small files (write new, rewrite, rename,
                                          delete, now and then a directory moved) and RATE bytes
                                          of 8 KiB pages rewritten at random offsets of the db
                                          files, in 10 ticks a second; and every tick the file
                                          DIR/canary gets the wall-clock time (ns) it was written
                                          at, so that a replica's canary tells how far behind it is.
Environment: OPS (200), RATE (5000000), DB_FILES (4), DB_SIZE (256 MiB), SMALL_DIRS (40),
SMALL_PER_DIR (250), SEED (1). Prints (or writes to OUT.json) what it changed: operations, bytes
written, ticks late.
"""
import json, os, random, sys, time

OPS = int(os.environ.get("OPS", 200))
RATE = int(os.environ.get("RATE", 5_000_000))
DB_FILES = int(os.environ.get("DB_FILES", 4))
DB_SIZE = int(os.environ.get("DB_SIZE", 256 << 20))
SMALL_DIRS = int(os.environ.get("SMALL_DIRS", 40))
SMALL_PER_DIR = int(os.environ.get("SMALL_PER_DIR", 250))
PAGE = 8192
rng = random.Random(int(os.environ.get("SEED", 1)))


def payload(n):
    # Half random, half repetitive: about as compressible as application data.
    half = n // 2
    return rng.randbytes(half) + (b"yunbak-workload " * (n // 16 + 1))[: n - half]


def prep(d):
    os.makedirs(f"{d}/db", exist_ok=True)
    for i in range(DB_FILES):
        with open(f"{d}/db/table{i}.dat", "wb") as f:
            for _ in range(DB_SIZE // (1 << 20)):
                f.write(payload(1 << 20))
    for i in range(SMALL_DIRS):
        os.makedirs(f"{d}/app/d{i:03}", exist_ok=True)
        for j in range(SMALL_PER_DIR):
            with open(f"{d}/app/d{i:03}/f{j:05}", "wb") as f:
                f.write(payload(rng.randint(512, 16384)))
    with open(f"{d}/canary", "w") as f:
        f.write(str(time.time_ns()))


def run(d, seconds, out):
    dirs = sorted(os.listdir(f"{d}/app"))
    files = {x: sorted(os.listdir(f"{d}/app/{x}")) for x in dirs}
    dbs = [os.open(f"{d}/db/table{i}.dat", os.O_WRONLY) for i in range(DB_FILES)]
    stats = {"ops": 0, "pages": 0, "bytes": 0, "dir_moves": 0, "late_ticks": 0, "seconds": seconds}
    serial = 0
    start = time.monotonic()
    ticks = int(seconds * 10)
    page_budget = 0.0
    for t in range(ticks):
        due = start + t / 10
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        elif now - due > 0.1:
            stats["late_ticks"] += 1
        for _ in range(OPS // 10):
            x = rng.choice(dirs)
            fl = files[x]
            op = rng.random()
            if op < 0.35 or not fl:
                serial += 1
                name = f"n{serial:07}"
                data = payload(rng.randint(512, 16384))
                with open(f"{d}/app/{x}/{name}", "wb") as f:
                    f.write(data)
                fl.append(name)
                stats["bytes"] += len(data)
            elif op < 0.75:
                name = rng.choice(fl)
                data = payload(rng.randint(512, 16384))
                with open(f"{d}/app/{x}/{name}", "wb") as f:
                    f.write(data)
                stats["bytes"] += len(data)
            elif op < 0.9:
                name = fl.pop(rng.randrange(len(fl)))
                y = rng.choice(dirs)
                serial += 1
                new = f"r{serial:07}"
                os.rename(f"{d}/app/{x}/{name}", f"{d}/app/{y}/{new}")
                files[y].append(new)
            else:
                name = fl.pop(rng.randrange(len(fl)))
                os.unlink(f"{d}/app/{x}/{name}")
            stats["ops"] += 1
        if rng.random() < 0.01:  # about once every 10 s: a directory moved
            i = rng.randrange(len(dirs))
            serial += 1
            new = f"m{serial:07}"
            os.rename(f"{d}/app/{dirs[i]}", f"{d}/app/{new}")
            files[new] = files.pop(dirs[i])
            dirs[i] = new
            stats["dir_moves"] += 1
        page_budget += RATE / 10
        while page_budget >= PAGE:
            page_budget -= PAGE
            fd = rng.choice(dbs)
            off = rng.randrange(DB_SIZE // PAGE) * PAGE
            os.pwrite(fd, payload(PAGE), off)
            stats["pages"] += 1
            stats["bytes"] += PAGE
        with open(f"{d}/canary.tmp", "w") as f:
            f.write(str(time.time_ns()))
        os.rename(f"{d}/canary.tmp", f"{d}/canary")
    for fd in dbs:
        os.close(fd)
    stats["wall"] = time.monotonic() - start
    text = json.dumps(stats)
    if out:
        with open(out, "w") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "prep":
        prep(sys.argv[2])
    elif len(sys.argv) >= 4 and sys.argv[1] == "run":
        run(sys.argv[2], float(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else None)
    else:
        sys.exit(__doc__)
