#!/bin/sh
# yunbak policy check and explain: the examples are valid; every error of every file comes out
# as file:line:col: message with status 78; explain --json parses and its runs are right.
. "$TESTS/integration/lib.sh"
command -v python3 >/dev/null || exit 77

EX="$TESTS/../policies/examples"
cd "$SCRATCH"

# The examples: one by one, together, and as a directory.
for f in "$EX"/*.yaml; do
        expect_exit 0 yunbak policy check "$f"
        grep -q '^1 policy valid\.$' "$SCRATCH/stdout" || die "no summary for $f"
        [ ! -s "$SCRATCH/stderr" ] || die "valid $f printed on stderr"
done
expect_exit 0 yunbak policy check "$EX"/*.yaml
expect_exit 0 yunbak policy check "$EX"
n=$(ls "$EX"/*.yaml | wc -l)
[ "$n" -ge 3 ] || die "fewer than three example policies"
grep -q "^$n policies valid\.\$" "$SCRATCH/stdout" || die "the directory was not read whole"

# The full example of docs/policy.md is valid too.
python3 - "$TESTS/../docs/policy.md" <<'EOF'
import re, sys
blocks = re.findall(r"```yaml\n(.*?)```", open(sys.argv[1], encoding="utf-8").read(), re.S)
assert len(blocks) == 1, len(blocks)
open("doc-example.yaml", "w", encoding="utf-8").write(blocks[0])
EOF
expect_exit 0 yunbak policy check doc-example.yaml

# A file with one error of each kind, and a second broken file: every error of both, sorted
# by position within each file, then a count. Relative names stay as given.
cp "$EX/hotline-12345.yaml" good.yaml
python3 - <<'EOF'
src = open("good.yaml", encoding="utf-8").read()
def sub(text, old, new):
    assert text.count(old) == 1, old
    return text.replace(old, new)
bad = src
bad = sub(bad, "version: 1\n", "version: 1\nversoin: 1\n")                 # unknown key, line 6
bad = sub(bad, "  contact: ", "  contact: [a, b]\n  x-contact: ")          # wrong type
bad = sub(bad, "  host: hotline-db-01\n", "")                               # missing key
bad = sub(bad, "      timeout: 2h\n", "      timeout: 2 hrs\n")             # bad duration
bad = sub(bad, "  lock_until: 2027-02-28\n", "  lock_until: 2027-02-29\n")   # bad date
bad = sub(bad, "  full: Sun *-*-* 01:00 Asia/Shanghai\n",
          "  full: Sun *-*-* 01:00 Asia/Shanghai\n  full: daily\n")         # duplicate key
bad = sub(bad, "  max_lag: 30s\n", "  max_lag: 5min\n")                     # grade minimum
bad = sub(bad, "  on_request: true\n", "  on_request: yes\n")               # no YAML 1.1 bools
open("bad.yaml", "w", encoding="utf-8").write(bad)
open("syntax.yaml", "w").write("version: 1\nsystem:\n  id: x\n   name: y\n")
EOF
expect_exit 78 yunbak policy check good.yaml bad.yaml syntax.yaml
# Where each error is: computed from the file itself, so the test states what it means.
python3 - "$SCRATCH/stderr" <<'EOF'
import sys
lines = open("bad.yaml", encoding="utf-8").read().split("\n")
def at(needle, col_of=None):
    for i, l in enumerate(lines):
        if needle in l:
            c = l.index(col_of if col_of else needle) + 1
            return f"bad.yaml:{i + 1}:{c}"
    raise SystemExit(f"{needle!r} not in bad.yaml")
want = [
    f"{at('versoin')}: unknown key 'versoin'; did you mean 'version'?",
    f"{at('  contact: [a, b]', '[')}: system.contact must be a string, not a list",
    f"{at('x-contact')}: unknown key 'x-contact' in system; did you mean 'contact'?",
    f"{at('sources:')}: missing key 'host' in sources",
    f"{at('timeout: 2 hrs', '2')}: bad duration '2 hrs' for sources.hooks[0].timeout: "
    "unknown unit 'hrs' (use s, min, h, d, w, month or y)",
    f"{at('  full: daily', 'full')}: duplicate key 'full' (first at "
    f"{at('  full: Sun', 'full').split(':', 1)[1]})",
    f"{at('lock_until: 2027-02-29', '2')}: bad date '2027-02-29' for tier1.lock_until: use "
    "YYYY-MM-DD, a real date from 1970 to 2199",
    f"{at('max_lag: 5min', '5')}: tier2.max_lag must be at most 1min for an important "
    "system, not 5min",
    f"{at('on_request: yes', 'yes')}: tier3.on_request must be true or false, not 'yes'",
    "syntax.yaml:4:8: syntax error: mapping values are not allowed in this context",
    "10 errors in 3 files checked.",
]
got = open(sys.argv[1], encoding="utf-8").read().split("\n")[:-1]
if got != want:
    print("got:", *got, "want:", *want, sep="\n", file=sys.stderr)
    raise SystemExit("check output differs")
EOF

# One system, one file: the same id twice is an error naming both places.
sed 's/^  name: .*/  name: 另一个系统/' "$EX/hr-portal.yaml" >copy.yaml
expect_exit 78 yunbak policy check "$EX/hr-portal.yaml" copy.yaml
expect_stderr "^copy.yaml:[0-9]+:7: system.id 'hr-portal' is also the id of .*hr-portal.yaml:[0-9]+:7\$"

