#!/usr/bin/env bash
# Runs webhookdb against the GitHub simulator on this machine: the simulator
# on 127.0.0.1:9100 sends its webhooks to webhookdb on 127.0.0.1:8080.
# Stop with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

export PGHOST=${PGHOST:-127.0.0.1} PGUSER=${PGUSER:-postgres}
db=${DEMO_DATABASE:-webhookdb_demo}
psql -q -d postgres -tc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 \
	|| psql -q -d postgres -c "CREATE DATABASE $db"

config=${DEMO_CONFIG:-$(mktemp -t webhookdb-demo-XXXXXX.yml)}
rm -f "$config"
./webhookdb fake-github --addr 127.0.0.1:9100 --webhook-url http://127.0.0.1:8080/replication \
	--write-config "$config" &
fake=$!
trap 'kill $fake $serve 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 100); do [[ -s "$config" ]] && break; sleep 0.1; done
[[ -s "$config" ]] || { echo "fake-github did not write $config" >&2; exit 1; }

export DATABASE_URL="postgres://$PGUSER@$PGHOST:5432/$db?sslmode=disable"
./webhookdb -c "$config" migrate
echo "webhookdb: http://127.0.0.1:8080   simulated GitHub: http://127.0.0.1:9100   database: $db"
./webhookdb -c "$config" serve &
serve=$!
wait $serve
