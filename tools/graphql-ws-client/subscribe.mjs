#!/usr/bin/env node
// Subscribes to a run's updates with the graphql-ws client as a front end
// does: createClient with every setting left at its default (lazy: it
// connects for the subscription; retryAttempts 5 with its randomised
// exponential back-off), {"Authorization": "Bearer <token>"} in
// connection_init's payload, and reports what the client does and delivers.
// Used by graph/js_clients_test.go.
//
//   node subscribe.mjs <ws-url> <token> <runId>
//
// Prints one JSON object per line on stdout:
//   {"event":"connecting","attempt":n}
//   {"event":"connected","attempt":n}
//   {"event":"closed","code":c,"reason":r}
//   {"event":"next","payload":{…}}       an update: {data, errors}
// and, last, one of
//   {"event":"complete","attempts":n,"connected":m}
//     the server completed the subscription;
//   {"event":"error","code":c,"reason":r,"errors":[…],"message":s,"attempts":n,"connected":m}
//     the subscription failed: a close the client gave up on (code, reason),
//     GraphQL errors (errors), or another error (message);
//   {"event":"storm","attempts":n,"connected":m}
//     the client connected more than STORM_LIMIT times and was stopped;
//   {"event":"timeout","attempts":n,"connected":m}
//     none of these within TIMEOUT_MS.
// Exits 0 after the last line, 2 on bad usage.

import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

// Far above what the default retry settings allow (1 + 5 attempts).
const STORM_LIMIT = 30;
// The default back-off waits 2^n s plus 0.3 to 3 s before retry n (0 to 4):
// at most 46 s in all; leave room for a busy machine.
const TIMEOUT_MS = 150_000;

const QUERY = `subscription RunUpdated($id: ID!) {
  importRunUpdated(id: $id) {
    id
    status
    progress { phase rowsProcessed rowsTotal }
    rowsRead created updated unchanged removed restored rejected
    finishedAt
  }
}`;

function usage(msg) {
  process.stderr.write(`subscribe.mjs: ${msg}\nusage: node subscribe.mjs <ws-url> <token> <runId>\n`);
  process.exit(2);
}

const [, , url, token, runId] = process.argv;
if (!url || !/^wss?:\/\//.test(url)) usage('missing or invalid <ws-url>');
if (token === undefined) usage('missing <token>');
if (!runId) usage('missing <runId>');

const emit = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

let attempts = 0;
let connected = 0;
let finished = false;
let client;
let dispose;

function finish(o) {
  if (finished) return;
  finished = true;
  emit({ ...o, attempts, connected });
  clearTimeout(timer);
  dispose?.();
  client?.dispose();
  setImmediate(() => process.exit(0));
}

const timer = setTimeout(() => finish({ event: 'timeout' }), TIMEOUT_MS);

client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: `Bearer ${token}` },
  on: {
    connecting: () => {
      attempts++;
      emit({ event: 'connecting', attempt: attempts });
      if (attempts > STORM_LIMIT) finish({ event: 'storm' });
    },
    connected: () => {
      connected++;
      emit({ event: 'connected', attempt: attempts });
    },
    closed: (e) => {
      if (!finished) emit({ event: 'closed', code: e?.code ?? null, reason: String(e?.reason ?? '') });
    },
  },
});

dispose = client.subscribe(
  { query: QUERY, variables: { id: runId } },
  {
    next: (payload) => emit({ event: 'next', payload }),
    complete: () => finish({ event: 'complete' }),
    error: (err) => {
      if (Array.isArray(err)) {
        finish({ event: 'error', errors: err });
      } else if (err && typeof err === 'object' && 'code' in err) {
        finish({ event: 'error', code: err.code, reason: String(err.reason ?? '') });
      } else {
        finish({ event: 'error', message: String(err?.message ?? err) });
      }
    },
  },
);
