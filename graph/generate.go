package graph

// gqlgen resolves the packages in gqlgen.yml from the module root; the
// published schema.graphql is written there too.
//go:generate go -C .. tool gqlgen generate --config gqlgen.yml
//go:generate go -C .. run ./tools/schemacat
