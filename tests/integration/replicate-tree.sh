#!/bin/sh
# The replicator keeps a tier-2 store equal to a tree that changes in every way a tree can: rename
# storms, deletes, directory moves, hard links, extended attributes, files rewritten in place, a
# big file with scattered page rewrites (shipped as deltas: far fewer bytes stored than the file
# holds). After quiet, a restore of the newest point equals the source (tree digest). With
# fanotify (as root) and with inotify forced; the second round of changes comes after a
# checkpoint command (a new root), and the inotify run has chains of at most 2 segments.
set -eu
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/replicate-lib.sh"
trap 'kill_replicator; cleanup' EXIT

make_key hr

# change_tree SRC: the first round of changes.
change_tree() {
        s=$1
        for i in $(seq 1 60); do
                mv "$s/etc/app.yaml" "$s/etc/app-renamed.yaml"
                mv "$s/etc/app-renamed.yaml" "$s/etc/app.yaml"
        done
        for i in $(seq 1 40); do
                echo "storm $i" >"$s/storm-$i"
                mv "$s/storm-$i" "$s/storm-moved-$i"
        done
        rm "$s"/storm-moved-1*
        rm -r "$s/data/nested"
        rm "$s/empty-file"
        mv "$s/empty-dir" "$s/moved-dir"
        mkdir -p "$s/tree/a/b"
        echo leaf >"$s/tree/a/b/leaf"
        ln "$s/tree/a/b/leaf" "$s/tree/a/leaf-link"
        mv "$s/tree" "$s/tree-moved"
        ln "$s/data/random.bin" "$s/data/random-link"
        setfattr -n user.added -v later "$s/data/numbers.txt" 2>/dev/null || true
        printf 'REWRITTEN' | dd of="$s/data/numbers.txt" bs=1 seek=100 conv=notrunc 2>/dev/null
        chmod 0600 "$s/data/random.bin"
        ln -s moved-dir "$s/new-link"
        mkdir "$s/file-then-dir"
        rm "$s/dangling"
        mkdir "$s/dangling"
        echo "was a symlink" >"$s/dangling/inside"
}

run_one() {
        cap=$1
        shift
        src=$SCRATCH/$cap/src
        store=$SCRATCH/$cap/store
        mkdir -p "$store"
        make_rich_tree "$src"
        head -c 32M /dev/urandom >"$src/data/big.db"
        REPL_MARK_DIR=$src
        start_replicator "$cap" --store "$store" --system hr --public-key "$SCRATCH/keys/hr.pub" \
                --capture "$cap" --interval 1s --state-dir "$SCRATCH/$cap/state" "$@" "$src"
        repl_wait "$cap" 120 "L['event'] == 'scan' and L['state'] == 'done' and L['reason'] == 'start'"
        grep -q "\"capture\":\"$cap\"" "$SCRATCH/$cap.jsonl" || die "$cap: not the capture asked for"

        change_tree "$src"
        repl_quiet "$cap" 60

        before=$(segment_bytes "$cap")
        rewrite_pages "$src/data/big.db" 20
        repl_quiet "$cap" 60
        shipped=$(($(segment_bytes "$cap") - before))
        # 20 pages of 4 KiB in a 32 MiB file: deltas of about 20 blocks, not the file.
        [ "$shipped" -lt $((1024 * 1024)) ] ||
                die "$cap: 20 rewritten pages of a 32 MiB file shipped $shipped bytes (not as deltas)"

        # A second round on a new chain: what was moved moves again, what was made goes.
        repl_send "$cap" '{"cmd":"checkpoint"}'
        repl_wait "$cap" 120 "L['event'] == 'root' and L['state'] == 'done' and L['reason'] == 'checkpoint' and L['level'] == 'differential'"
        mv "$src/tree-moved" "$src/data/tree-again"
        rm -r "$src/moved-dir" "$src/new-link"
        echo "grown" >>"$src/data/tree-again/a/b/leaf"
        repl_quiet "$cap" 60
        stop_replicator "$cap"

        grep -q '"event":"segment"' "$SCRATCH/$cap.jsonl" || die "$cap: no segment committed"
        if grep '"event":"error"' "$SCRATCH/$cap.jsonl" >&2; then die "$cap: errors reported"; fi
        yunbak restore --store "$store" --system hr --key "$SCRATCH/keys/hr.key" \
                --passphrase-file "$SCRATCH/pass" --target "$SCRATCH/$cap/out" >/dev/null
        tree_digest "$src" >"$SCRATCH/$cap/want"
        tree_digest "$SCRATCH/$cap/out/src" >"$SCRATCH/$cap/got"
        diff "$SCRATCH/$cap/want" "$SCRATCH/$cap/got" >&2 ||
                die "$cap: the restored newest point differs from the source"
        echo "$cap: equal after $(grep -c '"event":"segment"' "$SCRATCH/$cap.jsonl") segments," \
                "$shipped bytes for 20 pages of a 32 MiB file"
}

if is_root; then
        run_one fanotify
fi
run_one inotify --max-chain 2
grep -q '"event":"root".*"state":"done".*"reason":"max-chain"' "$SCRATCH/inotify.jsonl" ||
        die "no new root after 2 segments (--max-chain 2)"
