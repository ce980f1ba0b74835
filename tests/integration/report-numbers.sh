#!/bin/sh
# The report's numbers (docs/reports.md, "The numbers") against a catalog the test fills: two
# systems of two departments with Chinese names; the calendar month before the previous one in
# Asia/Shanghai (so that it has ended well before today, whatever the machine's date); tier-1 jobs and snapshots (a partial, a
# quarantined, a pruned one, rows on both sides of each bound), tier-2 lag hours, off-site copies
# (one copied only after the month), drills, storage samples. yunbakd is stopped while the test
# writes its catalog with sqlite3 (Python's module) and started again; every number of
# `yunbak report --json` is compared with what Python computed independently from the same rows.
# A department sees only its own department (another's is refused, exit 4, and audited); an
# auditor sees both; the text summary names the systems and says which drill is overdue. The
# storage samples yunbakd takes itself: at start (what the catalog lists, tier 2 left out) and,
# on its test clock, again after midnight UTC.
. "$TESTS/integration/lib.sh"
is_root || { echo "needs root: the department and auditor callers are other uids" >&2; exit 77; }
command -v setpriv >/dev/null || { echo "needs setpriv to call as other uids" >&2; exit 77; }
python3 -c 'import zoneinfo; zoneinfo.ZoneInfo("Asia/Shanghai")' 2>/dev/null ||
        { echo "needs Python's zoneinfo with the tz database (tzdata)" >&2; exit 77; }
chmod 755 "$SCRATCH"
. "$TESTS/integration/daemon-lib.sh"
. "$TESTS/integration/callers-lib.sh"
chmod -R a+rX "$D"

HR=市人力资源和社会保障局
FIN=市财政局
daemon_config "  - user: daemon
    role: department
    department: $HR
  - user: sys
    role: auditor"
sed -i "s|^socket: yunbakd.sock|socket: yunbakd.sock\nsocket_mode: \"0666\"|" "$D/yunbakd.yaml"
mkdir -p "$D/offsite" "$D/intracity"
sed -i "s|^    url: $D/store\$|    url: $D/store\n  offsite:\n    url: $D/offsite\n  intracity:\n    url: $D/intracity|" \
        "$D/yunbakd.yaml"
# Calendars that do not come due while the test runs (29 February only).
NEVER="*-02-29 02:00 UTC"
daemon_system hr-portal "$HR" "$NEVER" "$NEVER" "tier2:
  store: intracity
  max_lag: 1min
  checkpoint: \"*-02-29 00:00:00 UTC\"
tier3:
  store: offsite
  on_request: true"
