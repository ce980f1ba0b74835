#!/usr/bin/env python3
"""bench/replag.py - the lag of a replica during a bench/replicate.sh run, measured the same way
for every peer: at each sample time s, lag(s) = s - the time of the newest change the replica is
known to hold.

  replag.py poll CANARY OUT.tsv STOPFILE   every 100 ms, until STOPFILE exists, writes
                                           "<now_ns>\t<replica canary's value>" (lsyncd: the
                                           replica is a plain tree)
  replag.py yunbak EVENTS.jsonl FROM_NS TO_NS
  replag.py canary POLL.tsv FROM_NS TO_NS  print {"p50":..,"p99":..,"max":..,"samples":N} in
                                           seconds over [FROM_NS, TO_NS]
For yunbak the replica's newest change is read from the replicator's own JSON lines: at s, the
newest segment committed (finished_ns <= s) holds every change noticed before its started_ns. The
replicator's self-reported lag ("lag" events) is summarised beside it, to check that the two agree.
"""
import json, os, sys, time


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return None
    k = min(len(xs) - 1, max(0, int(round(p / 100 * (len(xs) - 1)))))
    return xs[k]


def summary(lags):
    return {"p50": pct(lags, 50), "p99": pct(lags, 99), "max": max(lags) if lags else None,
            "samples": len(lags)}


def poll(canary, out, stop):
    with open(out, "w") as f:
        while not os.path.exists(stop):
            now = time.time_ns()
            try:
                with open(canary) as c:
                    v = int(c.read().strip() or 0)
            except (OSError, ValueError):
                v = 0
            f.write(f"{now}\t{v}\n")
            f.flush()
            time.sleep(0.1)


def yunbak(events, t0, t1):
    segs, reported = [], []
    for line in open(events):
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if e.get("event") == "segment":
            segs.append((e["finished_ns"], e["started_ns"]))
        elif e.get("event") == "lag" and t0 <= e.get("time_ns", 0) <= t1:
            reported.append((e.get("lag_ms") or 0) / 1000 if e.get("known") else None)
    segs.sort()
    lags, i, newest = [], 0, None
    for s in range(t0, t1, 100_000_000):
        while i < len(segs) and segs[i][0] <= s:
            newest = segs[i][1] if newest is None else max(newest, segs[i][1])
            i += 1
        if newest is not None:
            lags.append((s - newest) / 1e9)
    r = summary(lags)
    known = [x for x in reported if x is not None]
    r["reported"] = summary(known)
    r["reported"]["unknown"] = len(reported) - len(known)
    return r


def canary(poll_tsv, t0, t1):
    lags = []
    for line in open(poll_tsv):
        now, v = map(int, line.split())
        if t0 <= now <= t1 and v:
            lags.append((now - v) / 1e9)
    return summary(lags)


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "poll":
        poll(*sys.argv[2:5])
    elif cmd == "yunbak":
        print(json.dumps(yunbak(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))))
    elif cmd == "canary":
        print(json.dumps(canary(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))))
    else:
        sys.exit(__doc__)
