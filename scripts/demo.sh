#!/usr/bin/env bash
# Runs the whole product on this machine with no GitHub account:
# `webhookdb demo` starts the GitHub simulator (127.0.0.1:9100) seeded with
# an organization, serves webhookdb (http://127.0.0.1:8080), installs the app
# so the installation webhook starts the backfill into the webhookdb_demo
# database, and keeps sending simulated webhooks. Flags are passed on, e.g.
#   scripts/demo.sh --seed-repos 5 --activity 5s
# Stop with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/services.sh
go build -o webhookdb .
exec ./webhookdb demo "$@"
