#!/usr/bin/env bash
# Installs the pinned graphql-http audit suite (see package-lock.json) into
# tools/graphql-http-audit/node_modules, which internal/testkit/gqlaudit uses.
exec "$(dirname "${BASH_SOURCE[0]}")/../npm-install.sh" "$(dirname "${BASH_SOURCE[0]}")" "graphql-http audit" graphql-http
