#!/usr/bin/env bash
# The README's test command: install what is missing, lint and type-check, run the unit and
# dataflow tests, start the native stack and run the integration tests against it.
# Stops every process it started when it ends, pass or fail, unless ORDERSTREAM_KEEP_STACK=1
# (or --keep-stack) asks to keep the stack running. It ends with the fast subset of the chaos
# scenarios; --chaos runs all of them (about an hour). A stack that was already running
# before test.sh is used as it is and left running.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

KEEP_STACK=${ORDERSTREAM_KEEP_STACK:-0}
CHAOS=--fast
PYTEST_ARGS=()
for arg in "$@"; do
  case "$arg" in
    --keep-stack) KEEP_STACK=1 ;;
    --chaos) CHAOS=--all ;;
    *) PYTEST_ARGS+=("$arg") ;;
  esac
done

install_everything
cd "$REPO_ROOT"
PY=$ORDERSTREAM_VENV/bin

started_here=0
cleanup() {
  local rc=$?
  if [ "$started_here" = 1 ] && [ "$KEEP_STACK" != 1 ]; then
    log "stopping the stack test.sh started"
    orderstream stack stop || true
  fi
  exit "$rc"
}
trap cleanup EXIT

log "ruff"
"$PY/ruff" check .
log "mypy"
"$PY/mypy"

log "unit and dataflow tests"
"$PY/pytest" -q -m "not integration" tests/unit tests/dataflow "${PYTEST_ARGS[@]}"

if ! orderstream stack running; then
  started_here=1
fi
log "starting the stack for the integration tests"
orderstream stack start
orderstream status

log "integration tests against the live stack"
"$PY/pytest" -q -m integration tests/integration "${PYTEST_ARGS[@]}"

log "chaos scenarios ($CHAOS; docs/reliability.md)"
orderstream chaos "$CHAOS"
