#!/usr/bin/env bash
# Installs the pinned npm GraphQL clients (graphql-request, Apollo Client,
# apollo-upload-client; see package-lock.json) into
# tools/js-clients/node_modules, which graph/js_clients_test.go uses.
exec "$(dirname "${BASH_SOURCE[0]}")/../npm-install.sh" "$(dirname "${BASH_SOURCE[0]}")" "JS clients" @apollo/client apollo-upload-client graphql-request
