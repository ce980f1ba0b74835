#!/bin/sh
# yunbak-agent wipe: what a decommissioned system leaves on its host. The agent's state holds two
# systems (hr and payroll: signature caches from real backups, WAL spools, wal-archive records,
# replicator locks) and the agent's key; only hr's goes, the key and payroll's stay byte for
# byte. hr's source paths are cleared below (the directories themselves stay), a symlink to a
# file and one to a directory outside removed with their targets untouched; a path that does not
# exist is already absent. Refused before anything is touched: '/', /etc, a relative path, a
# file, the state directory, a directory holding a running PostgreSQL server's data directory
# (a postmaster.pid whose process lives), and a running replicator of hr: each says why, and
# nothing at all is removed. --dry-run removes nothing. A run again finds nothing and succeeds.
# As root, a bind mount inside a path is not entered: the path is "incomplete" (exit 1), the
# mount named, what it shows intact; unmounted, a run again clears it.
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/wipe-lib.sh"

BIND=
finish() {
        set +e
        [ -z "$BIND" ] || umount "$BIND"
        cleanup
}
trap finish EXIT


ST=$SCRATCH/state
SRC=$SCRATCH/src
mkdir -p "$SCRATCH/store" "$SRC/hr-app/sub/deeper" "$SRC/hr-data" "$SRC/payroll" "$SCRATCH/outside/dir"
printf 'hr app\n' >"$SRC/hr-app/index.html"
head -c 200000 /dev/urandom >"$SRC/hr-app/sub/deeper/blob"
printf 'rows\n' >"$SRC/hr-data/table"
printf 'payroll\n' >"$SRC/payroll/ledger"
printf 'secret outside\n' >"$SCRATCH/outside/secret"
printf 'inside the dir outside\n' >"$SCRATCH/outside/dir/file"
ln -s "$SCRATCH/outside/secret" "$SRC/hr-app/link-out"
ln -s "$SCRATCH/outside/dir" "$SRC/hr-app/sub/dirlink-out"

# The state of two systems: signature caches from real backups, the rest as the agent writes it.
make_key hr
make_key payroll
for s in hr payroll; do
        yunbak-agent backup --store "$SCRATCH/store" --system $s --public-key "$SCRATCH/keys/$s.pub" \
                --level full --state-dir "$ST" "$SRC/payroll" >/dev/null
        mkdir -p "$ST/wal/$s/db" "$ST/wal-archive/$s/db"
        printf 'wal' >"$ST/wal/$s/db/000000010000000000000001"
        printf '%064d 1\n' 0 >"$ST/wal-archive/$s/db/000000010000000000000001"
        printf '1\n' >"$ST/replicate-$s.lock"
done
ls "$ST/cache/hr/"*.sigindex >/dev/null || die "the backup left no signature cache of hr"
KEY=$(yunbak-agent identity --state-dir "$ST")
# digest DIR PATH...: every entry's name, and every file's content, below DIR.
digest() {
        d=$1
        shift
        (cd "$d" && find "$@" -print -type f -exec sha256sum {} + | sort)
}
keep_digest() {
        digest "$ST" cache/payroll wal/payroll wal-archive/payroll replicate-payroll.lock agent.key
        digest "$SRC" payroll
}
KEEP=$(keep_digest)
OUT=$(digest "$SCRATCH" outside)
hr_state_present() { [ -d "$ST/cache/hr" ] && [ -d "$ST/wal/hr" ] && [ -d "$ST/wal-archive/hr" ] && [ -f "$ST/replicate-hr.lock" ]; }
untouched() {
        hr_state_present || die "$1: hr's state was touched"
        [ -f "$SRC/hr-app/sub/deeper/blob" ] || die "$1: a path was touched"
        [ "$(keep_digest)" = "$KEEP" ] || die "$1: payroll's state or the agent's key changed"
}

