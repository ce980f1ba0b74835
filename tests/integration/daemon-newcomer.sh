#!/bin/sh
# yunbakd as a newcomer first runs it, from the build tree with nothing on PATH: it finds the
# yunbak-agent beside its own executable.
. "$TESTS/integration/lib.sh"
command -v yunbakd >/dev/null || {
        echo "daemon-newcomer: yunbakd is not built: skipped"
        exit 77
}
for tool in curl python3; do
        command -v "$tool" >/dev/null || {
                echo "daemon-newcomer: no $tool: skipped"
                exit 77
        }
done
. "$TESTS/integration/daemon-lib.sh"
trap 'kill -TERM "${YUNBAKD_PID:-}" 2>/dev/null || true; cleanup' EXIT
export YUNBAK_SOCKET="$SOCK"

daemon_config
daemon_system hr-portal "市人力资源和社会保障局"

# yunbakd started by its path, with a PATH that has no yunbak-agent on it.
YUNBAKD="env PATH=/usr/sbin:/usr/bin:/sbin:/bin $BIN/yunbakd" start_yunbakd
expect_exit 0 yunbak backup now --system hr-portal --level full --wait
grep -q "succeeded" "$SCRATCH/stdout" || die "the backup did not succeed: $(cat "$SCRATCH/stdout")"
stop_yunbakd
