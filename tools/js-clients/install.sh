#!/usr/bin/env bash
# Installs the pinned npm GraphQL clients (graphql-request, Apollo Client,
# apollo-upload-client; see package-lock.json) into
# tools/js-clients/node_modules, which graph/js_clients_test.go uses.
# Without node/npm it does nothing, and the tests that use it skip themselves.
set -euo pipefail

here="${BASH_SOURCE[0]%/*}"
[[ "$here" == "${BASH_SOURCE[0]}" ]] && here=.
cd "$here"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "JS clients: node/npm not found, the tests that use them skip themselves"
	exit 0
fi

# npm ci wipes and reinstalls node_modules; skip it when the tree was installed
# from exactly this lock file (stamp written after the last successful install).
stamp=node_modules/.rollcall-lock.sha256
want="$(sha256sum package-lock.json package.json | sha256sum | cut -d' ' -f1)"
if [[ -f "$stamp" && -f node_modules/@apollo/client/package.json &&
	-f node_modules/apollo-upload-client/package.json && -f node_modules/graphql-request/package.json ]] &&
	[[ "$(cat "$stamp")" == "$want" ]]; then
	echo "JS clients: node_modules up to date"
	exit 0
fi

npm ci --no-audit --no-fund
echo "$want" >"$stamp"
echo "JS clients: installed into $(pwd)/node_modules"
