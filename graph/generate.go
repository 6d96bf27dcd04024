package graph

// gqlgen resolves the packages in gqlgen.yml from the module root.
//go:generate go -C .. tool gqlgen generate --config gqlgen.yml
