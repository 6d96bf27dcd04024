#!/usr/bin/env bash
# Installs the pinned graphql-ws client and the ws package (see
# package-lock.json) into tools/graphql-ws-client/node_modules, which
# internal/testkit/gqlws uses.
# Without node/npm it does nothing, and the tests that use it skip themselves.
set -euo pipefail

here="${BASH_SOURCE[0]%/*}"
[[ "$here" == "${BASH_SOURCE[0]}" ]] && here=.
cd "$here"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "graphql-ws client: node/npm not found, the tests that use it skip themselves"
	exit 0
fi

# npm ci wipes and reinstalls node_modules; skip it when the tree was installed
# from exactly this lock file (stamp written after the last successful install).
stamp=node_modules/.rollcall-lock.sha256
want="$(sha256sum package-lock.json package.json | sha256sum | cut -d' ' -f1)"
if [[ -f "$stamp" && -f node_modules/graphql-ws/package.json ]] &&
	[[ "$(cat "$stamp")" == "$want" ]]; then
	echo "graphql-ws client: node_modules up to date"
	exit 0
fi

npm ci --no-audit --no-fund
echo "$want" >"$stamp"
echo "graphql-ws client: installed into $(pwd)/node_modules"
