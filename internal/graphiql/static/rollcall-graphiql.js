// Starts GraphiQL on the page that internal/graphiql serves. The settings come
// from the JSON in <script id="graphiql-config">, which the Go handler writes;
// keeping this code in a file (and not inline) lets the page's
// Content-Security-Policy forbid inline scripts.
(function () {
  'use strict';

  var config = JSON.parse(
    document.getElementById('graphiql-config').textContent
  );

  // absoluteURL resolves a path such as "/graphql" against the page. With
  // websocket set it also turns http(s) into ws(s), because the WebSocket
  // client of GraphiQL needs a ws:// or wss:// URL.
  function absoluteURL(path, websocket) {
    var u = new URL(path, window.location.href);
    if (websocket) {
      if (u.protocol === 'http:') u.protocol = 'ws:';
      if (u.protocol === 'https:') u.protocol = 'wss:';
    }
    return u.href;
  }

  var fetcherOptions = { url: absoluteURL(config.endpoint, false) };
  if (config.subscriptionEndpoint) {
    fetcherOptions.subscriptionUrl = absoluteURL(
      config.subscriptionEndpoint,
      true
    );
  }

  var props = {
    fetcher: GraphiQL.createFetcher(fetcherOptions),
    isHeadersEditorEnabled: true,
    // Keep a pasted token across reloads (in localStorage).
    shouldPersistHeaders: true,
    // Open the headers tab under the query editor, where the token goes.
    defaultEditorToolsVisibility: 'headers',
  };
  if (config.defaultQuery) props.defaultQuery = config.defaultQuery;
  if (config.defaultHeaders) props.defaultHeaders = config.defaultHeaders;

  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, props)
  );
})();
