#!/bin/sh
# Installs what is needed, then:
#  1. checks formatting (clang-format, the version Debian 12 ships);
#  2. builds a gcc release with -Werror and _FORTIFY_SOURCE=3 (warnings only gcc gives);
#  3. builds with clang, AddressSanitizer, UndefinedBehaviorSanitizer, -Werror, fault injection
#     and the libFuzzer targets, and runs every test with ctest.
# BUILD_DIR (default build-test) and CTEST_ARGS (say "-L unit") can be set; QUICK=1 skips 1-2.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
JOBS=$(nproc)

if [ "${QUICK:-0}" != 1 ]; then
        echo "== format check"
        # shellcheck disable=SC2046
        clang-format --dry-run --Werror $(git ls-files '*.c' '*.h' 2>/dev/null || find core agents cli restore tests -name '*.[ch]')
        echo "== gcc release build"
        cmake -S . -B build-gcc -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc -DYB_WERROR=ON \
                -DYB_SANITIZE= -DYB_FAULT_INJECTION=OFF -DYB_FUZZ=OFF >/dev/null
        cmake --build build-gcc -j "$JOBS" >/dev/null
fi

echo "== clang build with sanitizers"
BUILD_DIR=${BUILD_DIR:-build-test}
CC=${CC:-clang}
command -v "$CC" >/dev/null || CC=cc
FUZZ=OFF
"$CC" --version 2>/dev/null | grep -q clang && FUZZ=ON
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER="$CC" \
        -DYB_WERROR=ON -DYB_SANITIZE=address,undefined -DYB_FAULT_INJECTION=ON -DYB_FUZZ="$FUZZ" >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS" >/dev/null
# Sanitizer reports name functions and lines only with a symbolizer (llvm-14 ships it).
for s in llvm-symbolizer llvm-symbolizer-14 /usr/lib/llvm-14/bin/llvm-symbolizer; do
        p=$(command -v "$s" 2>/dev/null) && {
                export ASAN_SYMBOLIZER_PATH="${ASAN_SYMBOLIZER_PATH:-$p}"
                break
        }
done
[ -n "${ASAN_SYMBOLIZER_PATH:-}" ] ||
        echo "test.sh: no llvm-symbolizer (package llvm-14): sanitizer reports will lack function names"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$BUILD_DIR"
# shellcheck disable=SC2086
ctest --output-on-failure -j "$JOBS" ${CTEST_ARGS:-}
