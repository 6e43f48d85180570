#!/usr/bin/env bash
# Bounded fuzzing: runs every fuzz target of the packages below for
# FUZZTIME each (default 10s) and stops at the first failure, naming the
# target. A crasher is written under the package's testdata/fuzz/<target>/;
# keep it there as a regression seed once the bug is fixed.
#
#   scripts/fuzz.sh                 # every package below
#   scripts/fuzz.sh ./load/         # one package
#   FUZZTIME=1m scripts/fuzz.sh     # longer
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME=${FUZZTIME:-10s}
# Go minimizes every new interesting input too, re-running it for up to a
# minute; with database round trips that stalls both workers for most of a
# short budget, so it is off (a crasher is kept as found). Set e.g.
# FUZZMINIMIZETIME=30s to shrink a crasher by hand.
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-0}
GO=${GO:-go}

if [[ $# -gt 0 ]]; then
	pkgs=("$@")
else
	pkgs=(./process/ ./handlers/ ./load/ ./app/)
fi

for pkg in "${pkgs[@]}"; do
	targets=$($GO test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true)
	if [[ -z "$targets" ]]; then
		echo "fuzz: no fuzz targets in $pkg" >&2
		exit 1
	fi
	for name in $targets; do
		echo "== fuzz $pkg $name ($FUZZTIME)"
		if ! $GO test -run '^$' -fuzz "^$name\$" -fuzztime "$FUZZTIME" \
			-fuzzminimizetime "$FUZZMINIMIZETIME" "$pkg"; then
			echo "fuzz: $name in $pkg FAILED (crasher under ${pkg%/}/testdata/fuzz/$name/)" >&2
			exit 1
		fi
	done
done
echo "fuzz: all targets passed"
