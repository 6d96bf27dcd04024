#!/usr/bin/env node
// Connects the graphql-ws client (what browsers and Node apps use to speak
// graphql-transport-ws) to a server and reports what it does, so that a Go
// test can check how a real client treats the server's close codes.
//
//   node client.mjs <ws-url> <token> <retryAttempts>
//
// The client connects eagerly (lazy: false: it holds the connection open and
// reconnects as a page with live subscriptions would), with
// {"Authorization": "Bearer <token>"} in connection_init's payload, and
// retries as configured: retryAttempts retries after the first attempt,
// waiting RETRY_WAIT_MS between them (the default back-off only slows the
// test down; the number of attempts is what counts).
//
// Prints one JSON object per line on stdout:
//   {"event":"connecting","attempt":n}
//   {"event":"connected","attempt":n}
//   {"event":"closed","code":c,"reason":r}
// and, last, one of
//   {"event":"gave-up","code":c,"reason":r,"attempts":n,"connected":m}
//     the client stopped retrying (what it reported to onNonLazyError);
//   {"event":"storm","attempts":n,"connected":m}
//     it kept reconnecting past retryAttempts + STORM_MARGIN attempts
//     (as graphql-ws does after a 1000 close: a normal close does not
//     count as a failed attempt), and was stopped;
//   {"event":"timeout","attempts":n,"connected":m}
//     neither happened within TIMEOUT_MS.
// Exits 0 after the last line, 2 on bad usage.

import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const RETRY_WAIT_MS = 50;
const STORM_MARGIN = 5;
const TIMEOUT_MS = 60_000;

function usage(msg) {
  process.stderr.write(`client.mjs: ${msg}\nusage: node client.mjs <ws-url> <token> <retryAttempts>\n`);
  process.exit(2);
}

const [, , url, token, retries] = process.argv;
if (!url || !/^wss?:\/\//.test(url)) usage('missing or invalid <ws-url>');
if (token === undefined) usage('missing <token>');
const retryAttempts = Number(retries);
if (!Number.isInteger(retryAttempts) || retryAttempts < 0) usage('<retryAttempts> must be a whole number');

const emit = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

let attempts = 0;
let connected = 0;
let finished = false;
let client;

function finish(o) {
  if (finished) return;
  finished = true;
  emit({ ...o, attempts, connected });
  clearTimeout(timer);
  client?.dispose();
  // dispose closes the socket; do not wait for anything else.
  setImmediate(() => process.exit(0));
}

const timer = setTimeout(() => finish({ event: 'timeout' }), TIMEOUT_MS);

client = createClient({
  url,
  webSocketImpl: WebSocket,
  lazy: false,
  connectionParams: { Authorization: `Bearer ${token}` },
  retryAttempts,
  retryWait: () => new Promise((resolve) => setTimeout(resolve, RETRY_WAIT_MS)),
  onNonLazyError: (err) => {
    if (err && typeof err === 'object' && 'code' in err) {
      finish({ event: 'gave-up', code: err.code, reason: String(err.reason ?? '') });
    } else {
      finish({ event: 'gave-up', code: null, reason: String(err?.message ?? err) });
    }
  },
  on: {
    connecting: () => {
      attempts++;
      emit({ event: 'connecting', attempt: attempts });
      if (attempts > retryAttempts + 1 + STORM_MARGIN) finish({ event: 'storm' });
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
