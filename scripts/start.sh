#!/usr/bin/env bash
# Start the whole orderstream stack natively: installs what is missing, starts every
# component under supervisord, registers the CDC connector, waits until healthy.
# Idempotent: on a running, healthy stack it changes nothing and says so.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

install_everything
orderstream stack start
orderstream status

cat <<EOT

orderstream is running. Where to look:
  orderstream status                        health of every component
  Kafka bootstrap                           $("$ORDERSTREAM_VENV/bin/python" -c 'from orderstream.settings import Settings; print(Settings.from_env().bootstrap_servers)')
  Kafka Connect REST                        http://127.0.0.1:${ORDERSTREAM_CONNECT_PORTS:-8083,8084}
  logs                                      $ORDERSTREAM_RUNTIME_DIR/logs/
  stop (keeps data)                         scripts/stop.sh    (--purge deletes it)
EOT
