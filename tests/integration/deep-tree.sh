#!/bin/sh
# A tree 20,000 directories deep backs up (full, then incremental) and restores whole: the walk
# keeps its own stack, not the program's. Restoring costs at most 5 directory opens per entry,
# counted with strace on a 2,000-deep tree, so its time grows with the entries, not with their
# depth squared; the count does not depend on the machine's speed.
. "$TESTS/integration/lib.sh"

# make_deep DIR DEPTH: DEPTH nested directories "d", a file "f" every 100 levels and "bottom"
# in the deepest, made through directory fds (the paths are far longer than PATH_MAX).
make_deep() {
        python3 - "$1" "$2" <<'PY'
import os, sys
os.makedirs(sys.argv[1])
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
for i in range(int(sys.argv[2])):
    os.mkdir("d", dir_fd=fd)
    if i % 100 == 0:
        f = os.open("f", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(f, b"level %d\n" % i)
        os.close(f)
    nfd = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
    os.close(fd)
    fd = nfd
f = os.open("bottom", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
os.write(f, b"at the bottom\n")
os.close(f)
PY
}

# check_deep DIR DEPTH: DIR holds the tree make_deep made, every file with its content.
check_deep() {
        python3 - "$1" "$2" <<'PY' || die "the restored tree in $1 differs from the source"
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
depth = int(sys.argv[2])
for i in range(depth):
    names = sorted(os.listdir(fd))
    want = ["d", "f"] if i % 100 == 0 else ["d"]
    if names != want:
        sys.exit("level %d holds %s, expected %s" % (i, names, want))
    if i % 100 == 0:
        f = os.open("f", os.O_RDONLY, dir_fd=fd)
        if os.read(f, 100) != b"level %d\n" % i:
            sys.exit("level %d: f has the wrong content" % i)
        os.close(f)
    nfd = os.open("d", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
    os.close(fd)
    fd = nfd
if sorted(os.listdir(fd)) != ["bottom"]:
    sys.exit("the deepest level holds %s" % sorted(os.listdir(fd)))
f = os.open("bottom", os.O_RDONLY, dir_fd=fd)
if os.read(f, 100) != b"at the bottom\n":
    sys.exit("bottom has the wrong content")
PY
}

mkdir "$SCRATCH/store"
make_key deep
backup() { # DIR LEVEL
        yunbak-agent backup --store "$SCRATCH/store" --system deep \
                --public-key "$SCRATCH/keys/deep.pub" --level "$2" "$1" >/dev/null
}
restore() { # TARGET [COMMAND to run yunbak under]
        target=$1
        shift
        "$@" yunbak restore --store "$SCRATCH/store" --system deep --key "$SCRATCH/keys/deep.key" \
                --passphrase-file "$SCRATCH/pass" --target "$target" >/dev/null
}

# 2,000 levels: the directory opens of a restore, counted by strace.
make_deep "$SCRATCH/src2k/tree" 2000
backup "$SCRATCH/src2k/tree" full
if strace -o /dev/null true 2>/dev/null; then
        # LeakSanitizer cannot run under ptrace.
        restore "$SCRATCH/out2k" env ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" \
                strace -f -c -e trace=openat -o "$SCRATCH/opens"
        check_deep "$SCRATCH/out2k/tree" 2000
        opens=$(awk '$NF == "openat" { print $4 }' "$SCRATCH/opens")
        entries=$((2000 + 20 + 2))
        echo "deep-tree: restoring $entries entries 2,000 deep took $opens openat calls"
        # A restore passes over the tree in order four times (directories made, files put in
        # place, directory times set from the deepest up: down, then up), each opening every
        # directory at most once; walking from the target for each entry took 2,000,000.
        [ "$opens" -lt $((5 * entries)) ] ||
                die "restoring $entries entries took $opens openat calls: more than 5 per entry"
else
        echo "deep-tree: strace cannot trace here; the count of directory opens is not checked"
        restore "$SCRATCH/out2k"
        check_deep "$SCRATCH/out2k/tree" 2000
fi
rm -rf "$SCRATCH/out2k" "$SCRATCH/src2k"

# 20,000 levels: backed up full and incremental, restored whole.
make_deep "$SCRATCH/src/tree" 20000
backup "$SCRATCH/src/tree" full
backup "$SCRATCH/src/tree" incremental
restore "$SCRATCH/out"
check_deep "$SCRATCH/out/tree" 20000
echo "deep-tree: ok"
