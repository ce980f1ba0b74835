#!/usr/bin/env python3
"""Prints bench/run.sh results as tables: medians over rounds, yunbak's ratios to restic, issue 16's
targets round by round, and (with bench/limits.sh's rows) the limits table and how far each of
yunbak's steps is from the sum of its stages' limits divided over two cores.

  summary.py [bench.tsv] [--limits yb-limits.tsv]
  summary.py --limits yb-limits.tsv          # the limits and the bounds alone

Without --limits, yb-limits.tsv beside bench.tsv is used when it is there."""
import argparse
import csv
import os
import statistics
from collections import defaultdict

MiB = 2**20


def med(rows, peer, step, key):
    v = [float(r[key]) for r in rows if r["peer"] == peer and r["step"] == step and r[key] not in ("", None)]
    return statistics.median(v) if v else None


def stored_added(rows, peer):
    a, b = med(rows, peer, "full", "stored_bytes"), med(rows, peer, "incr", "stored_bytes")
    return None if a is None or b is None else (b - a) / MiB


def f(v, fmt="%.1f"):
    return "-" if v is None else fmt % v


def medians_table(rows):
    peers = sorted({r["peer"] for r in rows}, key=lambda p: (p != "yunbak", p))
    print("| peer | full wall s | full cpu s | full RSS MiB | stored after full MiB | incr wall s | incr stored MiB | incr RSS MiB | no-change incr s | restore wall s | restore RSS MiB | verify wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for p in peers:
        m = lambda step, key: med(rows, p, step, key)
        cpu = None if m("full", "user_s") is None else m("full", "user_s") + m("full", "sys_s")
        rss = lambda s: None if m(s, "maxrss_kib") is None else m(s, "maxrss_kib") / 1024
        sf = m("full", "stored_bytes")
        print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            p, f(m("full", "wall_s")), f(cpu), f(rss("full"), "%.0f"), f(None if sf is None else sf / MiB, "%.0f"),
            f(m("incr", "wall_s")), f(stored_added(rows, p)), f(rss("incr"), "%.0f"), f(m("incr-nochange", "wall_s"), "%.2f"),
            f(m("restore", "wall_s")), f(rss("restore"), "%.0f"), f(m("check", "wall_s"))))
    if "yunbak" in peers and "restic" in peers:
        print()
        print("yunbak / restic, medians (issue 2's targets in parentheses):")
        for label, step, target in [("full wall", "full", "<= 0.6"), ("incr wall", "incr", "<= 0.6"),
                                    ("restore wall", "restore", "<= 0.7")]:
            a, b = med(rows, "yunbak", step, "wall_s"), med(rows, "restic", step, "wall_s")
            if a and b:
                print("  %-14s %.2f (%s)" % (label, a / b, target))
        a, b = stored_added(rows, "yunbak"), stored_added(rows, "restic")
        if a is not None and b:
            print("  %-14s %.3f (<= 0.05)" % ("incr stored", a / b))


def targets_table(rows):
    """Issue 16's targets, each round on its own: ratios are taken within a round."""
    rounds = sorted({r["round"] for r in rows}, key=int)
    by = {(r["round"], r["peer"], r["step"]): r for r in rows}

    def val(rnd, peer, step, key):
        r = by.get((rnd, peer, step))
        return None if r is None or r[key] in ("", None) else float(r[key])

    def ratio(rnd, step):
        a, b = val(rnd, "yunbak", step, "wall_s"), val(rnd, "restic", step, "wall_s")
        return None if a is None or not b else a / b

    def stored(rnd):
        d = {}
        for p in ("yunbak", "restic"):
            a, b = val(rnd, p, "full", "stored_bytes"), val(rnd, p, "incr", "stored_bytes")
            d[p] = None if a is None or b is None else b - a
        return None if d["yunbak"] is None or not d["restic"] else (d["yunbak"] / d["restic"], d["yunbak"] / MiB)

    def rss(rnd):
        v = [(val(rnd, "yunbak", s, "maxrss_kib") / 1024, s) for s in ("full", "incr", "incr-nochange", "restore", "check")
             if val(rnd, "yunbak", s, "maxrss_kib") is not None]
        return max(v) if v else None

    checks = [  # label, target text, value of a round, its text, met?
        ("restore wall / restic", "<= 0.6", lambda r: ratio(r, "restore"), lambda v: "%.2f" % v, lambda v: v <= 0.6),
        ("full wall / restic", "<= 0.6", lambda r: ratio(r, "full"), lambda v: "%.2f" % v, lambda v: v <= 0.6),
        ("incr wall / restic", "<= 0.4", lambda r: ratio(r, "incr"), lambda v: "%.2f" % v, lambda v: v <= 0.4),
        ("incr stored / restic", "<= 1/35 (0.029)", stored, lambda v: "%.3f (%.1f MiB)" % v, lambda v: v[0] <= 1 / 35),
        ("no-change incr wall", "< 0.5 s", lambda r: val(r, "yunbak", "incr-nochange", "wall_s"), lambda v: "%.2f s" % v,
         lambda v: v < 0.5),
        ("peak RSS, every step", "<= 128 MiB", rss, lambda v: "%.0f MiB (%s)" % v, lambda v: v[0] <= 128),
    ]
    print("| issue 16 target | target | %s | all rounds |" % " | ".join("round %s" % r for r in rounds))
    print("|---|---|%s---|" % ("---|" * len(rounds)))
    for label, target, get, show, ok in checks:
        cells, verdicts = [], []
        for r in rounds:
            v = get(r)
            if v is None:
                cells.append("-")
                continue
            verdicts.append(ok(v))
            cells.append("%s %s" % (show(v), "met" if ok(v) else "not met"))
        verdict = "-" if not verdicts else ("met" if all(verdicts) else "not met")
        print("| %s | %s | %s | %s |" % (label, target, " | ".join(cells), verdict))


