#!/usr/bin/env bash
# Checks that keep the tree as docs/design.md describes it; `make check`
# and .ci/run run them. Each failure names the file.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0

# Files with one idea each: no hand-written Go file over 600 lines
# (models/ is generated).
while read -r n f; do
	[[ "$f" == total ]] && continue
	if (( n > 600 )); then
		echo "file too long ($n lines, at most 600): $f"
		fail=1
	fi
done < <(git ls-files '*.go' | grep -v '^models/' | xargs wc -l)

# process/ is the only writer of the github_* tables. Tests may set up rows.
if out=$(git ls-files '*.go' | grep -vE '^(process|models)/|_test\.go$' |
	xargs grep -nEi '(insert[[:space:]]+into|update|delete[[:space:]]+from)[[:space:]]+github_' 2>/dev/null); then
	echo "SQL writing a github_* table outside process/:"
	echo "$out"
	fail=1
fi

exit $fail
