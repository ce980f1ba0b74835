#!/usr/bin/env python3
"""Prints bench/run.sh results as tables: medians over rounds, and yunbak's ratios to restic."""
import csv
import statistics
import sys
from collections import defaultdict

rows = list(csv.DictReader(open(sys.argv[1] if len(sys.argv) > 1 else "/tmp/bench-work/results/bench.tsv"), delimiter="\t"))
by = defaultdict(list)
for r in rows:
    by[(r["peer"], r["step"])].append(r)
peers = sorted({r["peer"] for r in rows}, key=lambda p: (p != "yunbak", p))


def med(peer, step, key):
    v = [float(r[key]) for r in by.get((peer, step), []) if r[key] not in ("", None)]
    return statistics.median(v) if v else None


def stored_added(peer):
    a, b = med(peer, "full", "stored_bytes"), med(peer, "incr", "stored_bytes")
    return None if a is None or b is None else (b - a) / 2**20


def f(v, fmt="%.1f"):
    return "-" if v is None else fmt % v


print("| peer | full wall s | full cpu s | full RSS MiB | stored after full MiB | incr wall s | incr stored MiB | incr RSS MiB | no-change incr s | restore wall s | restore RSS MiB | verify wall s |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for p in peers:
    cpu = None
    if med(p, "full", "user_s") is not None:
        cpu = med(p, "full", "user_s") + med(p, "full", "sys_s")
    rss = lambda s: None if med(p, s, "maxrss_kib") is None else med(p, s, "maxrss_kib") / 1024
    sf = med(p, "full", "stored_bytes")
    print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        p, f(med(p, "full", "wall_s")), f(cpu), f(rss("full"), "%.0f"), f(None if sf is None else sf / 2**20, "%.0f"),
        f(med(p, "incr", "wall_s")), f(stored_added(p)), f(rss("incr"), "%.0f"), f(med(p, "incr-nochange", "wall_s"), "%.2f"),
        f(med(p, "restore", "wall_s")), f(rss("restore"), "%.0f"), f(med(p, "check", "wall_s"))))
if "yunbak" in peers and "restic" in peers:
    print()
    print("yunbak / restic (targets in parentheses):")
    for label, step, key, target in [("full wall", "full", "wall_s", "<= 0.6"), ("incr wall", "incr", "wall_s", "<= 0.6"),
                                     ("restore wall", "restore", "wall_s", "<= 0.7")]:
        a, b = med("yunbak", step, key), med("restic", step, key)
        if a and b:
            print("  %-14s %.2f (%s)" % (label, a / b, target))
    a, b = stored_added("yunbak"), stored_added("restic")
    if a is not None and b:
        print("  %-14s %.3f (<= 0.05)" % ("incr stored", a / b))
