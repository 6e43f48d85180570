#!/usr/bin/env bash
# Makes sure headless Chromium is there for the browser tests
# (app/browser_test.go). Without it, it installs Debian's chromium package
# when run as root; otherwise it says so in one line and passes, and the
# browser tests then skip with one line of their own (under CI=true they
# fail instead: CI never passes by not running them).
set -euo pipefail

have_chromium() {
	[[ -n "${CHROMIUM:-}" && -x "${CHROMIUM}" ]] && return 0
	for name in chromium chromium-browser google-chrome google-chrome-stable; do
		command -v "$name" >/dev/null 2>&1 && return 0
	done
	return 1
}

have_chromium && exit 0

if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
	echo "chromium: installing Chromium for the browser tests (Debian package chromium)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends chromium >/dev/null ||
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
fi

if ! have_chromium; then
	echo "chromium: not found, the browser tests will skip (apt-get install chromium, or run make test as root)"
fi
exit 0
