# Sourced by the tier-2 tests of yunbakd (daemon-replicate*.sh) after daemon-lib.sh: the first
# system's tier2 in /v1/status, polled with a bound, and a yunbakd stopped on the way out.
YUNBAKD_PID=

# stop_left_yunbakd: for the test's EXIT trap: stops a yunbakd the test left running.
stop_left_yunbakd() {
        [ -z "$YUNBAKD_PID" ] || {
                kill "$YUNBAKD_PID" 2>/dev/null
                wait "$YUNBAKD_PID" 2>/dev/null
        }
        YUNBAKD_PID=
}

# t2 EXPR: EXPR over the first system's tier2 in /v1/status (bound to t), printed.
t2() {
        api GET /v1/status | python3 -c "import json,sys; t=json.load(sys.stdin)['systems'][0]['tier2']; print($1)"
}

# until_t2 EXPR WHAT [SECONDS]: polls status until EXPR over tier2 is True; fails the test with
# WHAT (and the status and yunbakd's log) when it is not within SECONDS (default 60).
until_t2() {
        i=0
        while [ "$(t2 "$1")" != True ]; do
                i=$((i + 1))
                [ "$i" -lt "$((${3:-60} * 10))" ] || {
                        api GET /v1/status >&2
                        tail -20 "$D/yunbakd.log" >&2
                        die "$2 (not within ${3:-60} s)"
                }
                sleep 0.1
        done
}
