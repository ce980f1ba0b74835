# Sourced by agent-wipe*.sh after lib.sh: `yunbak-agent wipe --system hr --state-dir "$ST"` with
# its JSON kept and its exit status checked, and checks of that JSON.

# field FILE EXPR: EXPR (Python, the JSON as j) evaluated on FILE.
field() {
        python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
# wipe EXIT NAME PATH...: the JSON in $SCRATCH/NAME.json, standard error in NAME.err.
wipe() {
        want=$1
        name=$2
        shift 2
        set +e
        yunbak-agent wipe --system hr --state-dir "$ST" --json "$@" >"$SCRATCH/$name.json" 2>"$SCRATCH/$name.err"
        got=$?
        set -e
        [ "$got" -eq "$want" ] || {
                cat "$SCRATCH/$name.json" "$SCRATCH/$name.err" >&2
                die "wipe $*: exit $got, not $want"
        }
}
# expect NAME EXPR WANT: EXPR on NAME.json prints WANT.
expect() {
        got=$(field "$SCRATCH/$1.json" "$2")
        [ "$got" = "$3" ] || {
                cat "$SCRATCH/$1.json" >&2
                die "$1: $2 is '$got', not '$3'"
        }
}
