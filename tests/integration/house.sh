#!/bin/sh
# The house rules (docs/design.md, "Source layout"), checked on the real tree and build, and the
# checker itself shown to catch what it is for:
#  1. every include of the tree points down the layers (the build runs the same check);
#  2. no two source files of ours depend on each other in a circle, read from the object files;
#  3. yunbak links neither SQLite nor the catalog's or the daemon's code;
#  4. a tree with an include that points up, one that names no folder, and two objects that call
#     each other are each refused, with the file and line.
set -eu
. "$TESTS/integration/lib.sh"
SRC=$(cd "$TESTS/.." && pwd)
CHECK="$SRC/cmake/check-layers.py"
command -v python3 >/dev/null || { echo "skipped: python3 is needed to read the includes"; exit 77; }
command -v nm >/dev/null || { echo "skipped: nm (binutils) is needed to read object files"; exit 77; }

python3 "$CHECK" includes "$SRC" || die "the tree's includes break the layer rules"
python3 "$CHECK" links "$SRC" "$BIN" || die "source files depend on each other in a circle"

# 3. yunbak: no SQLite, no catalog, no daemon.
if ldd "$BIN/yunbak" | grep -q sqlite; then
        die "yunbak links SQLite: $(ldd "$BIN/yunbak" | grep sqlite)"
fi
bad=$(nm "$BIN/yunbak" | grep -E ' [TtDdBb] (sqlite3_|yb_catalog_|yb_audit_|yb_jobs_|yb_daemon_|yb_api_|yb_run$|yb_httpd_)' || true)
[ -z "$bad" ] || die "yunbak holds the catalog's or the daemon's code: $bad"
nm "$BIN/yunbak-catalog" | grep -q ' T yb_catalog_open_readonly' ||
        die "yunbak-catalog should hold the catalog reader (is the nm check reading symbols at all?)"

# 4. The checker refuses what it should. A tree of two rooms: core/base may include nothing above.
T="$SCRATCH/tree"
mkdir -p "$T/core/base" "$T/orchestrator" "$T/cli"
echo '#pragma once' >"$T/orchestrator/jobs.h"
printf '#pragma once\n#include "orchestrator/jobs.h"\n' >"$T/core/base/up.h"
expect_exit 1 python3 "$CHECK" includes "$T"
expect_stderr '^core/base/up.h:2: core/base/ may not include "orchestrator/jobs.h"'
printf '#pragma once\n' >"$T/core/base/up.h"
printf '#include "jobs.h"\n' >"$T/orchestrator/jobs.c"
expect_exit 1 python3 "$CHECK" includes "$T"
expect_stderr '^orchestrator/jobs.c:1: "jobs.h" does not name a file from the repository root'
printf '#include "cli/ctl.h"\n' >"$T/orchestrator/jobs.c"
echo '#pragma once' >"$T/cli/ctl.h"
expect_exit 1 python3 "$CHECK" includes "$T"
expect_stderr 'orchestrator/ may not include "cli/ctl.h"'
printf '#include "orchestrator/jobs.h"\n' >"$T/orchestrator/jobs.c"
expect_exit 0 python3 "$CHECK" includes "$T"

# Two objects that call each other, laid out as CMake lays them out.
if command -v cc >/dev/null; then
        O="$SCRATCH/build/orchestrator/CMakeFiles/yunbakd.dir"
        mkdir -p "$O"
        printf 'int b(int);\nint a(int x) { return x ? b(x - 1) : 0; }\n' >"$SCRATCH/a.c"
        printf 'int a(int);\nint b(int x) { return x ? a(x - 1) : 1; }\n' >"$SCRATCH/b.c"
        printf 'int a(int);\nint c(void) { return a(3); }\n' >"$SCRATCH/c.c"
        touch "$T/orchestrator/api.c" "$T/orchestrator/yunbakd.c"
        cc -c "$SCRATCH/a.c" -o "$O/jobs.c.o"
        cc -c "$SCRATCH/c.c" -o "$O/api.c.o"
        cc -c "$SCRATCH/b.c" -o "$O/yunbakd.c.o"
        expect_exit 1 python3 "$CHECK" links "$T" "$SCRATCH/build"
        expect_stderr 'circle of files: orchestrator/jobs.c -> orchestrator/yunbakd.c \(b\); orchestrator/yunbakd.c -> orchestrator/jobs.c \(a\)'
        grep -q 'api.c' "$SCRATCH/stderr" && die "api.c only calls into the circle; it is not in it"
        rm "$O/yunbakd.c.o"
        printf 'int b(int x) { return x; }\n' >"$SCRATCH/b.c"
        cc -c "$SCRATCH/b.c" -o "$O/yunbakd.c.o"
        expect_exit 0 python3 "$CHECK" links "$T" "$SCRATCH/build"
fi
echo "house: the rules hold, and the checker catches what breaks them"
