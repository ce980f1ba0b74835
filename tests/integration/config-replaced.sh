#!/bin/sh
# A repository whose config was replaced (deleted, then written again by a backup with another
# key, as someone who can write the store may do): the snapshots written for the first key are
# named as such by `yunbak snapshots` and `yunbak verify`, with both key ids, not as damaged.
. "$TESTS/integration/lib.sh"

SRC="$SCRATCH/src"
mkdir -p "$SRC" "$SCRATCH/store"
echo data >"$SRC/file"
make_key hr
mv "$SCRATCH/keys" "$SCRATCH/keys-a"
make_key hr
backup() { # key directory
        yunbak-agent backup --store "$SCRATCH/store" --system hr --public-key "$SCRATCH/$1/hr.pub" \
                --level full --json "$SRC" |
                python3 -c 'import json,sys; print(json.load(sys.stdin)["snapshot"])'
}
a=$(backup keys-a)
rm "$SCRATCH/store/hr/config"
b=$(backup keys)

expect_exit 5 yunbak snapshots --store "$SCRATCH/store" --system hr
grep -q "^$b " "$SCRATCH/stdout" || die "$b is not listed: $(cat "$SCRATCH/stdout")"
expect_stderr "Snapshot $a cannot be read: the repository's config was replaced \(it names key [0-9a-f]+; snapshot $a was written for key [0-9a-f]+\)"
grep -q "$a is damaged" "$SCRATCH/stderr" && die "$a is called damaged: $(cat "$SCRATCH/stderr")"
names=$(sed -n "s/.*it names key \([0-9a-f]*\);.*/\1/p" "$SCRATCH/stderr")
written=$(sed -n "s/.*was written for key \([0-9a-f]*\)).*/\1/p" "$SCRATCH/stderr")
[ -n "$names" ] && [ "$names" != "$written" ] || die "the key ids are not two: '$names' '$written'"

yunbak verify --store "$SCRATCH/store" --system hr >"$SCRATCH/verify.out" 2>&1 && die "verify: exit 0"
grep -q "the repository's config was replaced (it names key $names; snapshot $a was written for key $written)" \
        "$SCRATCH/verify.out" || die "verify does not say why: $(cat "$SCRATCH/verify.out")"
echo "config-replaced: ok"
