#!/bin/sh
# yunbakd with an S3 store on a real Ceph (ceph-lib.sh): the store's `s3:` block in yunbakd.yaml
# reaches the agent as --s3-* flags (the credentials file's path, never the keys: a wrapper
# agent records its command line), a tier-1 backup lands in the bucket (read back with curl),
# `yunbak status` says the system is ok, and `yunbak snapshots` lists the snapshot with the
# --s3-* options, with the environment alone, and with a flag winning over the environment. A
# store whose endpoint does not answer fails its job with exit status 6 and a message naming the
# store and the endpoint, which `yunbak status` shows. A tier-3 copy job puts a snapshot in the
# bucket byte for byte. A tier-2 replicator into the bucket runs, its chain's root made by a
# child backup given the same options, and a change reaches the bucket as a segment. Before all
# that, `yunbakd --check` reports a broken s3 block at its file:line:col and says which
# credentials file yunbakd cannot read.
. "$TESTS/integration/lib.sh"
for tool in yunbakd curl sqlite3 python3; do
        command -v "$tool" >/dev/null || {
                echo "s3-daemon: no $tool: skipped"
                exit 77
        }
done

CEPH_DIR=$SCRATCH/ceph
YUNBAKD_PID=
finish() {
        set +e
        [ -z "$YUNBAKD_PID" ] || {
                kill "$YUNBAKD_PID" 2>/dev/null
                wait "$YUNBAKD_PID" 2>/dev/null
        }
        ceph_finish
        cleanup
}
trap finish EXIT
trap 'exit 1' HUP INT TERM
. "$TESTS/integration/daemon-lib.sh"
export YUNBAK_SOCKET="$SOCK"
. "$TESTS/integration/ceph-lib.sh"
s3_bucket yunbak-daemon

# The agent yunbakd runs: the real one, after writing down its arguments one per line.
cat >"$D/agent" <<EOF
#!/bin/sh
printf '%s\n' "\$@" >>"$D/agent-argv"
exec "$BIN/yunbak-agent" "\$@"
EOF
chmod +x "$D/agent"

DEAD_PORT=$(ceph_free_port) # nothing listens there
# yunbakd.yaml: daemon-lib's, with the S3 stores, and the wrapper as the local host's agent.
s3_config() {
        daemon_config
        python3 - "$D/yunbakd.yaml" "$S3_ENDPOINT" "$S3_CREDS" "$DEAD_PORT" "$D/agent" <<'EOF'
import sys
path, endpoint, creds, dead, agent = sys.argv[1:]
text = open(path).read()
text = text.replace("stores:\n", f"""stores:
  oss:
    url: s3://yunbak-daemon/city
    s3:
      endpoint: {endpoint}
      credentials: {creds}
      region: default
      parallel: 2
  dead:
    url: s3://yunbak-daemon/dead
    s3:
      endpoint: http://127.0.0.1:{dead}
      credentials: {creds}
""", 1)
text = text.replace("    local: true\n", f"    local: true\n    agent: {agent}\n", 1)
open(path, "w").write(text)
EOF
}
s3_config
daemon_system hr-portal "市人力资源和社会保障局"
sed -i 's/^  store: local$/  store: oss/' "$D/policies/hr-portal.yaml"

# A broken s3 block is refused at its line and column, before anything starts.
cp "$D/yunbakd.yaml" "$D/good.yaml"
sed -i 's/^      parallel: 2$/      paralel: 2/' "$D/yunbakd.yaml"
line=$(grep -n 'paralel' "$D/yunbakd.yaml" | cut -d: -f1)
expect_exit 78 yunbakd --check --config "$D/yunbakd.yaml"
grep -qF "$D/yunbakd.yaml:$line:7: unknown key 'paralel' in stores.oss.s3; did you mean 'parallel'?" \
        "$SCRATCH/stderr" || {
        cat "$SCRATCH/stderr" >&2
        die "yunbakd --check does not name the unknown key at its place"
}
cp "$D/good.yaml" "$D/yunbakd.yaml"
chmod 644 "$S3_CREDS"
expect_exit 78 yunbakd --check --config "$D/yunbakd.yaml"
grep -qF "stores.oss.s3.credentials '$S3_CREDS' is open to others (mode 0644)" "$SCRATCH/stderr" ||
        die "yunbakd --check accepts a credentials file others can read: $(cat "$SCRATCH/stderr")"
