#!/bin/sh
# Libraries loaded when first needed (core/base/dynlib.h, docs/design.md): no program links
# libcurl, libcrypto, libssh2, libpq or libarchive (nor the fifty libraries they bring), and every function
# the wrapper files define is one that the library they load exports, so that no call can
# abort for a missing symbol.
set -eu
. "$TESTS/integration/lib.sh"
SRC=$(cd "$TESTS/.." && pwd)
command -v nm >/dev/null || { echo "skipped: nm (binutils) is needed to read the libraries"; exit 77; }

for prog in yunbak yunbakd yunbak-agent; do
        needed=$(ldd "$BIN/$prog" | grep -E 'lib(curl|crypto|ssh2|pq|archive)\.so' || true)
        [ -z "$needed" ] || die "$prog links what it should load when needed: $needed"
done

# The sonames each wrapper file loads, and the functions it defines.
checked=0
for file in core/store/curl-lib.c core/store/ssh2-lib.c agents/pq-lib.c core/codec/archive-lib.c; do
        exports="$SCRATCH/exports"
        : >"$exports"
        for so in $(sed -n 's/.*YB_DYNLIB_INIT("\([^"]*\)".*/\1/p' "$SRC/$file"); do
                path=$(ldconfig -p | awk -v so="$so" '$1 == so && /x86-64|x86_64/ { print $NF; exit }')
                [ -n "$path" ] || die "$file loads $so, which ldconfig does not know"
                nm -D --defined-only "$path" | awk '{ sub(/@.*/, "", $NF); print $NF }' >>"$exports"
        done
        names=$(tr -d '\n' <"$SRC/$file" | grep -oE 'YB_DYNLIB_(VOID_)?FN\([^,]*,([^,]*,)? *[A-Za-z_0-9]+, *\(' |
                sed -E 's/.*, *([A-Za-z_0-9]+), *\($/\1/')
        names="$names $(sed -n 's/^[A-Za-z]*(\([a-z_]*\))(.*/\1/p' "$SRC/$file")"
        for name in $names; do
                grep -qx "$name" "$exports" || die "$file defines $name, which its libraries do not export"
                checked=$((checked + 1))
        done
done
# curl 19, libcrypto 2, libssh2 46, libpq 21, libarchive 33: the count shows the sources were
# read.
[ "$checked" -ge 120 ] || die "only $checked functions found in the wrapper files"
echo "ok: $checked functions, each exported by the library loaded for it"
