#!/usr/bin/env bash
# Start the whole orderstream stack natively: installs what is missing, starts every
# component under supervisord, registers the CDC connector, waits until healthy.
# Idempotent: on a running, healthy stack it changes nothing and says so.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

install_everything
orderstream stack start
orderstream status
printf "\norderstream is running. "
orderstream stack info