chmod 600 "$S3_CREDS"
if [ "$(id -u)" != 0 ]; then # root reads every file: the warning is for other users
        chmod 000 "$S3_CREDS"
        expect_exit 0 yunbakd --check --config "$D/yunbakd.yaml"
        grep -qF "Store 'oss': yunbakd (uid $(id -u)) cannot read its credentials file $S3_CREDS" \
                "$SCRATCH/stderr" || die "yunbakd --check does not say the credentials are unreadable"
        chmod 600 "$S3_CREDS"
fi

start_yunbakd

# A tier-1 backup into the bucket.
expect_exit 0 yunbak backup now --system hr-portal --level full --wait
SNAP=$(sed -n 's/.*: full snapshot \([^ ]*\) .*/\1/p' "$SCRATCH/stdout")
[ -n "$SNAP" ] || die "no snapshot id in: $(cat "$SCRATCH/stdout")"

# The agent got the store's options as flags, the credentials as a path, never the keys.
for want in "--store=s3://yunbak-daemon/city" "--s3-endpoint=$S3_ENDPOINT" \
        "--s3-credentials=$S3_CREDS" "--s3-region=default" "--s3-parallel=2"; do
        grep -qxF -- "$want" "$D/agent-argv" || {
                cat "$D/agent-argv" >&2
                die "the agent was not given $want"
        }
done
! grep -qF -e "$S3_SECRET" -e "$S3_ACCESS" "$D/agent-argv" || die "a key reached the agent's command line"

# The snapshot is in the bucket, header and all (read with curl, not with yunbak).
s3_curl GET "/yunbak-daemon/city/hr-portal/snapshots/$SNAP/header" -f -o "$D/header" ||
        die "the bucket has no header of snapshot $SNAP"
grep -qF "\"$SNAP\"" "$D/header" || die "the header in the bucket is not snapshot $SNAP's"

# yunbakd says the system is ok.
expect_exit 0 yunbak status
grep -Eq "^hr-portal +general +succeeded .* $SNAP .* ok " "$SCRATCH/stdout" || {
        cat "$SCRATCH/stdout" >&2
        die "yunbak status does not show hr-portal backed up and ok"
}

# yunbak lists it: with the options, with the environment alone, and a flag over the environment.
expect_exit 0 yunbak snapshots --store s3://yunbak-daemon/city --system hr-portal --json \
        --s3-endpoint "$S3_ENDPOINT" --s3-credentials "$S3_CREDS"
[ "$(json '[s["id"] for s in j]' <"$SCRATCH/stdout")" = "['$SNAP']" ] ||
        die "yunbak snapshots with the --s3-* options: $(cat "$SCRATCH/stdout")"
expect_exit 0 env YUNBAK_S3_ENDPOINT="$S3_ENDPOINT" YUNBAK_S3_CREDENTIALS="$S3_CREDS" \
        yunbak snapshots --store s3://yunbak-daemon/city --system hr-portal --json
[ "$(json '[s["id"] for s in j]' <"$SCRATCH/stdout")" = "['$SNAP']" ] ||
        die "yunbak snapshots with the environment: $(cat "$SCRATCH/stdout")"
expect_exit 0 env YUNBAK_S3_ENDPOINT="http://127.0.0.1:$DEAD_PORT" YUNBAK_S3_CREDENTIALS="$S3_CREDS" \
        yunbak snapshots --store s3://yunbak-daemon/city --system hr-portal \
        --s3-endpoint "$S3_ENDPOINT"
grep -q "$SNAP" "$SCRATCH/stdout" || die "--s3-endpoint does not win over YUNBAK_S3_ENDPOINT"
expect_exit 2 yunbak snapshots --store s3://yunbak-daemon/city --system hr-portal
grep -qF "Store 's3://yunbak-daemon/city' needs --s3-endpoint URL (or YUNBAK_S3_ENDPOINT" \
        "$SCRATCH/stderr" || die "no endpoint: $(cat "$SCRATCH/stderr")"

# A store that cannot be reached: the job fails as unreachable, naming the store and endpoint.
stop_yunbakd
YUNBAKD_PID=
daemon_system tax-db "市税务局"
sed -i 's/^  store: local$/  store: dead/' "$D/policies/tax-db.yaml"
start_yunbakd
yunbak backup now --system tax-db --level full --wait >"$SCRATCH/stdout" 2>"$SCRATCH/stderr" &&
        die "a backup into a store nobody answers for succeeded"