sed -i 's/^  name: .*/  name: 人事门户网站/' "$D/policies/hr-portal.yaml"
daemon_system finance "$FIN" "$NEVER" "$NEVER"
sed -i 's/^  name: .*/  name: 财政预算系统/' "$D/policies/finance.yaml"
yunbak policy check "$D"/policies/*.yaml >/dev/null

finish() {
        set +e
        [ -z "${YUNBAKD_PID:-}" ] || kill "$YUNBAKD_PID" 2>/dev/null
        cleanup
}
trap finish EXIT
trap 'exit 1' HUP INT TERM

# A first start makes the catalog and records the policies; the test then writes its rows.
start_yunbakd
stop_yunbakd
YUNBAKD_PID=
# yunbakd sampled the storage at its start, under today's UTC midnight: tiers 1 and 3 (empty
# yet: 0 is what it measured), not tier 2 (the catalog lists nothing of its store).
TODAY=$(( $(date -u +%s) / 86400 * 86400 * 1000000 ))
got=$(sql "SELECT system || ' ' || tier || ' ' || store || ' ' || bytes || ' ' || snapshots || ' ' || (day_usec = $TODAY) FROM storage_usage ORDER BY 1" | tr '\n' ';')
[ "$got" = "finance 1 local 0 0 1;hr-portal 1 local 0 0 1;hr-portal 3 offsite 0 0 1;" ] ||
        die "yunbakd's storage samples at start: $got"

python3 - "$D/catalog.db" "$SCRATCH/expected.json" <<'PY'
import datetime, json, sqlite3, sys, zoneinfo

db, out = sys.argv[1], sys.argv[2]
z = zoneinfo.ZoneInfo("Asia/Shanghai")
now = datetime.datetime.now(z)
this = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
first = (this - datetime.timedelta(days=1)).replace(day=1)
prev = (first - datetime.timedelta(days=1)).replace(day=1)
U = 1_000_000
def usec(d): return int(d.timestamp()) * U
FROM, TO = usec(prev), usec(first)
DAY, HOUR = 86400 * U, 3600 * U
month = prev.strftime("%Y-%m")
c = sqlite3.connect(db)
c.execute("DELETE FROM storage_usage")

# When yunbakd first loaded each policy: hr-portal on the 3rd of the month at 12:00 local;
# finance 400 days before the month (never drilled since: overdue, drill.every is 1y).
hr_loaded = FROM + 2 * DAY + 12 * HOUR
fin_loaded = FROM - 400 * DAY
c.execute("UPDATE policy_versions SET loaded_usec = ? WHERE system = 'hr-portal'", (hr_loaded,))
c.execute("UPDATE policy_versions SET loaded_usec = ? WHERE system = 'finance'", (fin_loaded,))
# hr-portal's policy changed on the 8th: the report names the change (it judges the whole
# month against the rpo in force now, the catalog keeping each version's text only once).
hr_changed = FROM + 7 * DAY + 9 * HOUR
c.execute("INSERT INTO policy_versions (system, hash, loaded_usec, text) VALUES"
          " ('hr-portal', 'a-later-version', ?, 'version: 1')", (hr_changed,))

snaps, jobs = [], []  # rows as inserted, for the expectations
def snap(system, store, sid, fin, partial=0, quarantine=None, stored=1000):
    snaps.append(dict(system=system, store=store, id=sid, fin=fin, partial=partial,
                      quarantine=quarantine, stored=stored))
    c.execute("INSERT INTO snapshots (system, store, id, level, started_usec, finished_usec,"
              " files, bytes_source, bytes_stored, partial, quarantine) VALUES"
              " (?, ?, ?, 'full', ?, ?, 1, 1, ?, ?, ?)",
              (system, store, sid, fin - 60 * U, fin, stored, partial, quarantine))
def job(system, tier, state, fin, sid=None):
    jobs.append(dict(system=system, tier=tier, state=state, fin=fin, sid=sid))
    c.execute("INSERT INTO jobs (system, tier, level, trigger, state, scheduled_usec,"
              " started_usec, finished_usec, snapshot) VALUES (?, ?, 'full', 'schedule', ?, ?,"
              " ?, ?, ?)", (system, tier, state, fin - 120 * U, fin - 100 * U, fin, sid))

# hr-portal, tier 1 ("local"): a snapshot a day at 02:00 local, with a gap from the 10th to
# the 14th where a partial (11th) and a quarantined one (12th) do not count, and one on the
# 13th that was pruned since (only its job is left). Rows before the month and after it too.
n = 0
for day in range(-2, 33):
    t = FROM + day * DAY + 2 * HOUR + 17 * U
    sid = "s%03d" % (day + 10)
    if day in (10, 14):
        continue
    if day == 11:
        snap("hr-portal", "local", sid, t, partial=1); job("hr-portal", 1, "partial", t, sid)
    elif day == 12:
        snap("hr-portal", "local", sid, t, quarantine="signed by another agent")
        job("hr-portal", 1, "succeeded", t, sid)
    elif day == 13:
        job("hr-portal", 1, "succeeded", t, sid)  # pruned: no snapshots row
    else:
        snap("hr-portal", "local", sid, t, stored=1000 + day); job("hr-portal", 1, "succeeded", t, sid)
job("hr-portal", 1, "failed", FROM + 10 * DAY + 3 * HOUR)
job("hr-portal", 1, "failed", FROM + 14 * DAY + 3 * HOUR)
job("hr-portal", 1, "cancelled", FROM + 15 * DAY)
job("hr-portal", 1, "failed", FROM - 1)        # before the month
job("hr-portal", 1, "failed", TO)              # at its end: the next month's
job("hr-portal", 3, "succeeded", FROM + 5 * DAY, None)  # a copy job is not a tier-1 job

# hr-portal, tier 3 ("offsite"): s015 copied on the 20th, s025 on the 27th, s028 copied only
# after the month (not there at its end), one failed copy; s026 listed without a job (a
# rebuild found it) counts from its own time.
for sid, copied in (("s015", FROM + 19 * DAY), ("s025", FROM + 26 * DAY), ("s028", TO + DAY)):
    fin = next(s["fin"] for s in snaps if s["id"] == sid)
    snap("hr-portal", "offsite", sid, fin)
    job("hr-portal", 3, "succeeded", copied, sid)
snap("hr-portal", "offsite", "s026-rebuilt", FROM + 16 * DAY + 2 * HOUR)
job("hr-portal", 3, "failed", FROM + 21 * DAY)

# finance, tier 1 only: every 30 hours, so its rpo of 1 d is broken for 6 h each time.
t = FROM - 10 * HOUR
i = 0
while t < TO + 2 * DAY:
    sid = "f%03d" % i
    snap("finance", "local", sid, t); job("finance", 1, "succeeded", t, sid)
    t += 30 * HOUR
    i += 1

# hr-portal's tier-2 lag hours: one before the month and one at its end (not counted), one
# where the lag was unknown throughout.
lag = [(FROM - HOUR, 3600, 0, 9, 9, 999999),
       (FROM + 5 * HOUR, 3600, 0, 800, 2500, 4000),
       (FROM + 6 * HOUR, 3600, 100, 1200, 3000, 9000),
       (FROM + 7 * HOUR, 1800, 1800, None, None, 70000),
       (FROM + 100 * HOUR, 600, 0, 5000, 20000, 30000),
       (TO, 3600, 0, 1, 1, 888888)]
for h in lag:
    c.execute("INSERT INTO replication_lag VALUES ('hr-portal', ?, ?, ?, ?, ?, ?)", h)

# Drills: hr-portal passed on the 5th, failed at verify on the 20th, passed on the 26th but
# missed its RTO; one the month before.
drills = [("hr-portal", 1, "before", FROM - 3 * DAY, "passed", None, 1000, 100, 1, 1),
          ("hr-portal", 1, "年度演练", FROM + 4 * DAY + 9 * HOUR, "passed", None, 61000, 3700,
           1, 1),
          ("hr-portal", 3, "off-site", FROM + 19 * DAY, "failed", "verify", None, None, None,
           None),
          # passed (restored and checked), but in 9 h against an RTO of 8 h
          ("hr-portal", 1, "季度演练", FROM + 25 * DAY, "passed", None, 9 * 3600 * 1000, 600, 0,
           1)]
for d in drills:
    c.execute("INSERT INTO drills (system, tier, store, scenario, run_by, started_usec, state,"
              " failed_phase, rto_ms, rpo_seconds, rto_met, rpo_met) VALUES"
              " (?, ?, 'local', ?, 'root', ?, ?, ?, ?, ?, ?, ?)", d)

# Storage samples (day_usec: a UTC midnight): hr-portal's tier 1 on both sides of each bound,
# its tier 3 only within the month (no sample at its start), finance's at both.
day0 = FROM // DAY * DAY
storage = [("hr-portal", 1, "local", day0 - DAY, 5000, 30),
           ("hr-portal", 1, "local", day0, 6000, 31),     # the last at or before from
           ("hr-portal", 1, "local", day0 + 15 * DAY, 9000, 40),
           ("hr-portal", 1, "local", TO // DAY * DAY, 12000, 50),  # the last at or before to
           ("hr-portal", 1, "local", TO // DAY * DAY + DAY, 99999, 99),
           ("hr-portal", 3, "offsite", day0 + 20 * DAY, 3000, 2),
           ("finance", 1, "local", day0 - 5 * DAY, 8000, 10),
           ("finance", 1, "local", day0 + 29 * DAY, 7000, 9)]
for s in storage:
    c.execute("INSERT INTO storage_usage VALUES (?, ?, ?, ?, ?, ?)", s)
c.commit()

# What the report must say, computed here from the rows above (the RPO met needs yunbakd's
# now: the check computes it).
def jobs_of(system):
    r = dict(succeeded=0, partial=0, failed=0, cancelled=0)
    for j in jobs:
        if j["system"] == system and j["tier"] == 1 and FROM <= j["fin"] < TO:
            r[j["state"]] += 1
    r["run"] = r["succeeded"] + r["partial"] + r["failed"]
    return r

def quantile(values, q):  # values: (v, weight): expand, sort, the ceil(q n)-th
    flat = sorted(v for v, w in values for _ in range(w))
    k = -(-len(flat) * q // 100)
    return flat[k - 1]

rows = [h for h in lag if FROM <= h[0] < TO]
known = [(h[1] - h[2], h) for h in rows]
exp_lag = dict(state="ok", approximate=True, hours=len(rows), samples=sum(h[1] for h in rows),
               unknown_seconds=sum(h[2] for h in rows), max_ms=max(h[5] for h in rows),
               p50_ms=quantile([(h[3], k) for k, h in known if k > 0], 50),
               p99_ms=quantile([(h[4], k) for k, h in known if k > 0], 99), max_lag_ms=60000)

def copies(state):
    return sum(1 for j in jobs if j["system"] == "hr-portal" and j["tier"] == 3 and
               j["state"] == state and FROM <= j["fin"] < TO)

def newest_copy(end):
    best = None
    for s in snaps:
        if s["system"] != "hr-portal" or s["store"] != "offsite":
            continue
        copied = [j["fin"] for j in jobs if j["tier"] == 3 and j["state"] == "succeeded" and j["sid"] == s["id"]]
        there = min(copied) if copied else s["fin"]
        if there <= end and (best is None or s["fin"] > best["fin"]):
            best = s
    return dict(id=best["id"], time_usec=best["fin"], age_seconds=(end - best["fin"]) // U)

def storage_of(system, tier, store):
    def at(b):
        c = [s for s in storage if s[0] == system and s[2] == store and s[3] <= b]
        return max(c, key=lambda s: s[3]) if c else None
    a, b = at(FROM), at(TO)
    r = dict(tier=tier, store=store,
             start=None if a is None else dict(day_usec=a[3], bytes=a[4], snapshots=a[5]),
             end=None if b is None else dict(day_usec=b[3], bytes=b[4], snapshots=b[5]))
    r["growth_bytes"] = None if a is None or b is None else b[4] - a[4]
    r["growth_snapshots"] = None if a is None or b is None else b[5] - a[5]
    return r

exp = dict(month=month, from_usec=FROM, to_usec=TO, systems={
    "hr-portal": dict(department="市人力资源和社会保障局", name="人事门户网站",
                      jobs=jobs_of("hr-portal"), rpo=("hr-portal", hr_loaded), lag=exp_lag,
                      offsite=dict(copies=copies("succeeded"), copies_failed=copies("failed"),
                                   newest=newest_copy(TO)),
                      drills=dict(passed=2, objectives_missed=1, failed=1, running=0,
                                  overdue=False, last_passed_usec=drills[3][3],
                                  ids_started=[d[3] for d in drills[1:]]),
                      storage=[storage_of("hr-portal", 1, "local"),
                               dict(tier=2, store="intracity", start=None, end=None,
                                    growth_bytes=None, growth_snapshots=None),
                               storage_of("hr-portal", 3, "offsite")]),
    "finance": dict(department="市财政局", name="财政预算系统", jobs=jobs_of("finance"),
                    rpo=("finance", fin_loaded), lag=dict(state="no tier 2"),
                    offsite=dict(state="no tier 3"),
                    drills=dict(passed=0, objectives_missed=0, failed=0, running=0, overdue=True,
                                last_passed_usec=None, ids_started=[]),
                    storage=[storage_of("finance", 1, "local")])})
exp["systems"]["hr-portal"]["changes"] = [hr_changed]
exp["systems"]["finance"]["changes"] = []
exp["rows"] = dict(snaps=snaps, jobs=jobs)
json.dump(exp, open(out, "w"))
PY
MONTH=$(python3 -c "import json; print(json.load(open('$SCRATCH/expected.json'))['month'])")

start_yunbakd
yunbak report --month "$MONTH" --tz Asia/Shanghai --json --socket "$SOCK" >"$SCRATCH/report.json" ||
        die "yunbak report --json failed"

# Every number against the expectation.
python3 - "$SCRATCH/report.json" "$SCRATCH/expected.json" <<'PY' || die "the report's numbers differ (above)"
import datetime, json, sys
rep, exp = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
snaps, jobs = exp["rows"]["snaps"], exp["rows"]["jobs"]
FROM, TO = exp["from_usec"], exp["to_usec"]
U = 1_000_000
bad = []
def eq(what, got, want):
    if got != want:
        bad.append("%s: the report says %r, the rows say %r" % (what, got, want))

p = rep["period"]
eq("period.from_usec", p["from_usec"], exp["from_usec"])
eq("period.to_usec", p["to_usec"], exp["to_usec"])
eq("period.from", p["from"], datetime.datetime.fromtimestamp(exp["from_usec"] // U, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
now = p["now_usec"]
eq("type", rep["type"], "yunbak-report")
eq("departments", [d["name"] for d in rep["departments"]], sorted(["市人力资源和社会保障局", "市财政局"]))

def rpo(system, loaded, rpo_usec):
    a, b = max(FROM, loaded), min(TO, now)
    listed = {s["id"] for s in snaps if s["system"] == system}
    good = sorted([s["fin"] for s in snaps if s["system"] == system and s["store"] == "local"
                   and not s["partial"] and s["quarantine"] is None and s["fin"] < b] +
                  [j["fin"] for j in jobs if j["system"] == system and j["tier"] == 1 and
                   j["state"] == "succeeded" and j["sid"] and j["sid"] not in listed and j["fin"] < b])
    # Second by second would be slow; instead: the breaches are the stretches of [a, b) not
    # within rpo after some snapshot, or after yunbakd first loaded the policy (one rpo to make
    # the first backup).
    breaches, cur = [], max(a, loaded + rpo_usec)
    for t in good:
        if t > cur:
            end = min(t, b)
            if end > cur:
                breaches.append((cur, end - cur))
        cur = max(cur, t + rpo_usec)
    if cur < b:
        breaches.append((cur, b - cur))
    breach = sum(x[1] for x in breaches)
    met = (b - a) - breach
    longest = max(breaches, key=lambda x: (x[1], -x[0])) if breaches else None
    return dict(seen_from_usec=a, seen_to_usec=b, seen_seconds=(b - a) // U, met_seconds=met // U,
                met_per_mille=met * 1000 // (b - a), breach_seconds=-(-breach // U),
                snapshots=sum(1 for t in good if a <= t < b),
                longest_breach=None if longest is None else
                dict(start_usec=longest[0], seconds=-(-longest[1] // U)))

systems = {s["id"]: (d["name"], s) for d in rep["departments"] for s in d["systems"]}
eq("systems", sorted(systems), ["finance", "hr-portal"])
for sid, e in exp["systems"].items():
    dep, s = systems[sid]
    eq(sid + " department", dep, e["department"])
    eq(sid + " name", s["name"], e["name"])
    eq(sid + " objectives", s["objectives"], dict(rpo_seconds=86400, rto_seconds=28800))
    eq(sid + " jobs", s["jobs"], e["jobs"])
    want = rpo(e["rpo"][0], e["rpo"][1], 86400 * U)
    got = {k: v for k, v in s["rpo"].items() if k in want}
    if got.get("longest_breach"):
        got["longest_breach"] = {k: got["longest_breach"][k] for k in ("start_usec", "seconds")}
    eq(sid + " rpo", got, want)
    eq(sid + " policy changes", [x["loaded_usec"] for x in s["rpo"]["policy_changes"]], e["changes"])
    eq(sid + " rpo note", "note" in s["rpo"], bool(e["changes"]))
    if e["lag"]["state"] == "ok":
        eq(sid + " lag", {k: s["lag"].get(k) for k in e["lag"]}, e["lag"])
    else:
        eq(sid + " lag state", s["lag"]["state"], e["lag"]["state"])
    if "state" in e["offsite"]:
        eq(sid + " offsite state", s["offsite"]["state"], e["offsite"]["state"])
    else:
        eq(sid + " copies", s["offsite"]["copies"], e["offsite"]["copies"])
        eq(sid + " copies_failed", s["offsite"]["copies_failed"], e["offsite"]["copies_failed"])
        n = s["offsite"]["newest"]
        eq(sid + " newest copy", n and {k: n[k] for k in ("id", "time_usec", "age_seconds")},
           e["offsite"]["newest"])
    d, ed = s["drills"], e["drills"]
    for k in ("passed", "objectives_missed", "failed", "running", "overdue", "last_passed_usec"):
        eq(sid + " drills." + k, d[k], ed[k])
    eq(sid + " drills listed", [x["started_usec"] for x in d["list"]], ed["ids_started"])
    def sample(v):  # the figures; "day" is day_usec as a text
        return v and {k: v[k] for k in ("day_usec", "bytes", "snapshots")}
    eq(sid + " storage", [dict(tier=x["tier"], store=x["store"], start=sample(x["start"]),
                               end=sample(x["end"]), growth_bytes=x["growth_bytes"],
                               growth_snapshots=x["growth_snapshots"]) for x in s["storage"]],
       e["storage"])
    for x in s["storage"]:
        if x["start"] is None or x["end"] is None:
            eq(sid + " storage tier %d reason" % x["tier"], x.get("reason"), "no sample")
# The failed drill says where it failed.
eq("failed drill phase", systems["hr-portal"][1]["drills"]["list"][1]["failed_phase"], "verify")
# Sanity of the expectation itself: the month had breaches and met stretches for both.
for sid in ("hr-portal", "finance"):
    pm = systems[sid][1]["rpo"]["met_per_mille"]
    if not 0 < pm < 1000:
        bad.append("%s: met_per_mille %r should be strictly between 0 and 1000 with these rows" % (sid, pm))
print("\n".join(bad), file=sys.stderr)
sys.exit(1 if bad else 0)
PY

# The department sees its own department only, asked or not; another's is refused and audited.
expect_as 0 daemon report --month "$MONTH" --tz Asia/Shanghai --json
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); assert [d['name'] for d in r['departments']] == ['$HR'], r['departments']" \
        "$SCRATCH/stdout" || die "the department saw more than its own systems"
expect_as 4 daemon report --month "$MONTH" --tz Asia/Shanghai --department "$FIN" --json
grep -q "is not yours" "$SCRATCH/stderr" || die "the refusal does not say why: $(cat "$SCRATCH/stderr")"
[ "$(sql "SELECT count(*) FROM audit WHERE actor = 'daemon' AND action = 'api.denied' AND detail LIKE '%$FIN%'")" -ge 1 ] ||
        die "the refused report was not audited"
[ "$(sql "SELECT count(*) FROM audit WHERE actor = 'daemon' AND action = 'report.read' AND object = '$HR' AND result = 'ok'")" -eq 1 ] ||
        die "the department's report was not audited as report.read"
# Near misses of a department's name: a look-alike of their own (a zero-width space inside) is
# another department to a department person (refused); an empty one is their own; to the
# auditor a name no policy gives is not found (not an empty report, which would read as a
# department with nothing to say).
LOOK=$(printf '市人力资源和社会保障\342\200\213局')
expect_as 4 daemon report --month "$MONTH" --tz Asia/Shanghai --department "$LOOK" --json
expect_as 0 daemon report --month "$MONTH" --tz Asia/Shanghai --department "" --json
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); assert [d['name'] for d in r['departments']] == ['$HR'], r['departments']" \
        "$SCRATCH/stdout" || die "an empty --department gave the department more than its own"
expect_as 2 sys report --month "$MONTH" --tz Asia/Shanghai --department "市财政局 " --json
grep -q "no department '市财政局 ' (departments: .*$FIN" "$SCRATCH/stderr" &&
        grep -q "no department '市财政局 ' (departments: .*$HR" "$SCRATCH/stderr" ||
        die "an unknown department is not named: $(cat "$SCRATCH/stderr")"
[ "$(sql "SELECT count(*) FROM audit WHERE actor = 'sys' AND action = 'report.read' AND object = '市财政局 ' AND result = 'failed'")" -eq 1 ] ||
        die "the report of an unknown department was not audited"
# The auditor sees both, or one department when asked.
expect_as 0 sys report --month "$MONTH" --tz Asia/Shanghai --department "$FIN" --json
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); assert [d['name'] for d in r['departments']] == ['$FIN'], r['departments']" \
        "$SCRATCH/stdout" || die "the auditor's --department report is not that department's"
expect_as 0 sys report --month "$MONTH" --tz Asia/Shanghai
grep -q "人事门户网站" "$SCRATCH/stdout" || die "the text summary does not name 人事门户网站"
grep -q "OVERDUE" "$SCRATCH/stdout" || die "the text summary does not say finance's drill is overdue"
grep -q "no sample" "$SCRATCH/stdout" || die "the text summary does not say 'no sample' for tier 3's growth"
grep -q "^\* hr-portal: the policy changed in the period" "$SCRATCH/stdout" ||
        die "the text summary does not name hr-portal's policy change"
# hr-portal's policy was first loaded on the 3rd at noon: its RPO met is of what yunbakd saw
# (from 25.5 to 28.5 days, as the month has 28 to 31), and says so.
grep -Eq "^hr-portal .* [0-9.]+ % of 2[0-9] d [*] " "$SCRATCH/stdout" ||
        die "the text does not say hr-portal's RPO met is of 28 days: $(grep ^hr-portal "$SCRATCH/stdout")"
grep -Eq "^hr-portal: the RPO met is of the 2[0-9] d yunbakd watched, from [0-9-]+ [0-9:]+ to [0-9-]+ [0-9:]+ UTC \(it first loaded the policy later\), not of the whole period\.$" \
        "$SCRATCH/stdout" || die "the text does not say what hr-portal's RPO met is of: $(cat "$SCRATCH/stdout")"
grep -q "^Report $MONTH (Asia/Shanghai, UTC+08:00): from " "$SCRATCH/stdout" ||
        die "the text does not name the zone: $(head -1 "$SCRATCH/stdout")"
grep -Eq "^finance .* [0-9.]+ % +[0-9]" "$SCRATCH/stdout" ||
        die "finance's RPO met (of the whole month) is not shown plainly: $(grep ^finance "$SCRATCH/stdout")"
grep -q "copied, 1 failed" "$SCRATCH/stdout" || die "the text summary does not show the failed off-site copy"
grep -Eq "^hr-portal +2 +1 +1 +0 +0 +[0-9-]+ [0-9:]+ +no$" "$SCRATCH/stdout" ||
        die "the text summary's drills of hr-portal (passed, of them missed, failed, running, abandoned, last, overdue): $(cat "$SCRATCH/stdout")"
# Bad periods and zones are named, by the CLI and by the API.
expect_exit 2 yunbak report --month "$MONTH-1" --socket "$SOCK"
expect_stderr "is not a month"
expect_exit 2 yunbak report --month "$MONTH" --tz Mars/Base --socket "$SOCK"
expect_stderr "unknown time zone 'Mars/Base' \\(not in the system's zoneinfo\\)"
! grep -q "No such file" "$SCRATCH/stderr" || die "the unknown zone's error leaks errno: $(cat "$SCRATCH/stderr")"
api GET "/v1/reports?from_usec=5&to_usec=5" >/dev/null
[ "$(api_status)" = 400 ] || die "an empty period was answered $(api_status)"
api GET "/v1/reports?to_usec=5" >/dev/null
[ "$(api_status)" = 400 ] || die "a period without from_usec was answered $(api_status)"
# A period that has not begun says so for every figure of a point in time (none is as of now),
# and one not yet over is seen up to now only.
FUTURE=$(( $(date -u +%Y) + 2 ))
THIS=$(TZ=Asia/Shanghai date +%Y-%m)
yunbak report --year "$FUTURE" --tz Asia/Shanghai --json --socket "$SOCK" >"$SCRATCH/future.json"
yunbak report --month "$THIS" --tz Asia/Shanghai --json --socket "$SOCK" >"$SCRATCH/this.json"
python3 - "$SCRATCH/future.json" "$SCRATCH/this.json" <<'EOF' ||
import json, sys
f, t = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
bad = []
for d in f["departments"]:
    for s in d["systems"]:
        i = s["id"]
        if s["rpo"]["met_per_mille"] is not None: bad.append(i + ": rpo met in the future")
        o = s["offsite"]
        if o["state"] != "no tier 3" and (o.get("newest") is not None or "not begun" not in o.get("reason", "~")):
            bad.append(i + ": offsite %r" % o)
        if s["drills"]["overdue"] is not None: bad.append(i + ": overdue %r" % s["drills"]["overdue"])
        for x in s["storage"]:
            if x["growth_bytes"] is not None or x["end"] is not None or "not begun" not in x.get("reason", "~"):
                bad.append(i + ": storage %r" % x)
now = t["period"]["now_usec"]
for d in t["departments"]:
    for s in d["systems"]:
        if s["rpo"]["seen_to_usec"] != now: bad.append(s["id"] + ": this month seen to %r, not now" % s["rpo"]["seen_to_usec"])
sys.exit("\n".join(bad) or None)
EOF
        die "a period not begun or not over (above)"
yunbak report --year "$FUTURE" --tz Asia/Shanghai --socket "$SOCK" >"$SCRATCH/future.txt"
grep -q "^The period has not begun: yunbakd's clock says .* There is nothing to report yet\.$" \
        "$SCRATCH/future.txt" || die "the text of a year not begun does not say so: $(cat "$SCRATCH/future.txt")"
! grep -q "^Department" "$SCRATCH/future.txt" ||
        die "the text of a year not begun shows tables: $(cat "$SCRATCH/future.txt")"
yunbak report --month "$THIS" --tz Asia/Shanghai --socket "$SOCK" >"$SCRATCH/this.txt"
grep -q "^The period is not over: yunbakd made this report at " "$SCRATCH/this.txt" ||
        die "the text of a month not over does not say so: $(head -3 "$SCRATCH/this.txt")"
# A quarter and a year: their bounds in the zone.
YEAR=${MONTH%-*}
M=${MONTH#*-}
Q=$(( (${M#0} - 1) / 3 + 1 ))
yunbak report --quarter "$YEAR-Q$Q" --tz Asia/Shanghai --json --socket "$SOCK" >"$SCRATCH/q.json"
yunbak report --year "$YEAR" --tz Asia/Shanghai --json --socket "$SOCK" >"$SCRATCH/y.json"
python3 - "$SCRATCH/q.json" "$SCRATCH/y.json" "$YEAR" "$Q" <<'EOF' ||
import datetime, json, sys, zoneinfo
z = zoneinfo.ZoneInfo("Asia/Shanghai")
y, q = int(sys.argv[3]), int(sys.argv[4])
def at(y, m): return int(datetime.datetime(y, m, 1, tzinfo=z).timestamp()) * 10**6
want = {sys.argv[1]: (at(y, 3 * q - 2), at(y + (q == 4), 1 if q == 4 else 3 * q + 1)),
        sys.argv[2]: (at(y, 1), at(y + 1, 1))}
for f, (a, b) in want.items():
    p = json.load(open(f))["period"]
    if (p["from_usec"], p["to_usec"]) != (a, b):
        sys.exit("%s: [%d, %d), want [%d, %d)" % (f, p["from_usec"], p["to_usec"], a, b))
EOF
        die "the quarter's or the year's bounds are wrong (above)"
stop_yunbakd
YUNBAKD_PID=
# The start's sample counts the snapshots the catalog lists now (partial and quarantined too).
want=$(python3 -c "
import json; r = json.load(open('$SCRATCH/expected.json'))['rows']['snaps']
s = [x for x in r if x['system'] == 'hr-portal' and x['store'] == 'local']
print(sum(x['stored'] for x in s), len(s))")
got=$(sql "SELECT bytes || ' ' || snapshots FROM storage_usage WHERE system = 'hr-portal' AND store = 'local' AND day_usec = $TODAY")
[ "$got" = "$want" ] || die "the storage sample of hr-portal's tier 1 says '$got', the rows '$want'"

# Once a day after midnight UTC: yunbakd on its test clock across a midnight samples both days.
YUNBAKD_TEST_CLOCK=2030-01-01T23:59:00Z YUNBAKD_TEST_UNTIL=2030-01-02T00:02:00Z \
        yunbakd --config "$D/yunbakd.yaml" --foreground >>"$D/yunbakd.log" 2>&1 ||
        die "yunbakd on the test clock failed: $(tail -5 "$D/yunbakd.log")"
days=$(sql "SELECT count(DISTINCT day_usec) FROM storage_usage WHERE system = 'finance' AND day_usec IN (1893456000000000, 1893542400000000)")
[ "$days" = 2 ] || die "yunbakd did not sample the storage on 2030-01-01 and after its midnight ($days days)"
