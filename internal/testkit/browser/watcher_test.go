package browser

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
)

// These tests feed the watcher made-up events, so they need no browser.

func request(id, method, url string) *network.EventRequestWillBeSent {
	return &network.EventRequestWillBeSent{
		RequestID: network.RequestID(id),
		Request:   &network.Request{URL: url, Method: method},
	}
}

func TestWatcherAcceptsACleanPage(t *testing.T) {
	w := newWatcher("127.0.0.1")
	for _, ev := range []any{
		request("1", "GET", "http://127.0.0.1:4000/"),
		request("2", "GET", "http://localhost:4000/graphiql/assets/x/graphiql.min.js"),
		request("3", "GET", "data:image/png;base64,AAAA"),
		request("4", "POST", "http://[::1]:4000/graphql"),
		&network.EventWebSocketCreated{URL: "ws://127.0.0.1:4000/graphql"},
		&runtime.EventConsoleAPICalled{Type: runtime.ConsoleAPICalledTypeLog},
		&runtime.EventConsoleAPICalled{Type: runtime.ConsoleAPICalledTypeWarning},
		// The API's 401 to a POST is an answer, not a page error.
		&log.EventEntryAdded{Entry: &log.Entry{Source: log.EntrySourceNetwork, Level: log.EntryLevelError,
			Text: "Failed to load resource: 401", NetworkRequestID: "4"}},
		&log.EventEntryAdded{Entry: &log.Entry{Source: log.EntrySourceOther, Level: log.EntryLevelWarning, Text: "meh"}},
	} {
		w.handle(ev)
	}
	if err := w.err(); err != nil {
		t.Fatal(err)
	}
}

func TestWatcherReportsProblems(t *testing.T) {
	w := newWatcher("app.test")
	for _, ev := range []any{
		request("1", "GET", "http://app.test/"),                    // the server under test: fine
		request("2", "GET", "https://cdn.example.com/graphiql.js"), // 1
		&network.EventWebSocketCreated{URL: "wss://example.org/x"}, // 2
		&runtime.EventConsoleAPICalled{Type: runtime.ConsoleAPICalledTypeError, // 3
			Args: []*runtime.RemoteObject{{Type: "string", Value: []byte(`"boom"`)}}},
		&runtime.EventExceptionThrown{ExceptionDetails: &runtime.ExceptionDetails{ // 4
			Text: "Uncaught", URL: "http://app.test/x.js", LineNumber: 9,
			Exception: &runtime.RemoteObject{Description: "TypeError: x is undefined"}}},
		&log.EventEntryAdded{Entry: &log.Entry{Source: log.EntrySourceSecurity, Level: log.EntryLevelError, // 5
			Text: "Refused to load the script because it violates the Content Security Policy"}},
		&log.EventEntryAdded{Entry: &log.Entry{Source: log.EntrySourceNetwork, Level: log.EntryLevelError, // 6
			Text: "Failed to load resource: 404", NetworkRequestID: "1"}},
		&network.EventLoadingFailed{RequestID: "1", ErrorText: "net::ERR_FAILED"}, // 7
		request("3", "GET", "http://app.test/blocked.css"),
		&network.EventLoadingFailed{RequestID: "3", BlockedReason: network.BlockedReasonCsp}, // 8
	} {
		w.handle(ev)
	}
	err := w.err()
	if err == nil {
		t.Fatal("no problem reported")
	}
	for _, want := range []string{
		"non-local host: https://cdn.example.com/graphiql.js",
		"non-local host: wss://example.org/x",
		"console.error: boom",
		"http://app.test/x.js:10: Uncaught TypeError: x is undefined",
		"Content Security Policy",
		"Failed to load resource: 404",
		"GET request failed: net::ERR_FAILED",
		"blocked: csp",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	if n := strings.Count(err.Error(), "\n"); n != 8 {
		t.Errorf("got %d problems, want 8:\n%v", n, err)
	}
}

func TestWatcherWaitsForTheSchemaRequest(t *testing.T) {
	w := newWatcher("127.0.0.1")
	w.handle(request("1", "GET", "http://127.0.0.1/"))
	w.handle(&network.EventLoadingFinished{RequestID: "1"})

	settled := make(chan error, 1)
	go func() { settled <- w.waitSettled(t.Context()) }()
	assertPending := func(why string) {
		t.Helper()
		select {
		case err := <-settled:
			t.Fatalf("settled (%v) %s", err, why)
		case <-time.After(50 * time.Millisecond):
		}
	}
	assertPending("before any POST")
	w.handle(request("2", "POST", "http://127.0.0.1/graphql"))
	w.handle(request("3", "GET", "http://127.0.0.1/other.js"))
	w.handle(&network.EventLoadingFinished{RequestID: "2"})
	assertPending("with a GET in flight")
	w.handle(&network.EventLoadingFinished{RequestID: "3"})
	select {
	case err := <-settled:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not settled after the POST finished")
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := newWatcher("x").waitSettled(ctx); err == nil {
		t.Error("waitSettled ignored the end of its context")
	}
}

func TestFlagsAreOptions(t *testing.T) {
	if got, want := len(allocatorOptions("/usr/bin/chromium")), len(Flags)+1; got != want {
		t.Errorf("%d allocator options, want %d", got, want)
	}
	for _, f := range []string{"--headless", "--no-sandbox", "--disable-background-networking", "--disable-quic"} {
		found := false
		for _, g := range Flags {
			found = found || g == f
		}
		if !found {
			t.Errorf("Flags lack %s", f)
		}
	}
}
