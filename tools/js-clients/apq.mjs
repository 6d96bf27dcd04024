#!/usr/bin/env node
// Drives Rollcall with Apollo Client 4's persisted-queries link (Automatic
// Persisted Queries) in front of its HttpLink, and reports every HTTP
// request the link made and what the queries returned.
//
//   node apq.mjs '{"url": "http://…/graphql", "token": "…", "useGET": false}'
//
// One client sends the same query twice (from the network each time, as a
// page refetching does); then a second client (a new page load: its link
// knows nothing yet) sends it once more. With APQ working:
//   1. the first request carries only the query's SHA-256 hash, the server
//      answers PERSISTED_QUERY_NOT_FOUND;
//   2. the link retries with the document and the hash (always POST: the
//      link sends full documents in a body);
//   3. the second query, and the second client's, carry the hash alone
//      (GET with useGET) and are answered from it.
//
// Report:
//   results:  data of each of the three queries, in order
//   requests: every HTTP request (see lib.mjs), in order
//   hashes:   for each request that carried a document, the SHA-256 of the
//             document as sent, hex (so the Go test can compare it with the
//             hash the link sent)

import { createHash } from 'node:crypto';

import { ApolloClient, gql, HttpLink, InMemoryCache } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';

import { options, recordingFetch, run } from './lib.mjs';

const script = 'apq.mjs';
const opts = options(script, ['url', 'token']);

const sha256 = (text) => createHash('sha256').update(text).digest('hex');

const ME = gql`
  query PersistedMe {
    me {
      id
      email
    }
  }
`;

const requests = [];

function client() {
  return new ApolloClient({
    cache: new InMemoryCache(),
    link: new PersistedQueryLink({ sha256, useGETForHashedQueries: Boolean(opts.useGET) }).concat(
      new HttpLink({ uri: opts.url, fetch: recordingFetch(requests), headers: { Authorization: `Bearer ${opts.token}` } }),
    ),
  });
}

// The document a request carried: in its JSON body, or its query parameter
// for a GET.
function documentOf(req) {
  if (req.body && typeof req.body === 'object' && typeof req.body.query === 'string') return req.body.query;
  if (typeof req.params.query === 'string') return req.params.query;
  return null;
}

run(script, 120_000, async () => {
  const results = [];
  const page = client();
  for (let i = 0; i < 2; i++) {
    const { data } = await page.query({ query: ME, fetchPolicy: 'network-only' });
    results.push(data);
  }
  const { data } = await client().query({ query: ME, fetchPolicy: 'network-only' });
  results.push(data);

  const hashes = requests.map((req) => {
    const doc = documentOf(req);
    return doc === null ? null : sha256(doc);
  });
  return { results, requests, hashes };
});