def num(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


class Limits:
    """bench/limits.sh's rows: the median over repetitions of each metric and of each of its
    numeric extra fields."""

    def __init__(self, path):
        vals, extras, self.unit = defaultdict(list), defaultdict(list), {}
        for r in csv.DictReader(open(path), delimiter="\t"):
            if r["value"] in ("", None):
                continue
            vals[r["metric"]].append(float(r["value"]))
            extras[r["metric"]].append(dict(kv.split("=", 1) for kv in (r["extra"] or "").split() if "=" in kv))
            self.unit[r["metric"]] = r["unit"]
        self.v = {k: statistics.median(x) for k, x in vals.items()}
        self.extra = {k: {f: statistics.median(v) for f in x[-1] if (v := [num(e.get(f)) for e in x if num(e.get(f)) is not None])}
                      for k, x in extras.items()}
        self.reps = max((len(x) for k, x in vals.items() if k.startswith("stage_")), default=0)

    def __contains__(self, k):
        return k in self.v

    def __getitem__(self, k):
        return self.v[k]

    def x(self, k, field):
        return self.extra[k][field]

    def out_ratio(self, k):  # bytes out per byte in
        return self.x(k, "out") / self.x(k, "in")


def limits_table(L):
    notes = {
        "read_cold": "every file, 1 MiB read()s, after drop_caches (wall)",
        "read_warm": "the same from the page cache (wall)",
        "scan_stat_warm": "stat of every entry (wall)",
        "stage_blake2b_sodium": "BLAKE2b-256 of every file, libsodium (the format's hash)",
        "stage_blake2b_libb2": "the same through libb2",
        "stage_sha256_evp": "SHA-256 of every file, OpenSSL EVP (SHA-NI)",
        "stage_rsync_sig": "librsync signature of the files >= 64 KiB",
        "stage_libb2_4k": "of which: libb2 BLAKE2b of every 4 KiB block",
        "stage_zstd_l1_w0": "zstd -1, one thread",
        "stage_zstd_l2_w0": "zstd -2, one thread (yunbak's default since issue 16)",
        "stage_zstd_l3_w0": "zstd -3, one thread (the default before issue 16)",
        "stage_zstd_l1_w2": "zstd -1, nbWorkers 2",
        "stage_zstd_l3_w2": "zstd -3, nbWorkers 2",
        "stage_sig_sodium": "the signature as yunbak makes it: weak sum and libsodium BLAKE2b of every 4 KiB block",
        "stage_seal": "XChaCha20-Poly1305 secretstream, 64 KiB messages, of the stored zstd output (level 2; level 3 in older rows)",
        "stage_blake2b_stored": "BLAKE2b-256 of the sealed bytes",
        "stage_open": "secretstream pull of them",
        "stage_zstd_d": "zstd -d (MiB/s of compressed input)",
        "b3sum_1thread": "BLAKE3, b3sum CLI, one thread (no C library in Debian 12)",
        "rsync_signature_text": "librsync signature, text database",
        "rsync_delta_text": "librsync delta, text database, 1% of pages changed",
        "rsync_delta_random": "the same, incompressible database",
        "rsync_patch_text": "librsync patch (MiB/s of output)",
        "write_seq_fsync": "one volume-sized file, 1 MiB writes, fsync (wall)",
        "write_tree_plain": "the corpus's 50,592 files re-made: create, write, close (wall)",
        "write_tree_restore": "as restore: create in place, write, fchown, fchmod, futimens (wall; before issue 16's rows: a staging file and a rename)",
        "write_tree_fsync": "create, write, fsync, close (wall)",
    }
    print("Limits on this machine (bench/limits.sh, %d repetition(s), medians; CPU stages in MiB/s of one core's CPU time):" % L.reps)
    print()
    print("| limit | value | per | wall | what |")
    print("|---|---|---|---|---|")
    for k in notes:
        if k not in L:
            continue
        e = L.extra[k]
        extra = ""
        if "wall_MiB/s" in e and k.startswith("stage_"):
            extra = "%.1f MiB/s" % e["wall_MiB/s"]
        elif "MiB/s" in e:
            extra = "%.1f MiB/s" % e["MiB/s"]
        elif "wall_s" in e:
            extra = "%.3f s" % e["wall_s"]
        if k.startswith("stage_zstd") and k != "stage_zstd_d":
            extra += ", ratio %.3f" % (1 / L.out_ratio(k))
        print("| %s | %s | %s | %s | %s |" % (k, f(L[k], "%.0f"), L.unit[k], extra, notes[k]))


def stages(L):
    """Each step's stages as the code does them, with the bytes each handles: (stage, bytes or
    entries, CPU seconds, wall seconds at the limit). A stage in RAM takes its CPU time on a quiet
    core (wall = CPU); a read or a write takes its measured wall, and its CPU time beside."""
    B, S, D = L["corpus_bytes"], L["sig_bytes"], L["incr_bytes"]
    # Since issue 16: zstd level 2 and yunbak's own signatures (limits rows from before keep
    # level 3 and librsync's signature job).
    zst = "stage_zstd_l2_w0" if "stage_zstd_l2_w0" in L else "stage_zstd_l3_w0"
    zname = "zstd -2" if zst.endswith("l2_w0") else "zstd -3"
    sgs = "stage_sig_sodium" if "stage_sig_sodium" in L else "stage_rsync_sig"
    sname = "signature (libsodium BLAKE2b)" if sgs == "stage_sig_sodium" else "librsync signature"
    stored = B * L.out_ratio(zst) * L.out_ratio("stage_seal")
    kinds = [k for k in ("text", "random") if "rsync_delta_" + k in L]
    dratio = statistics.mean(L.out_ratio("rsync_delta_" + k) for k in kinds)
    delta_rate = statistics.mean(L["rsync_delta_" + k] for k in kinds)
    patch_rate = statistics.mean(L["rsync_patch_" + k] for k in kinds)  # of its output
    incr_stored = D * dratio  # the deltas, before zstd

    def cpu(n, metric):  # in RAM: n bytes at the metric's CPU rate
        s = n / MiB / L[metric]
        return (s, s)

    def io(n, metric, total):  # a read or write of n of the measured total bytes
        return (L.x(metric, "cpu_s") * n / total, L.x(metric, "wall_s") * n / total)

    tree_bytes = L.x("write_tree_restore", "bytes")
    entries = L.x("scan_stat_warm", "entries")
    scan = entries / L["scan_stat_warm"]
    full = [
        ("read the files (warm)", B, io(B, "read_warm", B)),
        ("BLAKE2b of the plaintext", B, cpu(B, "stage_blake2b_sodium")),
        (sname + " (files >= 64 KiB)", S, cpu(S, sgs)),
        (zname, B, cpu(B, zst)),
        ("seal", stored, cpu(stored, "stage_seal")),
        ("BLAKE2b of the stored bytes", stored, cpu(stored, "stage_blake2b_stored")),
        ("write + fsync", stored, io(stored, "write_seq_fsync", L.x("write_seq_fsync", "bytes"))),
    ]
    # The signature index and the manifest: what the lead measured an incremental to store
    # (7.4 MB and 2.6 MB; the index is read back from the parent the same size), taken as
    # plaintext of that size both ways.
    index_in, index_out = 7.4e6, 10.0e6
    meta = [
        ("the parent's signature index in: read, BLAKE2b, open, zstd -d", index_in,
         tuple(sum(x) for x in zip(io(index_in, "read_warm", B), cpu(index_in, "stage_blake2b_stored"),
                                   cpu(index_in, "stage_open"), cpu(index_in * 0.6, "stage_zstd_d")))),
        ("the new index and manifest out: " + zname + ", seal, BLAKE2b, write + fsync", index_out,
         tuple(sum(x) for x in zip(cpu(index_out, zst), cpu(index_out, "stage_seal"),
                                   cpu(index_out, "stage_blake2b_stored"),
                                   io(index_out, "write_seq_fsync", L.x("write_seq_fsync", "bytes"))))),
    ]
    incr = [
        ("stat of every entry", entries, (scan, scan)),
        ("read the changed files (warm)", D, io(D, "read_warm", B)),
        # Since deltagen.c (issue 16) the delta and the new signature are one pass: each block
        # summed once for both, a signature's work (librsync's delta job, before it, searched
        # with its own strong sums and the signature came on top: "librsync delta" at
        # delta_rate, then the signature).
        ("delta and new signature in one pass: " + sname + " of every block", D, cpu(D, sgs)),
        ("BLAKE2b of the plaintext", D, cpu(D, "stage_blake2b_sodium")),
        (zname + " of the deltas", incr_stored, cpu(incr_stored, zst)),
        ("seal, BLAKE2b of the stored bytes", incr_stored,
         tuple(a + b for a, b in zip(cpu(incr_stored, "stage_seal"), cpu(incr_stored, "stage_blake2b_stored")))),
        ("write + fsync", incr_stored, io(incr_stored, "write_seq_fsync", L.x("write_seq_fsync", "bytes"))),
    ] + meta
    vol = stored + incr_stored
    restore = [
        ("read the volumes (cold)", vol, io(vol, "read_cold", B)),
        ("BLAKE2b of the stored bytes", vol, cpu(vol, "stage_blake2b_stored")),
        ("open (secretstream pull)", vol, cpu(vol, "stage_open")),
        ("zstd -d", vol, cpu(vol, "stage_zstd_d")),
        ("BLAKE2b check of every file's last generation", B, cpu(B, "stage_blake2b_sodium")),
        ("create and write the files, metadata", tree_bytes, io(tree_bytes, "write_tree_restore", tree_bytes)),
    ]
    if zst == "stage_zstd_l3_w0":  # before issue 16's in-place deltas: a second generation
        restore[4:5] = [
            ("librsync patch (the changed files' second generation)", D, (D / MiB / patch_rate,) * 2),
            ("BLAKE2b check of every generation", B + D, cpu(B + D, "stage_blake2b_sodium")),
        ]
        restore.append(("write the second generation of the changed files", D,
                        io(D, "write_seq_fsync", L.x("write_seq_fsync", "bytes"))))
    return {"full": full, "incr": incr, "incr-nochange": [incr[0]] + meta, "restore": restore}


def bounds_table(L, rows):
    steps = stages(L)
    cpu = {s: sum(x[2][0] for x in v) for s, v in steps.items()}
    bound = {s: sum(x[2][1] for x in v) / 2 for s, v in steps.items()}
    print()
    print("Each step's stages (as the code does them) and the sum of their limits divided over two cores:")
    for step, v in steps.items():
        print()
        print("| %s: stage | bytes or entries | CPU s | wall s at the limit |" % step)
        print("|---|---|---|---|")
        for name, n, (c, w) in v:
            print("| %s | %s | %.2f | %.2f |" % (name, "%.0f MiB" % (n / MiB) if n > 1e6 else "%.0f" % n, c, w))
        print("| sum | | %.2f | %.2f |" % (cpu[step], 2 * bound[step]))
        print("| **bound: sum / 2 cores** | | | **%.2f** |" % bound[step])
    if not rows:
        return
    print()
    print("yunbak's steps against their bound (wall / bound: target <= 1.5; CPU / the stages' CPU: the overhead, which load does not distort):")
    print()
    print("| round | step | wall s | bound s | wall / bound | CPU s | stages' CPU s | CPU / stages' CPU |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        if r["peer"] == "yunbak" and r["step"] in bound and r["wall_s"]:
            q = float(r["wall_s"]) / bound[r["step"]]
            c = float(r["user_s"]) + float(r["sys_s"])
            print("| %s | %s | %s | %.2f | %.2f %s | %.1f | %.1f | %.2f |" % (
                r["round"], r["step"], r["wall_s"], bound[r["step"]], q, "met" if q <= 1.5 else "not met",
                c, cpu[r["step"]], c / cpu[r["step"]]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bench", nargs="?", help="bench/run.sh's bench.tsv")
    ap.add_argument("--limits", help="bench/limits.sh's yb-limits.tsv")
    a = ap.parse_args()
    if a.bench is None and a.limits is None:
        a.bench = "/tmp/bench-work/results/bench.tsv"
    rows = list(csv.DictReader(open(a.bench), delimiter="\t")) if a.bench else []
    if a.bench and a.limits is None:
        beside = os.path.join(os.path.dirname(os.path.abspath(a.bench)), "yb-limits.tsv")
        a.limits = beside if os.path.exists(beside) else None
    if rows:
        medians_table(rows)
        print()
        targets_table(rows)
    if a.limits:
        L = Limits(a.limits)
        if rows:
            print()
        limits_table(L)
        bounds_table(L, rows)


main()
