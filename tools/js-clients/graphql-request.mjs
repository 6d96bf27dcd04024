#!/usr/bin/env node
// Drives Rollcall with graphql-request (GraphQLClient), as a Node script or a
// light front end uses it, and reports what the client returned.
//
//   node graphql-request.mjs '{"url": "http://…/graphql", "token": "…",
//     "badToken": "…", "missingImportId": "…"}'
//
// Report:
//   me:        data of `me` with the token
//   pages:     data of `imports(first: 1, after: $after)`, page by page,
//              following pageInfo.endCursor (variables at work)
//   notFound:  the error thrown for `import(id: missingImportId)`
//   badToken:  the error thrown for `me` with badToken
//   anonymous: the error thrown for `me` without a token
// Each error as lib.mjs's describeError: {name, message, status, errors}.

import { GraphQLClient } from 'graphql-request';

import { expectError, options, run } from './lib.mjs';

const script = 'graphql-request.mjs';
const opts = options(script, ['url', 'token', 'badToken', 'missingImportId']);

const ME = /* GraphQL */ `
  query Me {
    me {
      id
      email
      role
    }
  }
`;

const IMPORTS = /* GraphQL */ `
  query Imports($first: Int!, $after: String) {
    imports(first: $first, after: $after) {
      totalCount
      nodes {
        id
        name
        method
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`;

const IMPORT = /* GraphQL */ `
  query Import($id: ID!) {
    import(id: $id) {
      id
      name
    }
  }
`;

const client = (token) =>
  new GraphQLClient(opts.url, token ? { headers: { Authorization: `Bearer ${token}` } } : {});

run(script, 120_000, async () => {
  const admin = client(opts.token);
  const me = await admin.request(ME);

  const pages = [];
  let after = null;
  for (;;) {
    const page = await admin.request(IMPORTS, { first: 1, after });
    pages.push(page);
    if (!page.imports.pageInfo.hasNextPage || pages.length > 10) break;
    after = page.imports.pageInfo.endCursor;
  }

  const notFound = await expectError('import(id: missing)', () =>
    admin.request(IMPORT, { id: opts.missingImportId }),
  );
  const badToken = await expectError('me with a bad token', () => client(opts.badToken).request(ME));
  const anonymous = await expectError('me without a token', () => client('').request(ME));

  return { me, pages, notFound, badToken, anonymous };
});
