#!/usr/bin/env bash
# npm-install.sh DIR LABEL PACKAGE... installs the npm project in DIR (a
# tools/ folder with a package.json and package-lock.json) with `npm ci`,
# unless its node_modules was installed from exactly this lock file and
# holds each PACKAGE. Without node/npm it does nothing: the tests that use
# the project skip themselves. LABEL names the project in messages. Each
# tools/*/install.sh calls it.
set -euo pipefail

dir=$1 label=$2
shift 2
cd "$dir"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "$label: node/npm not found, the tests that use it skip themselves"
	exit 0
fi

# npm ci wipes and reinstalls node_modules; skip it when the tree was installed
# from exactly this lock file (stamp written after the last successful install).
stamp=node_modules/.rollcall-lock.sha256
want="$(sha256sum package-lock.json package.json | sha256sum | cut -d' ' -f1)"
installed=true
[[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] || installed=false
for pkg in "$@"; do
	[[ -f "node_modules/$pkg/package.json" ]] || installed=false
done
if $installed; then
	echo "$label: node_modules up to date"
	exit 0
fi

npm ci --no-audit --no-fund --loglevel=error
echo "$want" >"$stamp"
echo "$label: installed into $(pwd)/node_modules"
