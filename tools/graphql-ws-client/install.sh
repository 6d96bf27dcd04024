#!/usr/bin/env bash
# Installs the pinned graphql-ws client and the ws package (see
# package-lock.json) into tools/graphql-ws-client/node_modules, which
# internal/testkit/gqlws uses.
exec "$(dirname "${BASH_SOURCE[0]}")/../npm-install.sh" "$(dirname "${BASH_SOURCE[0]}")" "graphql-ws client" graphql-ws
