#!/bin/sh
# What a newcomer meets first: key init into a directory that does not exist yet (made 0700),
# a missing option named rather than the whole list, key show saying which half a file is, and
# counts of one in the singular.
. "$TESTS/integration/lib.sh"
printf 'correct horse battery staple\n' >"$SCRATCH/pass"

# key init --out: a new directory, and its parents, made for the owner alone.
expect_exit 0 yunbak key init --system hr --out "$SCRATCH/new/keys" --passphrase-file "$SCRATCH/pass"
[ "$(stat -c %a "$SCRATCH/new/keys")" = 700 ] || die "the new key directory is not 0700"
[ -f "$SCRATCH/new/keys/hr.key" ] && [ -f "$SCRATCH/new/keys/hr.pub" ] || die "no key pair"

# Only what is missing is named.
expect_exit 2 yunbak key init --out "$SCRATCH/k2"
expect_stderr "^yunbak: error: key init needs --system ID\.$"
expect_exit 2 yunbak restore --system hr --key "$SCRATCH/new/keys/hr.key"
expect_stderr "^yunbak: error: restore needs --store STORE and --target DIR\.$"

# key show: which half.
expect_exit 0 yunbak key show "$SCRATCH/new/keys/hr.key"
grep -q "the private half" "$SCRATCH/stdout" || die "key show does not say private: $(cat "$SCRATCH/stdout")"
expect_exit 0 yunbak key show "$SCRATCH/new/keys/hr.pub"
grep -q "the public half" "$SCRATCH/stdout" || die "key show does not say public: $(cat "$SCRATCH/stdout")"
expect_exit 0 yunbak key show --json "$SCRATCH/new/keys/hr.key"
grep -q '"half": "private"' "$SCRATCH/stdout" || die "key show --json lacks the half"

# One snapshot: not "1 snapshots".
mkdir -p "$SCRATCH/src" "$SCRATCH/store"
echo one >"$SCRATCH/src/one.txt"
yunbak-agent backup --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/new/keys/hr.pub" \
        --level full "$SCRATCH/src/one.txt" >"$SCRATCH/backup.log" 2>&1 || die "backup failed: $(cat "$SCRATCH/backup.log")"
expect_exit 0 yunbak prune --store "$SCRATCH/store" --system hr --keep-last 1 --dry-run
grep -q "^Dry run: 0 of 1 snapshot would be pruned" "$SCRATCH/stdout" || die "prune: $(cat "$SCRATCH/stdout")"