# Unreadable and missing files are errors too, and the others are still checked.
expect_exit 78 yunbak policy check missing.yaml bad.yaml
expect_stderr "^missing.yaml: cannot read: No such file or directory\$"
expect_stderr "^bad.yaml:.*unknown key 'versoin'"

# Usage errors.
expect_exit 2 yunbak policy
expect_exit 2 yunbak policy check
expect_exit 2 yunbak policy frobnicate
expect_exit 2 yunbak policy explain
expect_exit 2 yunbak policy explain good.yaml good.yaml
expect_exit 2 yunbak policy explain --next 0 good.yaml
expect_exit 2 yunbak policy explain --next 1001 good.yaml
expect_stderr "--next must be a number from 1 to 1000"
expect_exit 2 yunbak policy explain --from yesterday good.yaml
expect_stderr "--from must be a time"
expect_exit 2 yunbak policy explain --from 9999-12-31 good.yaml
expect_exit 0 yunbak policy --help
expect_exit 0 yunbak policy check --help
expect_exit 0 yunbak policy explain --help
grep -q "policy explain FILE" "$SCRATCH/stdout" || die "no usage"

# explain of an invalid policy: its errors, status 78.
expect_exit 78 yunbak policy explain syntax.yaml
expect_stderr "^syntax.yaml:4:8: syntax error"

