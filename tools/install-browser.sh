#!/usr/bin/env bash
# Installs Debian's Chromium for the GraphiQL browser test when it is missing
# and this machine can install packages (root with apt-get). Otherwise it says
# so, and the browser test skips itself with the same message.
set -euo pipefail

for b in chromium chromium-browser google-chrome; do
	if command -v "$b" >/dev/null 2>&1; then
		echo "browser test: using $(command -v "$b")"
		exit 0
	fi
done
if [[ "${ROLLCALL_SKIP_BROWSER:-}" == 1 ]]; then
	echo "browser test: ROLLCALL_SKIP_BROWSER=1, the GraphiQL browser test will be skipped"
	exit 0
fi
if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
	echo "browser test: chromium not found and cannot be installed here (needs root and apt-get);"
	echo "  install it (apt-get install chromium) to run the GraphiQL browser test; it will be skipped"
	exit 0
fi
echo "browser test: installing chromium with apt-get (once per machine)"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends chromium >/tmp/rollcall-apt.log 2>&1; then
	apt-get update >>/tmp/rollcall-apt.log 2>&1 || true
	if ! apt-get install -y --no-install-recommends chromium >>/tmp/rollcall-apt.log 2>&1; then
		echo "browser test: apt-get install chromium failed (see /tmp/rollcall-apt.log); the browser test will be skipped"
		exit 0
	fi
fi
echo "browser test: chromium installed"
