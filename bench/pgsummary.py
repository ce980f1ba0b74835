#!/usr/bin/env python3
"""Prints bench/pg.sh results as a Markdown table: per peer, the median over rounds of each step,
and the ratios the issue sets targets for (incremental bytes stored and restore wall against
pgBackRest's). Loads are the 1-minute load average at the step's start and end (the machine is
shared).

  pgsummary.py [pg.tsv [SAMPLES.tsv...]]
"""
import csv
import statistics
import sys
from collections import defaultdict

rows = list(csv.DictReader(open(sys.argv[1] if len(sys.argv) > 1 else "/tmp/bench-work/results/pg.tsv"),
                           delimiter="\t"))
by = defaultdict(list)
for r in rows:
    by[(r["peer"], r["step"])].append(r)
peers = [p for p in ("yunbak", "pgbackrest", "barman") if any(k[0] == p for k in by)]


def med(peer, step, key):
    v = []
    for r in by.get((peer, step), []):
        try:
            v.append(float(r[key]))
        except (TypeError, ValueError):
            pass
    return statistics.median(v) if v else None


def cpu(peer, step):
    u, s = med(peer, step, "user_s"), med(peer, step, "sys_s")
    return None if u is None else u + (s or 0)


def loads(peer, step):
    return ", ".join(f'{r["load_start"]}-{r["load_end"]}' for r in by.get((peer, step), [])) or "-"


def f(v, fmt="%.1f"):
    return "-" if v is None else fmt % v


def mib(v):
    return None if v is None else v / 2**20


print("| peer | full wall s | full CPU s | full stored MiB | WAL CPU s | WAL stored MiB | incr wall s | incr CPU s "
      "| incr stored MiB | incr / pgBackRest | restore wall s | start to end of recovery s | restore / pgBackRest "
      "| WAL lag p99 s | loads (full; incr; restore) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
ref_incr, ref_restore = med("pgbackrest", "incr", "step_bytes"), med("pgbackrest", "restore", "wall_s")
for p in peers:
    incr, restore = med(p, "incr", "step_bytes"), med(p, "restore", "wall_s")
    print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        p, f(med(p, "full", "wall_s")), f(cpu(p, "full")), f(mib(med(p, "full", "step_bytes"))),
        f(cpu(p, "wal")), f(mib(med(p, "wal", "step_bytes"))),
        f(med(p, "incr", "wall_s")), f(cpu(p, "incr")), f(mib(incr)),
        f(None if incr is None or not ref_incr else incr / ref_incr, "%.2f"),
        f(restore), f(med(p, "start", "wall_s")),
        f(None if restore is None or not ref_restore else restore / ref_restore, "%.2f"),
        f(med(p, "lag", "wall_s"), "%.2f"),
        "; ".join(loads(p, s) for s in ("full", "incr", "restore"))))
for r in rows:
    if r["step"] in ("pgbench", "pgbench-init") or r["step"] == "start":
        print(f'round {r["round"]} {r["peer"]} {r["step"]}: {r["wall_s"]} s, load {r["load_start"]}-{r["load_end"]}: {r["note"]}')

# The WAL phase's samples (pg.sh's pg_r<N>_samples.tsv), when given: the load, and each
# replication client's write and flush lag as pg_stat_replication shows them.
for path in sys.argv[2:]:
    load, lags = [], defaultdict(lambda: ([], []))
    for line in open(path):
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 2:
            continue
        load.append(float(parts[1].split()[0]))
        for item in (parts[2].split() if len(parts) > 2 else []):
            name, _, v = item.partition("=")
            w, _, fl = v.partition("/")
            for i, x in enumerate((w, fl)):
                if x not in ("-", ""):
                    lags[name][i].append(float(x))
    pct = lambda xs, p: sorted(xs)[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else None
    print(f"{path}: {len(load)} samples, load average (1 min) mean {statistics.mean(load):.2f}, max {max(load):.2f}")
    for name, (w, fl) in sorted(lags.items()):
        print(f"  {name}: write lag p50 {f(pct(w, 50), '%.2f')} p99 {f(pct(w, 99), '%.2f')} s; "
              f"flush lag p50 {f(pct(fl, 50), '%.2f')} p99 {f(pct(fl, 99), '%.2f')} max {f(max(fl) if fl else None, '%.2f')} s")
