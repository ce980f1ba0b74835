#!/bin/sh
# SIGKILL of yunbakd at each step of a decommission's execution (stop, store, agent, keys, verify,
# certificate), from inside (the test hook YUNBAKD_TEST_DECOMMISSION_KILL=STEP: after the step
# acted on its first target, before it recorded the step done): yunbakd ends by signal 9; started
# again without the hook it marks the step interrupted, `yunbak decommission show` says so, and
# `yunbak decommission execute` again finishes: certified, with a certificate of the same kind and
# the same artifacts as an execution never killed (compared without times, ids, snapshot names,
# byte counts and the signature). One small system per round, all in local stores (tier 1 and an
# off-site copy asked for by the department), each with an offline key copy attested before
# execution. Root only (the
# department and the operator are other uids).
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/daemon-lib.sh"
. "$TESTS/integration/decommission-lib.sh"

trap 'stop_left_yunbakd; cleanup' EXIT
trap 'exit 1' HUP INT TERM
decom_config
mkdir -p "$D/offsite"
add_store offsite "$D/offsite"
STEPS="stop store agent keys verify certificate"
# Ids no text of a certificate holds otherwise (the comparison puts SYS for them).
for s in ref $STEPS; do
        sys=$(printf 'zq-%.4s' "$s")
        daemon_system "$sys" "$DEPT_NAME" "2099-01-01 02:00 UTC" "2099-01-01 02:00 UTC" "tier3:
  store: offsite
  on_request: true
  approval: automatic"
done
chmod -R a+rX "$D"
start_yunbakd

# ready SYSTEM: a full in tier 1 and in the off-site store, an offline key copy attested, and a
# decommission requested, approved and its export waived; prints the decommission's id.
ready() {
        backup_full "$1" >/dev/null
        as "$DEPT" yunbak offsite request --system "$1" --reason "the last copy off-site" >/dev/null ||
                die "the department's request for an off-site copy of $1 was refused"
        wait_for "no off-site copy of $1 succeeded" \
                "[ \"\$(sql \"SELECT count(*) FROM jobs WHERE tier = 3 AND system = '$1' AND state = 'succeeded'\")\" = 1 ]"
        _c=$(offline_copy "$1" "$DEPT")
        attest "$_c" "$DEPT"
        _n=$(decom_request "$1" "replaced by the provincial platform")
        decom_approve "$_n"
        decom_waive "$_n"
        echo "$_n"
}

# certified SYSTEM N: the execution of N ended certified; its certificate, normalized, on stdout.
certified() {
        [ "$(decom_field "$2" 'j["state"]')" = certified ] || die "decommission $2 of $1: $(cat "$D/body")"
        cert_body "$(decom_field "$2" 'j["certificate"]')" "$D/cert-$1.json"
        yunbak certificate verify "$D/cert-$1.json" >/dev/null || die "the certificate of $1 does not verify"
        [ ! -e "$D/store/$1" ] && [ ! -e "$D/offsite/$1" ] || die "a repository of $1 is left"
        [ -z "$(ls -A "$D/trees/$1/data")" ] || die "the source path of $1 is not cleared"
        cert_normalize "$D/cert-$1.json" "$1"
}

# The reference: an execution never killed.
n=$(ready zq-ref)
as "$OPER" yunbak decommission execute "$n" >"$D/execute.out" 2>&1 ||
        { cat "$D/execute.out" >&2; die "the reference execution did not end certified"; }
certified zq-ref "$n" >"$D/ref.norm"
grep -q '"backups"' "$D/ref.norm" || die "the reference certificate has no backups artifact: $(cat "$D/ref.norm")"

for step in $STEPS; do
        sys=$(printf 'zq-%.4s' "$step")
        n=$(ready "$sys")
        stop_yunbakd
        YUNBAKD="env YUNBAKD_TEST_DECOMMISSION_KILL=$step yunbakd"
        start_yunbakd
        YUNBAKD=
        as "$OPER" yunbak decommission execute "$n" --no-wait >/dev/null || die "execute $n ($step round) was refused"
        wait_dead "$YUNBAKD_PID" "yunbakd with the kill hook at '$step'"
        YUNBAKD_PID=
        [ "$DEAD_STATUS" = 137 ] || {
                tail -20 "$D/yunbakd.log" >&2
                die "yunbakd with the kill hook at '$step' exited $DEAD_STATUS, not by SIGKILL"
        }
        start_yunbakd
        [ "$(decom_field "$n" 'j["state"]')" = executing ] || die "after the kill at '$step': $(cat "$D/body")"
        [ "$(decom_field "$n" '",".join(s["step"] for s in j["steps"] if s["state"] == "interrupted")')" = "$step" ] ||
                die "after the kill at '$step', the interrupted steps: $(cat "$D/body")"
        yunbak decommission show "$n" >"$D/show.out" 2>&1 || die "yunbak decommission show $n failed"
        grep -Eq "^ +$step +[^ ]+ +interrupted" "$D/show.out" ||
                { cat "$D/show.out" >&2; die "show does not say $n was interrupted at '$step'"; }
        as "$OPER" yunbak decommission execute "$n" >"$D/execute.out" 2>&1 || {
                cat "$D/execute.out" >&2
                die "execute again after the kill at '$step' did not end certified"
        }
        certified "$sys" "$n" >"$D/$step.norm"
        diff -u "$D/ref.norm" "$D/$step.norm" >&2 ||
                die "the certificate after a kill at '$step' differs from the one never killed"
done
stop_yunbakd
YUNBAKD_PID=
echo "decommission-kill: a SIGKILL at each of $STEPS, then certified alike"
