#!/usr/bin/env node
// Runs the graphql-http GraphQL-over-HTTP audit suite against a server.
//
//   node audit.mjs <url> [headersJSON]
//
// headersJSON is an optional JSON object of extra headers (string values) set
// on every request the audit makes, e.g. '{"Authorization":"Bearer x"}'. They
// override the audit's own header of the same name, so passing Content-Type or
// Accept here distorts the audit.
//
// Prints a JSON array [{id, name, status, reason}] to stdout, in the suite's
// order. status is 'ok' | 'notice' (failed MAY) | 'warn' (failed SHOULD) |
// 'error' (failed MUST); reason is "" for 'ok', else the audit's reason plus a
// trimmed summary of the response. Exits 0 whenever the audit ran (the caller
// judges the results), 2 on bad usage and 1 when the audit itself could not
// run (e.g. connection refused).

import { auditServer } from 'graphql-http';

const REQUEST_TIMEOUT_MS = 15_000;
const BODY_LIMIT = 300;

function usage(msg) {
  process.stderr.write(`audit.mjs: ${msg}\nusage: node audit.mjs <url> [headersJSON]\n`);
  process.exit(2);
}

const [, , url, headersJSON] = process.argv;
if (!url) usage('missing <url>');
try {
  new URL(url);
} catch {
  usage(`invalid url ${JSON.stringify(url)}`);
}

let extraHeaders = {};
if (headersJSON !== undefined && headersJSON !== '') {
  try {
    extraHeaders = JSON.parse(headersJSON);
  } catch (err) {
    usage(`headersJSON is not valid JSON: ${err.message}`);
  }
  if (extraHeaders === null || typeof extraHeaders !== 'object' || Array.isArray(extraHeaders)) {
    usage('headersJSON must be a JSON object of header name to string value');
  }
  for (const [k, v] of Object.entries(extraHeaders)) {
    if (typeof v !== 'string') usage(`header ${JSON.stringify(k)} must have a string value`);
  }
}

// Snapshot of each response's status, headers and body, so failures can be
// reported even when the audit already consumed the body.
const snapshots = new WeakMap();

// Statuses for which a Response may not carry a body.
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

async function fetchFn(input, init = {}) {
  const headers = new Headers(init.headers);
  for (const [k, v] of Object.entries(extraHeaders)) headers.set(k, v);
  const res = await fetch(input, {
    ...init,
    headers,
    signal: init.signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  if (res.status < 200 || res.status > 599) {
    // new Response() cannot represent these; hand back the original.
    return res;
  }
  // Buffer the body and hand the audit an equivalent, replayable Response.
  const buf = new Uint8Array(await res.arrayBuffer());
  const copy = new Response(NULL_BODY_STATUS.has(res.status) ? null : buf, {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
  });
  snapshots.set(copy, {
    status: res.status,
    contentType: res.headers.get('content-type'),
    body: new TextDecoder('utf-8').decode(buf),
  });
  return copy;
}

function trim(s, n = BODY_LIMIT) {
  s = String(s).replace(/\s+/g, ' ').trim();
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

async function describe(res) {
  if (!res || typeof res !== 'object') return '';
  let snap = snapshots.get(res);
  if (!snap) {
    let body = '<body already read>';
    if (!res.bodyUsed) {
      try {
        body = await res.text();
      } catch (err) {
        body = `<unreadable body: ${err.message}>`;
      }
    }
    snap = { status: res.status, contentType: res.headers?.get('content-type'), body };
  }
  const body = snap.body === '' ? '<empty body>' : trim(snap.body);
  return `got HTTP ${snap.status}, content-type ${snap.contentType ?? '<none>'}, body ${body}`;
}

let results;
try {
  results = await auditServer({ url, fetchFn });
} catch (err) {
  const cause = err?.cause ? ` (cause: ${err.cause?.message ?? err.cause})` : '';
  process.stderr.write(`audit.mjs: the audit could not run against ${url}: ${err?.stack ?? err}${cause}\n`);
  process.exit(1);
}

const out = [];
for (const r of results) {
  let reason = '';
  if (r.status !== 'ok') {
    const got = await describe(r.response);
    reason = got ? `${r.reason ?? 'failed'}; ${got}` : (r.reason ?? 'failed');
  }
  out.push({ id: r.id, name: r.name, status: r.status, reason });
}
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
