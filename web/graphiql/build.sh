#!/usr/bin/env bash
# Rebuilds internal/graphiql/assets from the versions pinned in
# web/graphiql/package-lock.json. The copied files are committed, so the Go
# build and the served GraphiQL page need neither npm nor the network.
#
# To move to another GraphiQL or React version: edit package.json, run
# `npm install --ignore-scripts` here to update package-lock.json, then run
# this script and commit package.json, package-lock.json and the assets.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="$repo/internal/graphiql/assets"

cd "$here"
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

nm="$here/node_modules"
version() { node -p "require('$nm/$1/package.json').version"; }

# The Go package serves every *.js and *.css file of this directory, so start
# from an empty one: a file left from an older version would be served too.
rm -rf "$out"
mkdir -p "$out"

# copy SRC DEST copies a built file and drops its trailing
# "sourceMappingURL" comment: the .map files are not shipped, and a browser
# with its developer tools open would ask for them and log a 404.
copy() {
	sed -e '/^\/\/# sourceMappingURL=/d' -e 's#/\*\# sourceMappingURL=[^*]*\*/##' "$1" >"$out/$2"
}

copy "$nm/react/umd/react.production.min.js" react.production.min.js
copy "$nm/react-dom/umd/react-dom.production.min.js" react-dom.production.min.js
# graphiql.min.js bundles graphql-js and expects the globals React and
# ReactDOM. (Upstream ships graphiql.min.js unminified in 3.x; it is the file
# that the GraphiQL CDN examples load.)
copy "$nm/graphiql/graphiql.min.js" graphiql.min.js
copy "$nm/graphiql/graphiql.min.css" graphiql.min.css
# The graphql-ws client (the global graphqlWs), with which the page opens
# one WebSocket per subscription, authenticated with the headers of the
# Headers tab. graphiql.min.js bundles a graphql-ws of its own but does not
# export it, and only uses it with graphql-ws's default retries: a refused
# token (close code 4403) would be retried for about a minute before
# GraphiQL showed the error.
copy "$nm/graphql-ws/umd/graphql-ws.min.js" graphql-ws.min.js

{
	echo "Third-party code vendored into this directory by web/graphiql/build.sh."
	echo "Do not edit these files by hand; rerun the script instead."
	echo
	for pkg in graphiql graphql graphql-ws react react-dom; do
		echo "================================================================"
		echo "$pkg $(version "$pkg")"
		echo "================================================================"
		cat "$nm/$pkg"/LICENSE*
		echo
	done
} >"$out/THIRD_PARTY_NOTICES.txt"

echo "graphiql assets written to ${out#"$repo/"}:"
(cd "$out" && ls -l)
