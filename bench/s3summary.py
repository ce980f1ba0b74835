#!/usr/bin/env python3
"""Prints bench/s3.sh results as tables: per round and peer the backups' wall, CPU (and the cores
it kept busy: CPU / wall), peak RSS, requests and bytes stored; the ratios taken within each
round (yunbak to S3 against yunbak to a local directory, and against restic's S3 backend); the
link's use."""
import csv
import statistics
import sys
from collections import defaultdict

rows = list(csv.DictReader(open(sys.argv[1] if len(sys.argv) > 1 else "/tmp/bench-work/results/s3.tsv"),
                           delimiter="\t"))
# Only the steps that did their work count (yunbak-agent's exit 3: done with warnings).
by = {(r["round"], r["peer"], r["step"]): r for r in rows if r["exit"] in ("0", "3")}
failed = [r for r in rows if r["exit"] not in ("0", "3")]
rounds = sorted({r["round"] for r in rows}, key=int)


def num(r, k):
    try:
        return float(r[k])
    except (KeyError, TypeError, ValueError):
        return None


def f(v, fmt="%.1f"):
    return "-" if v is None else fmt % v


def cell(rnd, peer, step, k, fmt="%.1f", scale=1.0):
    r = by.get((rnd, peer, step))
    v = None if r is None else num(r, k)
    return "-" if v is None else fmt % (v * scale)


peers = [p for p in ("yunbak-local", "yunbak-s3", "restic-s3") if any(k[1] == p for k in by)]
print("| round | peer | step | wall s | CPU s (user+sys) | cores busy | peak RSS MiB | requests (failed) | GET / PUT | "
      "MB in / out | radosgw+OSD CPU s | stored MiB |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for rnd in rounds:
    for peer in peers:
        for step in ("full", "incr"):
            r = by.get((rnd, peer, step))
            if r is None:
                continue
            cpu = (num(r, "user_s") or 0) + (num(r, "sys_s") or 0)
            req = "-" if r["req"] == "-" else f"{r['req']} ({r['failed_req']})"
            gp = "-" if r["get"] == "-" else f"{r['get']} / {r['put']}"
            mb = "-" if r["get"] == "-" else f"{num(r, 'put_b') / 1e6:.1f} / {num(r, 'get_b') / 1e6:.1f}"
            wall = num(r, "wall_s")
            print(f"| {rnd} | {peer} | {step} | {r['wall_s']} | {cpu:.1f} | {f(wall and cpu / wall, '%.2f')} | "
                  f"{cell(rnd, peer, step, 'maxrss_kib', '%.0f', 1 / 1024)} | {req} | {gp} | {mb} | "
                  f"{r['server_cpu_s']} | {cell(rnd, peer, step, 'stored_bytes', '%.1f', 1 / 2**20)} |")

print()
print("| round | step | yunbak S3 / local (wall) | yunbak S3 / restic S3 (wall) | target S3 / local <= 1.3 |")
print("|---|---|---|---|---|")
ratios = defaultdict(list)
for rnd in rounds:
    for step in ("full", "incr"):
        w = {p: num(by[(rnd, p, step)], "wall_s") if (rnd, p, step) in by else None for p in peers}
        a = w.get("yunbak-s3")
        lr = a / w["yunbak-local"] if a and w.get("yunbak-local") else None
        rr = a / w["restic-s3"] if a and w.get("restic-s3") else None
        if lr is not None:
            ratios[step].append(lr)
        met = "-" if lr is None else ("met" if lr <= 1.3 else "**not met**")
        print(f"| {rnd} | {step} | {f(lr, '%.2f')} | {f(rr, '%.2f')} | {met} |")
for step, v in ratios.items():
    print(f"median S3 / local, {step}: {statistics.median(v):.2f}")

link = [r for r in by.values() if r["step"].startswith("link-")]
if link:
    print()
    print("| round | peer | step | wall s | bytes MB | link use | send s | link use while sending | requests (GET / PUT) | MB in / out | CPU s | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in link:
        cpu = (num(r, "user_s") or 0) + (num(r, "sys_s") or 0)
        b = num(r, "bytes")
        print(f"| {r['round']} | {r['peer']} | {r['step']} | {r['wall_s']} | {f(b and b / 1e6)} | "
              f"{r['link_use']} | {f(num(r, 'send_s'))} | {r['send_link_use']} | {r['req']} ({r['get']} / {r['put']}) | "
              f"{num(r, 'put_b') / 1e6:.1f} / {num(r, 'get_b') / 1e6:.1f} | {cpu:.1f} | {f(num(r, 'maxrss_kib') and num(r, 'maxrss_kib') / 1024, '%.0f')} |")

for r in failed:
    print(f"FAILED: round {r['round']} {r['peer']} {r['step']} exited {r['exit']}: "
          f"see logs/s3_r{r['round']}_{r['peer']}_{r['step']}.out")