# Refusals: each names why, and nothing at all is touched.
wipe 1 refused "$SRC/hr-app" / /etc /usr/ relative/dir "$SRC/hr-app/index.html" "$ST" "$ST/cache"
expect refused 'j["ok"]' False
expect refused 'j["touched"]' False
expect refused 'j["paths"][0]["result"]' refused
expect refused '"not touched" in j["paths"][0]["why"]' True
expect refused '"the root directory" in j["paths"][1]["why"]' True
expect refused '"/etc is a top-level system directory" in j["paths"][2]["why"]' True
expect refused '"/usr is a top-level system directory" in j["paths"][3]["why"]' True
expect refused '"is relative" in j["paths"][4]["why"]' True
expect refused '"is not a directory" in j["paths"][5]["why"]' True
expect refused '"agent\x27s state directory" in j["paths"][6]["why"]' True
expect refused '"agent\x27s state directory" in j["paths"][7]["why"]' True
expect refused 'j["state"]["removed"]' '[]'
grep -q "refused: /etc is a top-level system directory" "$SCRATCH/refused.err" || die "no error on stderr"
untouched "refused"
# Below a top-level system directory is fine to name (not run here: it is the host's).
# A symlink above that leads to one is not: /srv/link/etc with link -> / is /etc.
ln -s / "$SCRATCH/root-link"
wipe 1 via-link "$SCRATCH/root-link/etc"
expect via-link '"through a symbolic link above it" in j["paths"][0]["why"]' True
untouched "via-link"

# A running PostgreSQL server's data directory inside a path (postmaster.pid with a live pid:
# this shell's), and the path inside a data directory: refused.
mkdir -p "$SRC/hr-data/pg"
printf '15\n' >"$SRC/hr-data/pg/PG_VERSION"
printf '%s\n/x\n' $$ >"$SRC/hr-data/pg/postmaster.pid"
wipe 1 pg "$SRC/hr-data"
expect pg '"stop the cluster first" in j["paths"][0]["why"]' True
expect pg "\"pid $$\" in j[\"paths\"][0][\"why\"]" True
mkdir -p "$SRC/hr-data/pg/base"
wipe 1 pg-inside "$SRC/hr-data/pg/base"
expect pg-inside '"lies inside the data directory" in j["paths"][0]["why"]' True
untouched "pg"
# Stopped (its pid gone): no longer in the way.
sh -c 'exit 0' &
dead=$!
wait $dead || true
printf '%s\n/x\n' "$dead" >"$SRC/hr-data/pg/postmaster.pid"

# A running replicator of hr (its lock held, here by this shell): refused, nothing touched.
if command -v flock >/dev/null; then
        exec 9<"$ST/replicate-hr.lock"
        flock -x 9
        wipe 1 replicator "$SRC/hr-app"
        flock -u 9
        exec 9<&-
        expect replicator '"a replicator of system hr runs on this host" in j["state"]["error"]' True
        expect replicator 'j["paths"][0]["result"]' refused
        untouched "replicator"
else
        echo "agent-wipe: the running replicator case skipped: no flock (util-linux)"
fi

# --dry-run: says what would go, removes nothing.
wipe 0 dry --dry-run "$SRC/hr-app" "$SRC/hr-data" "$SCRATCH/gone"
expect dry 'j["dry_run"]' True
expect dry 'j["paths"][0]["result"]' would-wipe
expect dry 'j["paths"][0]["files"]' 2
expect dry 'j["paths"][2]["result"]' already-absent
expect dry 'len(j["state"]["would_remove"])' 4
untouched "dry run"

# As root: a bind mount inside a path is left and named.
if is_root; then
        mkdir -p "$SCRATCH/elsewhere" "$SRC/hr-data/mnt"
        printf 'not hr\n' >"$SCRATCH/elsewhere/file"
        mount --bind "$SCRATCH/elsewhere" "$SRC/hr-data/mnt"
        BIND=$SRC/hr-data/mnt
        wipe 1 bind "$SRC/hr-app" "$SRC/hr-data" "$SCRATCH/gone"
        FIRST=bind
        expect bind 'j["paths"][1]["result"]' incomplete
        expect bind 'j["paths"][1]["left"]' 1
        expect bind 'j["paths"][1]["verified"]' False
        expect bind "j[\"paths\"][1][\"left_first\"].startswith(\"$SRC/hr-data/mnt (another filesystem\")" True
        expect bind '"unmount it and run the wipe again" in j["paths"][1]["why"]' True
        [ "$(cat "$SCRATCH/elsewhere/file")" = "not hr" ] || die "the bind mount's content changed"
        [ "$(ls -A "$SRC/hr-data")" = mnt ] || die "left in hr-data: $(ls -A "$SRC/hr-data")"
        umount "$BIND"
        BIND=
