#!/bin/sh
# A restore never takes an older snapshot in silence: when the newest snapshot's header is gone
# or replaced by an older copy, restore names the damaged snapshot and refuses; --allow-older
# takes the newest sound one and says which. An --at time in the future is said to be so.
. "$TESTS/integration/lib.sh"

SRC="$SCRATCH/src/data"
S="$SCRATCH/store/hr/snapshots"
mkdir -p "$SRC" "$SCRATCH/store"
make_key hr
backup() {
        yunbak-agent backup --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
                --level full "$SRC" >/dev/null
}
restore() { # target [args]
        t=$1
        shift
        rm -rf "$SCRATCH/$t"
        yunbak restore --store "$SCRATCH/store" --system hr --key "$SCRATCH/keys/hr.key" \
                --passphrase-file "$SCRATCH/pass" --target "$SCRATCH/$t" "$@"
}
echo old >"$SRC/version"
backup
old=$(ls "$S")
echo new >"$SRC/version"
backup
new=$(ls "$S" | grep -v "$old")
cp -a "$SCRATCH/store" "$SCRATCH/pristine"
reset() { rm -rf "$SCRATCH/store"; cp -a "$SCRATCH/pristine" "$SCRATCH/store"; }

# The newest header removed: refused, naming it; nothing restored.
rm "$S/$new/header"
expect_exit 5 restore out
expect_stderr "Snapshot $new of system 'hr' is damaged \(its header is missing\)"
expect_stderr "--allow-older"
[ ! -e "$SCRATCH/out" ] || die "a refused restore wrote into its target"
# --at in the future: said, with the newest snapshot, and refused all the same.
expect_exit 5 restore out --at 2199-01-01T00:00:00Z
expect_stderr "--at '2199-01-01T00:00:00Z' is in the future .*the newest snapshot of system 'hr' is $new"
expect_stderr "Snapshot $new of system 'hr' is damaged"
# --allow-older: the older one, said.
expect_exit 0 restore out --allow-older
expect_stderr "restoring the older snapshot $old instead"
[ "$(cat "$SCRATCH/out/data/version")" = old ] || die "--allow-older did not restore $old"

# The newest header replaced by an older copy (the older snapshot's header).
reset
cp "$S/$old/header" "$S/$new/header"
expect_exit 5 restore out
expect_stderr "Snapshot $new of system 'hr' is damaged \(its header does not check out\)"
# A damaged snapshot later than --at is no reason to refuse; one at or before it is. (Its id,
# all that is left to tell its time, is made up here so that the test is the same on any clock.)
reset
mkdir "$S/20980101T000000Z-abcdef"
expect_exit 0 restore out --at 2097-12-31T23:59:59Z
[ "$(cat "$SCRATCH/out/data/version")" = new ] || die "--at before a damaged snapshot did not restore $new"
expect_exit 5 restore out --at 2098-01-01T00:00:00Z
expect_stderr "Snapshot 20980101T000000Z-abcdef of system 'hr' is damaged \(its header is missing\)"

# Sound: the newest is restored, and --at in the future is said but not refused.
reset
expect_exit 0 restore out --at 2199-01-01T00:00:00Z
expect_stderr "is in the future"
[ "$(cat "$SCRATCH/out/data/version")" = new ] || die "the newest snapshot was not restored"
echo "damaged-newest: ok"