# explain --json, checked by an independent reading of the calendars.
for f in "$EX"/*.yaml; do
        # Whatever the local zone, the instants are the same.
        TZ=America/New_York yunbak policy explain "$f" --json --next 7 \
                --from 2026-12-30T12:00:00+08:00 >"$(basename "$f" .yaml).json"
        TZ=UTC yunbak policy explain "$f" --json --next 7 \
                --from 2026-12-30T04:00:00Z >"$(basename "$f" .yaml).utc.json"
done
python3 - <<'EOF'
import datetime as dt, json, re

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
FROM = dt.datetime(2026, 12, 30, 4, 0, tzinfo=dt.timezone.utc)

def runs(j, tier, key, n=7):
    v = j[tier][key]
    assert isinstance(v, list) and len(v) == n, (tier, key, v)
    for s in v:
        assert ISO.match(s), s
    t = [dt.datetime.fromisoformat(s) for s in v]
    assert all(a < b for a, b in zip(t, t[1:])), v
    assert t[0] > FROM, v
    # Shown in the calendar's own zone (all examples use Asia/Shanghai).
    assert all(x.utcoffset() == dt.timedelta(hours=8) for x in t), v
    return t

def load(name):
    j = json.load(open(name + ".json", encoding="utf-8"))
    u = json.load(open(name + ".utc.json", encoding="utf-8"))
    for k in ("tier1", "tier2", "tier3"):
        a, b = j[k], u[k]
        if a is None:
            assert b is None
            continue
        for kk, v in a.items():
            if isinstance(v, list):
                assert v == b[kk], (k, kk)
    return j

hr = load("hr-portal")
assert hr["system"] == {
    "id": "hr-portal", "name": "人事门户网站", "department": "市人力资源和社会保障局",
    "contact": "王芳 (信息中心) <wangfang@rsj.example.gov.cn>", "classification": "general",
}, hr["system"]
assert hr["tier2"] is None and hr["tier3"] is None
assert hr["sealed"] is True
full = runs(hr, "tier1", "full")
assert all(t.weekday() == 6 and (t.hour, t.minute, t.second) == (2, 0, 0) for t in full)
assert full[0].date() == dt.date(2027, 1, 3)
inc = runs(hr, "tier1", "incremental")
assert all(t.weekday() != 6 and (t.hour, t.minute) == (2, 0) for t in inc)
# From 12:00 on Wednesday 30 December: Thursday 31 December is the first.
assert inc[0] == dt.datetime.fromisoformat("2026-12-31T02:00:00+08:00"), inc[0]
assert "differential" not in hr["tier1"]
assert hr["tier1"]["retention"] == {"keep_daily": 14, "keep_weekly": 8, "keep_monthly": 12}
assert hr["tier1"]["lock_until"] is None
assert hr["objectives"] == {"rpo": "1d", "rpo_seconds": 86400, "rto": "8h", "rto_seconds": 28800}
assert hr["drill"]["every"] == "1y"
rules = {r["rule"]: r["applies"] for r in hr["grade_minimums"]}
assert rules["a restore drill at least yearly"] is True
assert rules["tier2 with max_lag at most 1min"] is False

hl = load("hotline-12345")
assert hl["system"]["name"] == "12345政务服务便民热线工单系统"
assert hl["system"]["classification"] == "important"
assert all(t.weekday() == 6 for t in runs(hl, "tier1", "full"))
assert all(t.weekday() == 2 for t in runs(hl, "tier1", "differential"))
assert all(t.weekday() not in (2, 6) for t in runs(hl, "tier1", "incremental"))
cp = runs(hl, "tier2", "checkpoint")
assert [t.hour for t in cp[:4]] == [18, 0, 6, 12], cp
assert hl["tier2"]["max_lag_seconds"] == 30
assert hl["tier3"]["schedule"] == [] and hl["tier3"]["on_request"] is True
assert hl["tier3"]["approval"] == "required"
assert hl["tier1"]["lock_until"].startswith("2027-02-28T00:00:00")
hook = hl["sources"]["hooks"][0]
assert hook == {"name": "tickets-db", "type": "postgresql", "database": "hotline",
                "mode": "dump", "timeout": "2h", "on_failure": "abort"}, hook
assert hl["sources"]["live_postgresql"] == "error"

si = load("social-insurance")
assert si["system"]["classification"] == "core"
assert si["system"]["department"] == "市社会保险事业管理中心"
inc = runs(si, "tier1", "incremental")
assert [(t.hour, t.minute) for t in inc[:3]] == [(12, 30), (16, 30), (20, 30)], inc
sched = runs(si, "tier3", "schedule")
assert all(t.weekday() == 6 and t.hour == 4 for t in sched)
assert sched[0].date() == dt.date(2027, 1, 3)
assert all(r["applies"] for r in si["grade_minimums"])
assert si["tier2"]["max_lag"] == "15s"
assert si["tier2"]["interval"] == "2s" and si["tier2"]["interval_seconds"] == 2
assert [r["status"] for r in si["grade_minimums"] if r["rule"].startswith("tier2")] == ["asked"]
hook = si["sources"]["hooks"][0]
assert hook == {"name": "si-db", "type": "postgresql", "database": "social_insurance",
                "mode": "physical", "host": "/var/run/postgresql"}, hook
hook = si["sources"]["hooks"][1]
assert hook == {"name": "flush-queues", "type": "command",
                "run": "/usr/local/bin/si-ctl flush-queues --wait 60 --then-pause",
                "after": "/usr/local/bin/si-ctl resume-queues",
                "timeout": "5min", "on_failure": "continue"}, hook
EOF

# The text form names the system and its runs.
expect_exit 0 yunbak policy explain "$EX/social-insurance.yaml" --next 2 \
        --from 2026-12-30T12:00:00+08:00
grep -q '^social-insurance: 社会保险经办管理信息系统$' "$SCRATCH/stdout" || die "no title"
grep -q 'met          a scheduled tier3' "$SCRATCH/stdout" || die "no grade minimums"
grep -q "^  hook         si-db: a physical base backup of PostgreSQL (database 'social_insurance', host /var/run/postgresql) in every tier-1 backup:$" "$SCRATCH/stdout" ||
        die "explain does not say what the physical hook does: $(cat "$SCRATCH/stdout")"
grep -q "^  live cluster sources.live_postgresql: error: a running PostgreSQL data directory met in a path (without a physical hook) fails the backup$" "$SCRATCH/stdout" ||
        die "explain does not say what a live data directory does"
# Tier 2 is what the policy asks for; whether it runs is yunbak status's to say.
grep -q '^  asked        tier2 with max_lag at most 1min (max_lag 15s): whether it runs' \
        "$SCRATCH/stdout" || die "tier 2 is not shown as asked for"
! grep -q 'met          tier2' "$SCRATCH/stdout" || die "tier 2 is called met by the policy alone"
grep -q '2027-01-03T04:00:00+08:00' "$SCRATCH/stdout" || die "no tier 3 run"
grep -Fq "hook         flush-queues: runs '/usr/local/bin/si-ctl flush-queues --wait 60 --then-pause', and '/usr/local/bin/si-ctl resume-queues' after the backup; timeout 5min, continue on failure" \
        "$SCRATCH/stdout" || die "the hook and its after command are not explained"
# The drill's PostgreSQL checks and their bound.
grep -Fq "Drill: every 90d; check, run in the restored sandbox: test -d si-app && test -d si; each check within 30min" \
        "$SCRATCH/stdout" || die "explain does not give the drill's check and timeout: $(cat "$SCRATCH/stdout")"
grep -Fq "  postgresql   si-db (physical): in database 'social_insurance', SELECT count(*) FROM insured_persons must answer at least 100000" \
        "$SCRATCH/stdout" || die "explain does not list drill.postgresql: $(cat "$SCRATCH/stdout")"
exit 0