else
        echo "agent-wipe: the bind mount case needs root (mount): skipped as $(id -un)"
fi

# The wipe.
wipe 0 wipe "$SRC/hr-app" "$SRC/hr-data" "$SCRATCH/gone"
FIRST=${FIRST:-wipe}
# What the first wipe that reached them removed (as root, the one that met the bind mount).
expect "$FIRST" 'j["paths"][0]["files"]' 2
expect "$FIRST" 'j["paths"][0]["others"]' 2 # the two symlinks
expect "$FIRST" 'j["paths"][0]["dirs"]' 2
expect "$FIRST" 'j["paths"][0]["bytes"]' 200007
expect "$FIRST" 'j["paths"][1]["files"]' 3 # table, PG_VERSION, postmaster.pid
expect "$FIRST" 'sorted(p.rsplit("/", 1)[1] for p in j["state"]["removed"])' "['hr', 'hr', 'hr', 'replicate-hr.lock']"
expect "$FIRST" 'j["paths"][0]["overwritten"] == j["paths"][0]["medium"]["overwrite_effective"]' True
expect wipe 'j["ok"]' True
expect wipe 'j["touched"]' True
expect wipe 'j["system"]' hr
expect wipe 'j["host"]' "$(hostname)"
expect wipe 'j["paths"][0]["result"]' wiped
expect wipe 'j["paths"][0]["verified"]' True
expect wipe 'j["paths"][1]["result"]' wiped
expect wipe 'j["paths"][2]["result"]' already-absent
expect wipe 'j["paths"][2]["verified"]' True
expect wipe 'j["paths"][0]["medium"]["filesystem"] != ""' True
[ -d "$SRC/hr-app" ] && [ -d "$SRC/hr-data" ] || die "a wiped directory itself is gone"
[ -z "$(ls -A "$SRC/hr-app")" ] && [ -z "$(ls -A "$SRC/hr-data")" ] || die "a wiped directory is not empty"
[ ! -e "$ST/cache/hr" ] && [ ! -e "$ST/wal/hr" ] && [ ! -e "$ST/wal-archive/hr" ] &&
        [ ! -e "$ST/replicate-hr.lock" ] || die "hr's state is still there"
[ "$(keep_digest)" = "$KEEP" ] || die "payroll's state or the agent's key changed"
[ "$(digest "$SCRATCH" outside)" = "$OUT" ] || die "what the symlinks point to changed"
[ "$(yunbak-agent identity --state-dir "$ST")" = "$KEY" ] || die "the agent's key changed"

# Run again: nothing left, nothing to do, success; the summary for people says so.
wipe 0 again "$SRC/hr-app" "$SRC/hr-data"
expect again 'j["paths"][0]["files"] + j["paths"][1]["files"]' 0
expect again 'j["state"]["removed"]' '[]'
yunbak-agent wipe --system hr --state-dir "$ST" "$SRC/hr-app" >"$SCRATCH/text"
grep -q "^Wiped system hr on " "$SCRATCH/text" || die "no summary: $(cat "$SCRATCH/text")"
grep -q "agent state: nothing of hr in" "$SCRATCH/text" || die "summary: $(cat "$SCRATCH/text")"
expect_exit 2 yunbak-agent wipe --state-dir "$ST" "$SRC/hr-app"
expect_exit 2 yunbak-agent wipe --system 'Bad/Id' --state-dir "$ST" "$SRC/hr-app"
echo "agent-wipe: ok"
