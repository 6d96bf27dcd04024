// Package schema holds Rollcall's GraphQL schema, one file per concept
// (users, imports, runs, recipients, lists, audit). gqlgen reads these
// files; Published concatenates them into the top-level schema.graphql
// that front ends and tools read (written by go generate, and checked
// against these files by a test).
package schema

import (
	"embed"
	"strings"
)

//go:embed *.graphqls
var files embed.FS

// Order is the order of the files in the published schema.
var Order = []string{"schema", "users", "imports", "runs", "recipients", "lists", "audit"}

// Published returns the schema as one document.
func Published() string {
	var b strings.Builder
	b.WriteString("# Generated from graph/schema/*.graphqls by go generate ./graph: do not edit.\n\n")
	for i, name := range Order {
		data, err := files.ReadFile(name + ".graphqls")
		if err != nil {
			panic(err) // the files are embedded: a missing one is a build mistake
		}
		if i > 0 {
			b.WriteString("\n")
		}
		b.Write(data)
	}
	return b.String()
}

// Files returns the names of the schema's files, for checking that Order
// names them all.
func Files() []string {
	entries, _ := files.ReadDir(".")
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".graphqls"))
	}
	return out
}
