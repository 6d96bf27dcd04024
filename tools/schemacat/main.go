// Command schemacat writes the published schema (schema.graphql, at the
// module root) from graph/schema/*.graphqls. go generate ./graph runs it.
package main

import (
	"fmt"
	"os"

	"github.com/rollcall/rollcall/graph/schema"
)

func main() {
	if err := os.WriteFile("schema.graphql", []byte(schema.Published()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "schemacat:", err)
		os.Exit(1)
	}
}
