#!/usr/bin/env bash
# Stop every component of the native stack cleanly, keeping data.
# --purge also deletes data, logs and rendered configuration (the downloaded jars stay).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

case "${1:-}" in
  "" | --purge) ;;
  *) die "unknown argument '$1' (usage: scripts/stop.sh [--purge])" ;;
esac
if [ ! -x "$ORDERSTREAM_VENV/bin/orderstream" ]; then
  log "no venv at $ORDERSTREAM_VENV: nothing was started"
  [ "${1:-}" = --purge ] && rm -rf "$ORDERSTREAM_RUNTIME_DIR"/{data,mariadb,recovery,logs,conf}
  exit 0
fi
orderstream stack stop "$@"
