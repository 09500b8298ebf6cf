# shellcheck shell=bash
# Sourced by .ci/run and .ci/matrix: run named stages, log each to .ci-logs/, count them. Both set pipefail.
passed=0
failed=0
failures=""
mkdir -p .ci-logs

stage() {
    local name=$1
    shift
    local started=$SECONDS
    # The whole output goes to the stage's log; the lines a long stage announces its steps with ("==> ...")
    # are shown as they come, so that a stage of many minutes is never silent.
    if "$@" 2>&1 | tee ".ci-logs/$name.log" | sed -un 's/^==> /      /p'; then
        passed=$((passed + 1))
        echo "PASS  $name ($((SECONDS - started)) s)"
    else
        failed=$((failed + 1))
        failures="$failures $name"
        echo "FAIL  $name ($((SECONDS - started)) s); last lines of .ci-logs/$name.log:"
        tail -n 40 ".ci-logs/$name.log" | sed 's/^/      /'
    fi
}
