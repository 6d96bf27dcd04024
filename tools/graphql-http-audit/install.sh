#!/usr/bin/env bash
# Installs the pinned graphql-http audit suite (see package-lock.json) into
# tools/graphql-http-audit/node_modules, which internal/testkit/gqlaudit uses.
# Without node/npm it does nothing, and the audit tests skip themselves.
set -euo pipefail

here="${BASH_SOURCE[0]%/*}"
[[ "$here" == "${BASH_SOURCE[0]}" ]] && here=.
cd "$here"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "graphql-http audit: node/npm not found, the audit test will be skipped"
	exit 0
fi

# npm ci wipes and reinstalls node_modules; skip it when the tree was installed
# from exactly this lock file (stamp written after the last successful install).
stamp=node_modules/.rollcall-lock.sha256
want="$(sha256sum package-lock.json package.json | sha256sum | cut -d' ' -f1)"
if [[ -f "$stamp" && -f node_modules/graphql-http/package.json ]] &&
	[[ "$(cat "$stamp")" == "$want" ]]; then
	echo "graphql-http audit: node_modules up to date"
	exit 0
fi

npm ci --no-audit --no-fund
echo "$want" >"$stamp"
echo "graphql-http audit: installed into $(pwd)/node_modules"