job=$(sql "SELECT id FROM jobs WHERE system = 'tax-db' ORDER BY id DESC LIMIT 1")
[ "$(sql "SELECT state FROM jobs WHERE id = $job")" = failed ] ||
        die "the job into the dead store: $(sql "SELECT state, error FROM jobs WHERE id = $job")"
err=$(sql "SELECT error FROM jobs WHERE id = $job")
echo "the job into the dead store: $err"
case $err in
"agent exit status 6, the store cannot be reached: "*"s3://yunbak-daemon/dead"*"127.0.0.1:$DEAD_PORT"*) ;;
*) die "the job's error does not say unreachable, naming the store and its endpoint: $err" ;;
esac
expect_exit 3 yunbak status
grep -Eq "^tax-db +general +failed" "$SCRATCH/stdout" || {
        cat "$SCRATCH/stdout" >&2
        die "yunbak status does not show tax-db's failure"
}
grep -Eq "^hr-portal +general +succeeded .* ok " "$SCRATCH/stdout" ||
        die "hr-portal is no longer ok: $(cat "$SCRATCH/stdout")"

# Tier 3 into the bucket: yunbakd's own copy job opens the bucket with the store's options.
stop_yunbakd
YUNBAKD_PID=
daemon_system archive "市档案馆" "" "" "tier3:
  store: oss
  on_request: true
  approval: automatic"
start_yunbakd
expect_exit 0 yunbak backup now --system archive --level full --wait
ASNAP=$(sed -n 's/.*: full snapshot \([^ ]*\) .*/\1/p' "$SCRATCH/stdout")
expect_exit 0 yunbak offsite request --system archive --reason "异地备份到对象存储"
req=$(api GET '/v1/offsite/requests?system=archive' | json 'j["requests"][0]["id"]')
cjob=$(api GET "/v1/offsite/requests/$req" | json 'j["job"]')
[ "$(wait_job "$cjob")" = succeeded ] || die "the copy into the bucket: $(cat "$D/body")"
s3_curl GET "/yunbak-daemon/city/archive/snapshots/$ASNAP/header" -f -o "$D/aheader" ||
        die "the copy left no header of $ASNAP in the bucket"
cmp -s "$D/aheader" "$D/store/archive/snapshots/$ASNAP/header" ||
        die "the header in the bucket differs from tier 1's"

# Tier 2 into the bucket: yunbakd's replicator gets the options, and hands them on to the child
# backup that makes its chain's root (no environment stands in: yunbakd sets none).
stop_yunbakd
YUNBAKD_PID=
daemon_system hotline "市政务服务管理办公室" "" "" "tier2:
  store: oss
  max_lag: 30s
  interval: 1s
  checkpoint: \"*-*-* 00:00:00 UTC\""
start_yunbakd
# t2 EXPR: EXPR over hotline's tier2 in /v1/status (bound to t), printed.
t2() {
        api GET /v1/status | python3 -c "import json,sys; t=[s for s in json.load(sys.stdin)['systems'] if s['id'] == 'hotline'][0]['tier2']; print($1)"
}
until_t2() { # EXPR WHAT: polls for up to 60 s
        i=0
        while [ "$(t2 "$1")" != True ]; do
                i=$((i + 1))
                [ "$i" -lt 600 ] || {
                        api GET /v1/status >&2
                        tail -20 "$D/yunbakd.log" >&2
                        die "$2 (not within 60 s)"
                }
                sleep 0.1
        done
}
until_t2 't["state"] == "running" and t["lag_known"]' "the replicator into S3 does not run"
seg0=$(t2 't["segments"]')
echo "a change" >"$D/trees/hotline/data/change.txt"
until_t2 "t['segments'] > $seg0 and t['lag_known']" "a change did not reach the bucket as a segment"
grep -qx -- "replicate" "$D/agent-argv" || die "yunbakd did not run the replicator through the agent"
grep -qxF -- "--s3-credentials=$S3_CREDS" "$D/agent-argv" || die "the replicator lacks --s3-credentials"
expect_exit 0 yunbak snapshots --store s3://yunbak-daemon/city --system hotline --json \
        --s3-endpoint "$S3_ENDPOINT" --s3-credentials "$S3_CREDS"
[ "$(json 'len(j) >= 1' <"$SCRATCH/stdout")" = True ] || die "the chain's root is not in the bucket"
stop_yunbakd
YUNBAKD_PID=
