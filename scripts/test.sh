#!/bin/sh
# Installs what is needed, builds with AddressSanitizer, UndefinedBehaviorSanitizer, -Werror and
# fault injection (plus the libFuzzer targets when clang is there), and runs every test.
# BUILD_DIR (default build-test) and CTEST_ARGS (say "-L unit") can be set.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
BUILD_DIR=${BUILD_DIR:-build-test}
CC=${CC:-clang}
command -v "$CC" >/dev/null || CC=cc
FUZZ=OFF
"$CC" --version 2>/dev/null | grep -q clang && FUZZ=ON
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER="$CC" \
        -DYB_WERROR=ON -DYB_SANITIZE=address,undefined -DYB_FAULT_INJECTION=ON -DYB_FUZZ="$FUZZ"
cmake --build "$BUILD_DIR" -j "$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$BUILD_DIR"
# shellcheck disable=SC2086
ctest --output-on-failure -j "$(nproc)" ${CTEST_ARGS:-}
