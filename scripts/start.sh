#!/usr/bin/env bash
# Start the whole orderstream stack natively: installs what is missing, starts every
# component under supervisord, registers the CDC connector, waits until healthy.
# Idempotent: on a running, healthy stack it changes nothing and says so.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

install_everything
orderstream stack start
orderstream status

"$ORDERSTREAM_VENV/bin/python" - <<'EOT'
from orderstream.settings import Settings

s = Settings.from_env()
print(f"""
orderstream is running. Where to look:
  .venv/bin/orderstream status          health of every component
  Kafka bootstrap                       {s.bootstrap_servers}
  Kafka Connect REST                    {', '.join(s.connect_urls)}
  dataflow metrics                      http://{s.host}:{s.dataflow_metrics_port}/metrics
  outputs                               {s.topic_processed}, {s.topic_revenue}, {s.topic_transitions}, {s.topic_dlq}
  audit                                 .venv/bin/orderstream reconcile --wait 120
  logs                                  {s.runtime_dir / 'logs'}/
  stop (keeps data)                     scripts/stop.sh    (--purge deletes it)""")
EOT
