// Shared by the scripts of tools/js-clients: how they are called, how they
// report, and a fetch that records what the clients send.
//
// Every script is called as
//
//   node <script>.mjs '<json options>'
//
// and prints one JSON object (its report) on stdout, then exits 0. It exits 1
// with a message on stderr when something unexpected happens (an error the
// scenario did not ask for), and 2 on bad usage. The Go test
// (graph/js_clients_test.go) judges the report: the scripts only drive the
// clients and write down what they saw.

/** Reads the JSON options, checking that the named ones are present. */
export function options(script, required) {
  const arg = process.argv[2];
  let opts;
  try {
    opts = JSON.parse(arg ?? '');
  } catch {
    usage(script, 'missing or invalid JSON options');
  }
  if (opts === null || typeof opts !== 'object') usage(script, 'the options must be a JSON object');
  for (const name of required) {
    if (opts[name] === undefined) usage(script, `missing option ${name}`);
  }
  return opts;
}

function usage(script, msg) {
  process.stderr.write(`${script}: ${msg}\nusage: node ${script} '<json options>'\n`);
  process.exit(2);
}

/**
 * Runs main, bounded by timeoutMs, prints its report and exits. An uncaught
 * error or the time limit ends the script with status 1.
 */
export async function run(script, timeoutMs, main) {
  const timer = setTimeout(() => {
    process.stderr.write(`${script}: no result within ${timeoutMs} ms\n`);
    process.exit(1);
  }, timeoutMs);
  try {
    const report = await main();
    clearTimeout(timer);
    process.stdout.write(`${JSON.stringify(report)}\n`, () => process.exit(0));
  } catch (err) {
    const described = describeError(err);
    process.stderr.write(`${script}: ${err?.stack ?? err}\n${described ? JSON.stringify(described) : ''}\n`);
    process.exit(1);
  }
}

/**
 * A fetch that passes every request on to the global fetch and records it in
 * log: the method, the URL's query parameters, the headers sent (names in
 * lower case), the body (parsed when it is JSON; for a multipart body, the
 * names of its parts), and the response's status, content type and body.
 */
export function recordingFetch(log) {
  return async (input, init = {}) => {
    const url = new URL(typeof input === 'string' ? input : input.url);
    const headers = {};
    new Headers(init.headers ?? {}).forEach((v, k) => {
      headers[k] = k === 'authorization' ? v.replace(/ .*/, ' <token>') : v;
    });
    const entry = {
      method: (init.method ?? 'GET').toUpperCase(),
      params: Object.fromEntries(url.searchParams),
      headers,
    };
    if (typeof init.body === 'string') {
      entry.body = parseJSON(init.body);
    } else if (init.body instanceof FormData) {
      entry.form = [...init.body.keys()];
    }
    log.push(entry);
    const response = await fetch(input, init);
    const text = await response.clone().text();
    entry.response = {
      status: response.status,
      contentType: response.headers.get('content-type'),
      body: parseJSON(text),
    };
    return response;
  };
}

function parseJSON(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * What a client's error holds, in one shape for the Go test: its class name,
 * message, HTTP status (when the client kept one) and GraphQL errors.
 */
export function describeError(err) {
  if (!err || typeof err !== 'object') return null;
  const out = { name: err.constructor?.name ?? err.name, message: String(err.message ?? '') };
  // graphql-request's ClientError
  if (err.response && typeof err.response === 'object' && 'status' in err.response) {
    out.status = err.response.status;
    out.errors = err.response.errors ?? null;
  }
  // Apollo Client's CombinedGraphQLErrors
  if (Array.isArray(err.errors)) out.errors = err.errors;
  // Apollo Client's ServerError
  if (typeof err.statusCode === 'number') out.status = err.statusCode;
  if (typeof err.bodyText === 'string') {
    out.bodyText = err.bodyText;
    // A ServerError (a response with an HTTP error status) keeps the body
    // as text; its GraphQL errors are what a front end shows.
    const body = parseJSON(err.bodyText);
    if (!out.errors && Array.isArray(body?.errors)) out.errors = body.errors;
  }
  return out;
}

/** Calls f and returns what it threw, described; fails if it did not throw. */
export async function expectError(what, f) {
  let result;
  try {
    result = await f();
  } catch (err) {
    return describeError(err);
  }
  throw new Error(`${what}: expected an error, got ${JSON.stringify(result)}`);
}
