#!/usr/bin/env bash
# Regenerates the SQLBoiler models from the migrations: migrates a scratch
# database and runs the pinned generator (a Go tool of this module) on it.
#   scripts/models.sh            regenerate models/
#   scripts/models.sh --check    regenerate into a temporary copy and fail if
#                                the committed models/ differ
set -euo pipefail
cd "$(dirname "$0")/.."

PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}
export PGHOST PGPORT PGUSER
db="webhookdb_models_$$"
tmp=$(mktemp -d)
cleanup() {
	psql -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

psql -q -d postgres -c "CREATE DATABASE $db" >/dev/null
go build -o "$tmp/webhookdb" .
DATABASE_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$db?sslmode=disable" "$tmp/webhookdb" -c /dev/null migrate >/dev/null

out=models
if [[ "${1:-}" == "--check" ]]; then
	out="$tmp/models"
fi
PSQL_DBNAME=$db PSQL_HOST=$PGHOST PSQL_PORT=$PGPORT PSQL_USER=$PGUSER \
	go tool sqlboiler --config sqlboiler.toml --output "$out" "$(go tool -n sqlboiler-psql)" >/dev/null

if [[ "${1:-}" == "--check" ]]; then
	if ! diff -r models "$out" >"$tmp/diff"; then
		echo "models/ differ from what the migrations generate; run 'make models' and commit:" >&2
		head -50 "$tmp/diff" >&2
		exit 1
	fi
	echo "models/ match the migrations"
fi
