#!/usr/bin/env bash
# Installs, from Debian's packages, what some tests need besides Go when it
# is missing and this machine can install packages (root with apt-get):
# Chromium for the GraphiQL browser test, curl and jq for the test that runs
# the README's examples. Otherwise it says so, and those tests skip
# themselves with the same message.
set -euo pipefail

pkgs=()
browser=""
for b in chromium chromium-browser google-chrome; do
	if command -v "$b" >/dev/null 2>&1; then
		browser=$(command -v "$b")
		break
	fi
done
if [[ -n "$browser" ]]; then
	echo "browser test: using $browser"
elif [[ "${ROLLCALL_SKIP_BROWSER:-}" == 1 ]]; then
	echo "browser test: ROLLCALL_SKIP_BROWSER=1, the GraphiQL browser test will be skipped"
else
	pkgs+=(chromium)
fi
for tool in curl jq; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		pkgs+=("$tool")
	fi
done
if [[ ${#pkgs[@]} == 0 ]]; then
	exit 0
fi
if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
	echo "tests: ${pkgs[*]} not found and cannot be installed here (needs root and apt-get);"
	echo "  install them (apt-get install ${pkgs[*]}): the GraphiQL browser test needs chromium, the README test curl and jq; they will be skipped"
	exit 0
fi
echo "tests: installing ${pkgs[*]} with apt-get (once per machine)"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends "${pkgs[@]}" >/tmp/rollcall-apt.log 2>&1; then
	apt-get update >>/tmp/rollcall-apt.log 2>&1 || true
	if ! apt-get install -y --no-install-recommends "${pkgs[@]}" >>/tmp/rollcall-apt.log 2>&1; then
		echo "tests: apt-get install ${pkgs[*]} failed (see /tmp/rollcall-apt.log); the tests that need them will be skipped"
		exit 0
	fi
fi
echo "tests: ${pkgs[*]} installed"
