// Starts GraphiQL on the page that internal/graphiql serves. The settings come
// from the JSON in <script id="graphiql-config">, which the Go handler writes;
// keeping this code in a file (and not inline) lets the page's
// Content-Security-Policy forbid inline scripts.
//
// Besides GraphiQL's defaults, the page
//   - sends no Authorization header that is a placeholder ("Bearer <...>"),
//     so that a visitor without a token still gets the schema (the server
//     answers introspection without a token, but refuses a bad one);
//   - fetches the schema again whenever the headers change, so that the Docs
//     pane follows the token;
//   - runs subscriptions over graphql-ws (the global graphqlWs), each on a
//     connection authenticated with the headers it was started with;
//   - takes a development server's token (config.defaultHeaders) without
//     overwriting headers the user changed.
(function () {
  'use strict';

  var config = JSON.parse(
    document.getElementById('graphiql-config').textContent
  );

  // absoluteURL resolves a path such as "/graphql" against the page. With
  // websocket set it also turns http(s) into ws(s), because a WebSocket
  // needs a ws:// or wss:// URL.
  function absoluteURL(path, websocket) {
    var u = new URL(path, window.location.href);
    if (websocket) {
      if (u.protocol === 'http:') u.protocol = 'ws:';
      if (u.protocol === 'https:') u.protocol = 'wss:';
    }
    return u.href;
  }

  var httpURL = absoluteURL(config.endpoint, false);
  var wsURL = config.subscriptionEndpoint
    ? absoluteURL(config.subscriptionEndpoint, true)
    : null;

  // isPlaceholder reports whether an Authorization value is a placeholder
  // rather than a credential: empty, "Bearer" alone, or with text in angle
  // brackets such as "Bearer <your token>" (earlier versions of this page
  // offered one, and browsers keep it in localStorage). The server refuses
  // a bad token outright, introspection included, so sending one would
  // break the Docs pane for a visitor who has not given a token yet.
  function isPlaceholder(value) {
    if (typeof value !== 'string') return false;
    var v = value.trim();
    return v === '' || /^bearer$/i.test(v) || /<[^>]*>/.test(v);
  }

  // sendableHeaders returns the headers to send: those of the headers pane
  // (as GraphiQL parsed them) without a placeholder Authorization.
  function sendableHeaders(headers) {
    var out = {};
    if (!headers || typeof headers !== 'object') return out;
    Object.keys(headers).forEach(function (name) {
      if (name.toLowerCase() === 'authorization' && isPlaceholder(headers[name])) {
        return;
      }
      out[name] = headers[name];
    });
    return out;
  }

  // headersKey returns the headers that a text of the headers pane sends,
  // in a canonical form, or undefined while the text is no JSON object
  // (the user is typing). The schema is fetched again when it changes.
  function headersKey(text) {
    if (!text || !text.trim()) return '[]';
    var parsed;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      return undefined;
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
      return undefined;
    }
    var h = sendableHeaders(parsed);
    return JSON.stringify(
      Object.keys(h)
        .sort()
        .map(function (k) {
          return [k, h[k]];
        })
    );
  }

  function isCloseEvent(e) {
    return !!e && typeof e === 'object' && 'code' in e && 'reason' in e;
  }

  // errorsOf turns what graphql-ws reports as a subscription's error (the
  // server's GraphQL errors, the close event of the connection, an Error)
  // into GraphQL errors.
  function errorsOf(err) {
    if (Array.isArray(err)) return err;
    if (isCloseEvent(err)) {
      return [
        {
          message: ('Socket closed with event ' + err.code + ' ' + (err.reason || '')).trim(),
        },
      ];
    }
    return [{ message: err && err.message ? err.message : String(err) }];
  }

  // subscriptionClient is what GraphiQL's fetcher takes as its wsClient: it
  // opens a graphql-ws connection of its own for each subscription, whose
  // connection_init payload is the headers the subscription was started
  // with, e.g. {"Authorization": "Bearer rc_..."}: browsers cannot set
  // headers on a WebSocket, so that is where the server reads the token
  // (graph/auth.go, websocketAuth). One connection per subscription, so a
  // subscription never rides on a connection opened with other headers;
  // the connection closes when its subscription ends.
  function subscriptionClient(headers) {
    return {
      subscribe: function (payload, sink) {
        var client = graphqlWs.createClient({
          url: wsURL,
          connectionParams: headers,
          // The server closes the connection with 4403 when it refuses
          // the token: show that at once, rather than after graphql-ws's
          // default retries (about a minute).
          shouldRetry: function (e) {
            return isCloseEvent(e) && e.code !== 4403;
          },
        });
        var done = false;
        function finish() {
          if (!done) {
            done = true;
            client.dispose();
          }
        }
        var unsubscribe = client.subscribe(payload, {
          next: function (value) {
            sink.next(value);
          },
          // An error ends the subscription as a last result with errors,
          // which GraphiQL shows like any other. (GraphiQL's own error
          // path rejects a promise that nothing handles.)
          error: function (err) {
            finish();
            sink.next({ errors: errorsOf(err) });
            sink.complete();
          },
          complete: function () {
            finish();
            sink.complete();
          },
        });
        return function () {
          unsubscribe();
          finish();
        };
      },
    };
  }

  // documentOf returns the document of the query that is sent, by which
  // GraphiQL's fetcher tells a subscription (graphql-ws) from a query or
  // mutation (HTTP). GraphiQL passes the document of the query editor, but
  // parses the editor 100 ms after an edit: an operation run at once (say,
  // Ctrl-Enter after the last keystroke) would go by the document before,
  // and a new subscription over HTTP, which answers with one snapshot.
  function documentOf(query, given) {
    try {
      return GraphiQL.GraphQL.parse(query);
    } catch (e) {
      return given; // GraphiQL sends it anyway; the server will say why not
    }
  }

  // createFetcher returns a GraphiQL fetcher: HTTP for queries, mutations
  // and introspection, graphql-ws for subscriptions, both with the
  // sendable headers. A new fetcher makes GraphiQL fetch the schema again.
  function createFetcher() {
    return function (params, opts) {
      var headers = sendableHeaders(opts && opts.headers);
      var options = { url: httpURL };
      if (wsURL) options.wsClient = subscriptionClient(headers);
      var fetcherOpts = Object.assign({}, opts, { headers: headers });
      if (opts && opts.documentAST && typeof params.query === 'string') {
        fetcherOpts.documentAST = documentOf(params.query, opts.documentAST);
      }
      return GraphiQL.createFetcher(options)(params, fetcherOpts);
    };
  }

  // GraphiQL keeps its state in localStorage under these keys (namespace
  // "graphiql" of @graphiql/toolkit's StorageAPI); OFFERED_KEY is this
  // page's: the default headers the server offered on the last visit.
  var HEADERS_KEY = 'graphiql:headers';
  var TABS_KEY = 'graphiql:tabState';
  var OFFERED_KEY = 'rollcall:offeredHeaders';
  // The placeholder that earlier versions of this page offered.
  var OLD_PLACEHOLDER = '{"Authorization": "Bearer <paste your token here>"}';

  function localStore() {
    try {
      var s = window.localStorage;
      s.getItem(OFFERED_KEY);
      return s;
    } catch (e) {
      return null; // storage disabled: GraphiQL starts from the defaults
    }
  }

  // takeOffer runs before GraphiQL starts. GraphiQL shows the default
  // headers (a development server's token) only to a browser that has no
  // headers stored, and keeps headers that the user changed, which is
  // right: they are the user's. But headers that are still exactly what
  // the server offered on an earlier visit were never the user's: when the
  // server now offers others (the development database was reset, and the
  // old token no longer works) they are replaced by the new offer, in the
  // headers pane and in GraphiQL's tabs. Headers the user changed are kept,
  // with a note in the console. A server without an offer (rollcall serve)
  // only clears the old placeholder.
  function takeOffer(offer) {
    var ls = localStore();
    if (!ls) return;
    var stale = [OLD_PLACEHOLDER];
    if (offer) {
      var previous = ls.getItem(OFFERED_KEY);
      if (previous !== null && previous !== offer) stale.push(previous);
      ls.setItem(OFFERED_KEY, offer);
    }
    var stored = ls.getItem(HEADERS_KEY);
    if (stored !== null && stale.indexOf(stored) >= 0) {
      if (offer) ls.setItem(HEADERS_KEY, offer);
      else ls.removeItem(HEADERS_KEY);
    } else if (offer && stored !== null && stored !== offer) {
      console.info(
        'Rollcall: the Headers tab keeps the headers you set; this development server offers other ones (its admin token is in its start-up banner).'
      );
    }
    var raw = ls.getItem(TABS_KEY);
    if (!raw) return;
    try {
      var state = JSON.parse(raw);
      var changed = false;
      (state.tabs || []).forEach(function (tab) {
        if (tab && stale.indexOf(tab.headers) >= 0) {
          tab.headers = offer || null;
          changed = true;
        }
      });
      if (changed) ls.setItem(TABS_KEY, JSON.stringify(state));
    } catch (e) {
      // not GraphiQL's format: GraphiQL will ignore it too
    }
  }

  takeOffer(config.defaultHeaders || '');

  var props = {
    isHeadersEditorEnabled: true,
    // Keep a pasted token across reloads (in localStorage).
    shouldPersistHeaders: true,
    // Open the headers tab under the query editor, where the token goes.
    defaultEditorToolsVisibility: 'headers',
  };
  if (config.defaultQuery) props.defaultQuery = config.defaultQuery;
  if (config.defaultHeaders) props.defaultHeaders = config.defaultHeaders;

  // How long the headers must rest before the schema is fetched again.
  var REFETCH_DELAY_MS = 300;

  // RollcallGraphiQL is GraphiQL with a fetcher that is made anew when the
  // headers that would be sent change: GraphiQL fetches the schema when its
  // fetcher changes (and otherwise only at start), with the headers of the
  // headers pane, so the Docs pane and the editors' hints follow the token.
  function RollcallGraphiQL() {
    var generation = React.useState(0);
    var lastKey = React.useRef(undefined); // unknown at start: the first edit refetches
    var timer = React.useRef(0);
    var setGeneration = generation[1];
    var fetcher = React.useMemo(createFetcher, [generation[0]]);
    var onEditHeaders = React.useCallback(
      function (text) {
        clearTimeout(timer.current);
        timer.current = setTimeout(function () {
          var key = headersKey(text);
          if (key === undefined || key === lastKey.current) return;
          lastKey.current = key;
          setGeneration(function (g) {
            return g + 1;
          });
        }, REFETCH_DELAY_MS);
      },
      [setGeneration]
    );
    return React.createElement(
      GraphiQL,
      Object.assign({}, props, { fetcher: fetcher, onEditHeaders: onEditHeaders })
    );
  }

  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(RollcallGraphiQL)
  );
})();
