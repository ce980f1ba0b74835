#!/bin/sh
# Wrong passphrase, wrong key, missing store, damaged files, unknown versions, bad arguments:
# each gives a one-line error naming the thing, and its documented exit status.
. "$TESTS/integration/lib.sh"

mkdir -p "$SCRATCH/src/data" "$SCRATCH/store"
echo hello >"$SCRATCH/src/data/f"
make_key hr
mkdir -p "$SCRATCH/other"
yunbak key init --system hr --out "$SCRATCH/other" --passphrase-file "$SCRATCH/pass" >/dev/null
backup() {
        yunbak-agent backup --store "$SCRATCH/store" --system hr --level full "$@" "$SCRATCH/src/data"
}
R="--store $SCRATCH/store --system hr"
one_line() { [ "$(wc -l <"$SCRATCH/stderr")" -eq 1 ] || { cat "$SCRATCH/stderr"; die "error is not one line"; }; }

expect_exit 0 backup --public-key "$SCRATCH/keys/hr.pub"

# Usage errors: status 2.
expect_exit 2 yunbak-agent backup --store "$SCRATCH/store"
expect_exit 2 yunbak-agent backup --store "$SCRATCH/store" --system hr --public-key x --level weekly p
expect_stderr "--level must be full, differential or incremental, not 'weekly'"
expect_exit 2 yunbak-agent backup --store "$SCRATCH/store" --system HR --public-key x --level full p
expect_stderr "not a valid system id"
expect_exit 2 yunbak frobnicate
expect_exit 2 yunbak restore $R --key "$SCRATCH/keys/hr.key" --passphrase-file "$SCRATCH/pass" \
        --target "$SCRATCH/out" ../etc/passwd
expect_stderr "not a path in a snapshot"

# Keys: wrong passphrase, wrong key, public key instead of private, damaged key file: status 4.
printf 'wrong\n' >"$SCRATCH/wrongpass"
# shellcheck disable=SC2086
expect_exit 4 yunbak restore $R --key "$SCRATCH/keys/hr.key" --passphrase-file "$SCRATCH/wrongpass" --target "$SCRATCH/out"
expect_stderr "Wrong passphrase for key file '.*hr.key'"
one_line
# shellcheck disable=SC2086
expect_exit 4 yunbak restore $R --key "$SCRATCH/other/hr.key" --passphrase-file "$SCRATCH/pass" --target "$SCRATCH/out"
expect_stderr "is not the key of system 'hr' in store '$SCRATCH/store' \(key id [0-9a-f]+\): give the key whose id is that one"
one_line
# shellcheck disable=SC2086
expect_exit 4 yunbak restore $R --key "$SCRATCH/keys/hr.pub" --passphrase-file "$SCRATCH/pass" --target "$SCRATCH/out"
expect_stderr "is a public key"
printf '{"type": "yunbak-secret-key", "version": 1' >"$SCRATCH/broken.key"
# shellcheck disable=SC2086
expect_exit 4 yunbak restore $R --key "$SCRATCH/broken.key" --passphrase-file "$SCRATCH/pass" --target "$SCRATCH/out"
expect_stderr "not a yunbak private key file, or it is damaged"
# The agent with another system key than the repository's: status 4, both key ids named.
expect_exit 4 backup --public-key "$SCRATCH/other/hr.pub"
expect_stderr "uses key [0-9a-f]{16}, but the key '.*other/hr.pub' is [0-9a-f]{16}"
one_line
# The private key given to the agent: refused, and said why it must not be there.
expect_exit 4 backup --public-key "$SCRATCH/keys/hr.key"
expect_stderr "is the system's PRIVATE key"
# The key as text (--public-key-json, as yunbakd gives it): the same checks.
mkdir "$SCRATCH/store-json"
jbackup() { # LEVEL [ARGS...]: a backup into store-json; prints "id parent"
        level=$1
        shift
        yunbak-agent backup --store "$SCRATCH/store-json" --system hr --level "$level" --json \
                --public-key-json "$(cat "$SCRATCH/keys/hr.pub")" "$@" "$SCRATCH/src/data" |
                python3 -c 'import json, sys; s = json.load(sys.stdin); print(s["snapshot"], s["parent"] or "-")'
}
set -- $(jbackup full)
A=$1
set -- $(jbackup incremental)
B=$1
[ "$2" = "$A" ] || die "the incremental's parent is $2, not $A"
# --skip-parent (yunbakd passes the quarantined snapshots): the next one builds on A, not B.
set -- $(jbackup incremental --skip-parent "$B")
[ "$2" = "$A" ] || die "with --skip-parent $B the parent is $2, not $A"
# --parent-agent naming another agent: nothing of this agent's to build on, so a full.
OTHER_AGENT=$(yunbak-agent identity --state-dir "$SCRATCH/other-agent")
set -- $(jbackup incremental --parent-agent "$OTHER_AGENT")
[ "$2" = - ] || die "with --parent-agent of another agent the parent is $2"
expect_exit 2 yunbak-agent backup --store "$SCRATCH/store-json" --system hr --level full \
        --public-key-json "$(cat "$SCRATCH/keys/hr.pub")" --parent-agent nonsense "$SCRATCH/src/data"
