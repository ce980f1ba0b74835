#!/bin/sh
# `cmake --install` under a prefix: the unit it installs runs the yunbakd installed under that
# prefix, its Documentation= file is installed, and it does not restart on a bad yunbakd.yaml
# (exit 78) every 10 s.
. "$TESTS/integration/lib.sh"
command -v yunbakd >/dev/null || {
        echo "install: yunbakd is not built: skipped"
        exit 77
}
P="$SCRATCH/prefix"
cmake --install "$BIN" --prefix "$P" >"$SCRATCH/install.log" 2>&1 || {
        cat "$SCRATCH/install.log" >&2
        die "cmake --install failed"
}
unit="$P/lib/systemd/system/yunbakd.service"
[ -f "$unit" ] || die "no unit installed at $unit"
exe=$(sed -n 's/^ExecStart=\([^ ]*\) .*/\1/p' "$unit")
[ "$exe" = "$P/sbin/yunbakd" ] || die "the unit runs '$exe', not the installed $P/sbin/yunbakd"
[ -x "$exe" ] || die "$exe is not installed"
doc=$(sed -n 's|^Documentation=file://||p' "$unit")
[ -f "$doc" ] || die "the unit's Documentation= file $doc is not installed"
grep -q '^RestartPreventExitStatus=78$' "$unit" || die "the unit restarts on a bad configuration"
! grep -q '@[A-Z_]*@' "$unit" || die "the unit has unreplaced @VARIABLES@"
for f in yunbak yunbak-agent; do
        [ -x "$P/bin/$f" ] || die "$f is not installed in $P/bin"
done
