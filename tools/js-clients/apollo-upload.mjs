#!/usr/bin/env node
// Drives Rollcall with Apollo Client 4 over apollo-upload-client's
// UploadHttpLink (version 19's name for what earlier versions called
// createUploadLink), as an administrator's front end does: create an import,
// upload a CSV file to it with Run Now, poll the run until it has finished;
// and reports what the client saw.
//
//   node apollo-upload.mjs '{"url": "http://…/graphql", "token": "…",
//     "csvPath": "/…/students.csv", "fileName": "students.csv",
//     "importName": "…", "missingImportId": "…", "timeoutMs": 120000}'
//
// Report:
//   created:   data of createImport
//   upload:    data of uploadImportFile(importId, file, runNow: true)
//   statuses:  every status the polling saw, in order
//   final:     the run once it is no longer QUEUED or RUNNING
//   missing:   the error of an upload to import missingImportId
//   anonymousNoPreflight: the error of an upload with neither Authorization
//              nor Apollo-Require-Preflight (what the server's cross-site
//              request guard refuses)
//   anonymousPreflight: the error of an upload without Authorization but
//              with Apollo-Require-Preflight: true (past that guard, refused
//              for want of a token)
//   requests:  every HTTP request the links made (see lib.mjs)

import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';

import { ApolloClient, gql, InMemoryCache } from '@apollo/client';
import UploadHttpLink from 'apollo-upload-client/UploadHttpLink.mjs';

import { expectError, options, recordingFetch, run } from './lib.mjs';

const script = 'apollo-upload.mjs';
const opts = options(script, ['url', 'token', 'csvPath', 'importName', 'missingImportId']);
const timeoutMs = opts.timeoutMs ?? 120_000;

const CREATE_IMPORT = gql`
  mutation CreateImport($input: CreateImportInput!) {
    createImport(input: $input) {
      id
      name
      method
    }
  }
`;

const UPLOAD = gql`
  mutation UploadImportFile($importId: ID!, $file: Upload!, $runNow: Boolean) {
    uploadImportFile(importId: $importId, file: $file, runNow: $runNow) {
      file {
        id
        name
        size
        sha256
        lineCount
        header
      }
      run {
        id
        status
        trigger
      }
    }
  }
`;

const RUN = gql`
  query ImportRun($id: ID!) {
    importRun(id: $id) {
      id
      status
      trigger
      rowsRead
      created
      updated
      unchanged
      removed
      restored
      rejected
      message
      finishedAt
      errors(first: 10) {
        totalCount
        nodes {
          line
          column
          value
        }
      }
    }
  }
`;

const requests = [];

// The headers a front end sets on its upload link. apollo-upload-client adds
// none of its own: a multipart/form-data POST is a "simple" request that a
// browser sends cross-site without a CORS preflight, so servers that guard
// against cross-site request forgery (Apollo Server, and Rollcall's
// server.preventCSRF) refuse it unless it carries a header no simple request
// can. Rollcall's front ends send their bearer token in Authorization, which
// is such a header (and enough for Rollcall); they also send
// Apollo-Require-Preflight: true, as Apollo Server's file-upload
// documentation tells apollo-upload-client users to, and so does this
// client. Without either the server refuses the upload (the test checks).
function client(headers) {
  return new ApolloClient({
    cache: new InMemoryCache(),
    link: new UploadHttpLink({ uri: opts.url, fetch: recordingFetch(requests), headers }),
  });
}

const TERMINAL = new Set(['SUCCEEDED', 'SUCCEEDED_WITH_ERRORS', 'FAILED', 'HELD', 'CANCELED']);

// Polls the run as a front end's run page does (watchQuery with a poll
// interval, from the network each time) until it is no longer QUEUED or
// RUNNING, and returns every status seen and the final run.
function pollRun(apollo, id) {
  return new Promise((resolve, reject) => {
    const statuses = [];
    const query = apollo.watchQuery({
      query: RUN,
      variables: { id },
      fetchPolicy: 'network-only',
      pollInterval: 100,
      notifyOnNetworkStatusChange: false,
    });
    const timer = setTimeout(() => {
      sub.unsubscribe();
      reject(new Error(`run ${id} not finished within ${timeoutMs} ms; statuses seen: ${statuses.join(' ')}`));
    }, timeoutMs);
    const sub = query.subscribe({
      next: (result) => {
        if (result.error) {
          clearTimeout(timer);
          sub.unsubscribe();
          reject(result.error);
          return;
        }
        const r = result.data?.importRun;
        if (!r) return;
        if (statuses[statuses.length - 1] !== r.status) statuses.push(r.status);
        if (TERMINAL.has(r.status)) {
          clearTimeout(timer);
          sub.unsubscribe();
          resolve({ statuses, final: r });
        }
      },
      error: (err) => {
        clearTimeout(timer);
        reject(err);
      },
    });
  });
}

run(script, timeoutMs + 30_000, async () => {
  const admin = client({ Authorization: `Bearer ${opts.token}`, 'Apollo-Require-Preflight': 'true' });

  const { data: created } = await admin.mutate({
    mutation: CREATE_IMPORT,
    variables: { input: { name: opts.importName, method: 'FULL' } },
  });
  const importId = created.createImport.id;

  const content = await readFile(opts.csvPath);
  const fileName = opts.fileName ?? basename(opts.csvPath);
  const file = () => new File([content], fileName, { type: 'text/csv' });

  const { data: upload } = await admin.mutate({
    mutation: UPLOAD,
    variables: { importId, file: file(), runNow: true },
  });
  const runId = upload.uploadImportFile.run?.id;
  if (!runId) throw new Error(`uploadImportFile with runNow returned no run: ${JSON.stringify(upload)}`);
  const { statuses, final } = await pollRun(admin, runId);

  const missing = await expectError('upload to a missing import', () =>
    admin.mutate({ mutation: UPLOAD, variables: { importId: opts.missingImportId, file: file(), runNow: true } }),
  );
  const anonymousNoPreflight = await expectError('anonymous upload without Apollo-Require-Preflight', () =>
    client({}).mutate({ mutation: UPLOAD, variables: { importId, file: file(), runNow: false } }),
  );
  const anonymousPreflight = await expectError('anonymous upload with Apollo-Require-Preflight', () =>
    client({ 'Apollo-Require-Preflight': 'true' }).mutate({
      mutation: UPLOAD,
      variables: { importId, file: file(), runNow: false },
    }),
  );

  return { created, upload, statuses, final, missing, anonymousNoPreflight, anonymousPreflight, requests };
});