expect_stderr "--parent-agent must be an agent's key"
expect_exit 4 backup --public-key-json "$(cat "$SCRATCH/other/hr.pub")"
expect_stderr "uses key [0-9a-f]{16}, but the key given with --public-key-json is [0-9a-f]{16}"
one_line
expect_exit 4 backup --public-key-json "$(cat "$SCRATCH/keys/hr.key")"
expect_stderr "holds the system's PRIVATE key"
expect_exit 4 backup --public-key-json '{"type": "yunbak-public-key"'
expect_stderr "is not the text of a yunbak public key"
expect_exit 2 backup --public-key "$SCRATCH/keys/hr.pub" --public-key-json "$(cat "$SCRATCH/keys/hr.pub")"
expect_stderr "not both"
expect_exit 1 backup --public-key "$SCRATCH/nonexistent.pub"
expect_stderr "Cannot read public key '.*nonexistent.pub': No such file"
# No passphrase and no terminal: a clear usage error, not a hang.
# shellcheck disable=SC2086
expect_exit 2 yunbak restore $R --key "$SCRATCH/keys/hr.key" --target "$SCRATCH/out" </dev/null
expect_stderr "No passphrase"

# Missing store: status 6.
expect_exit 6 yunbak snapshots --store "$SCRATCH/nowhere" --system hr
expect_stderr "Store '.*nowhere' does not exist"
one_line
expect_exit 6 yunbak-agent backup --store "$SCRATCH/nowhere" --system hr --public-key "$SCRATCH/keys/hr.pub" --level full "$SCRATCH/src/data"
expect_exit 1 yunbak snapshots --store "$SCRATCH/store" --system payroll
expect_stderr "holds no repository for system 'payroll'"

# Unknown format versions: status 5.
sed -i 's/"format": 1/"format": 2/' "$SCRATCH/store/hr/config"
expect_exit 5 yunbak snapshots $R
expect_stderr "format version this program does not know"
one_line
sed -i 's/"format": 2/"format": 1/' "$SCRATCH/store/hr/config"
snap=$(ls -d "$SCRATCH/store/hr/snapshots/"*)
python3 - "$snap/vol-000001" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[6] = 9  # sealed-file format version
open(p, "wb").write(bytes(b))
PY
expect_exit 5 yunbak decrypt --key "$SCRATCH/keys/hr.key" --passphrase-file "$SCRATCH/pass" "$snap/vol-000001"
expect_stderr "format version this program does not know"
expect_exit 5 yunbak decrypt --key "$SCRATCH/keys/hr.key" --passphrase-file "$SCRATCH/pass" "$snap/header"
expect_stderr "is not a sealed yunbak file"
# The sigindex is sealed to the agent, not to the system key.
expect_exit 4 yunbak decrypt --key "$SCRATCH/keys/hr.key" --passphrase-file "$SCRATCH/pass" "$snap/sigindex"
expect_stderr "is sealed to key [0-9a-f]{16}"
# Key init never overwrites a key pair.
expect_exit 1 yunbak key init --system hr --out "$SCRATCH/keys" --passphrase-file "$SCRATCH/pass"
expect_stderr "never overwritten"
# Trusted agents: this agent's key passes, another one is refused by verify and restore.
me=$(yunbak-agent identity)
other=$(yunbak-agent identity --state-dir "$SCRATCH/another-agent")
[ "$me" != "$other" ] || die "two agents have the same key"
sed -i 's/"format": 2/"format": 1/' "$SCRATCH/store/hr/config"
rm -rf "$SCRATCH/store" && mkdir "$SCRATCH/store" && expect_exit 0 backup --public-key "$SCRATCH/keys/hr.pub"
expect_exit 0 yunbak verify $R --trust-agent "$me"
expect_exit 5 yunbak verify $R --trust-agent "$other"
grep -q "signed by agent .* which is not trusted" "$SCRATCH/stdout" || die "untrusted agent not named"
# shellcheck disable=SC2086
expect_exit 5 yunbak restore $R --key "$SCRATCH/keys/hr.key" --passphrase-file "$SCRATCH/pass" \
        --target "$SCRATCH/out" --trust-agent "$other"
expect_stderr "signed by an agent that is not trusted"
expect_exit 2 yunbak verify $R --trust-agent not-a-key
echo "bad-input: ok"
