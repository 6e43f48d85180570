#!/usr/bin/env bash
# Checks the Prometheus alert rules of docs/prometheus: their syntax
# (promtool check rules) and their unit tests (promtool test rules).
# Without promtool it installs Debian's prometheus package when run as
# root, and otherwise says so in one line and passes: the rules are then
# checked only where promtool is (CI).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v promtool >/dev/null 2>&1; then
	if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
		echo "alerts-check: installing promtool (Debian package prometheus)"
		export DEBIAN_FRONTEND=noninteractive
		# The package starts its server; policy-rc.d is not ours to
		# change, so the server is stopped right after instead.
		apt-get install -y -qq prometheus >/dev/null ||
			{ apt-get update -qq && apt-get install -y -qq prometheus >/dev/null; }
		if command -v service >/dev/null 2>&1; then
			service prometheus stop >/dev/null 2>&1 || true
		fi
	fi
	if ! command -v promtool >/dev/null 2>&1; then
		echo "alerts-check: promtool not found, alert rules not checked (install Debian's prometheus package)"
		exit 0
	fi
fi

promtool check rules docs/prometheus/alerts.yml
promtool test rules docs/prometheus/alerts_test.yml
