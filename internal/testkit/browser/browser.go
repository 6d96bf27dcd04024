// Package browser drives a headless Chromium for end-to-end tests of the
// pages that Rollcall serves, such as the GraphiQL IDE of internal/graphiql.
//
// The tests skip when no Chromium is installed (see [Chromium]). Every run
// starts its own browser with a fresh, temporary profile and checks that the
// page works offline: a request to a host other than the server under test or
// loopback, or an error in the browser console, fails the run.
package browser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumNames are the names under which distributions install Chromium or
// Chrome, in order of preference.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// SkipMessage is the reason given to t.Skip when no Chromium is found.
const SkipMessage = "chromium not installed: apt-get install chromium, or run make test which installs it"

// DefaultTimeout bounds a run whose context has no deadline.
const DefaultTimeout = 2 * time.Minute

// Flags are the command line flags of every browser that this package
// starts. Chromium refuses to start as root without --no-sandbox, and the
// flags that turn off background networking, component updates and sync stop
// it from calling Google's servers, which a machine without internet access
// answers with noisy connection errors. chromedp adds a fresh temporary
// --user-data-dir (removed when the browser exits), --remote-debugging-pipe
// and the start page about:blank.
var Flags = []string{
	"--headless",
	"--no-sandbox",
	"--disable-gpu",
	"--disable-quic",
	"--no-first-run",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
	"--disable-dev-shm-usage",
	"--window-size=1280,800",
}

// Chromium returns the path to a chromium binary, or calls t.Skip with a clear
// message when none is found. It looks for chromium, chromium-browser,
// google-chrome and google-chrome-stable in PATH and then in /usr/bin.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := findChromium(); p != "" {
		return p
	}
	t.Skip(SkipMessage)
	return ""
}

func findChromium() string {
	for _, name := range chromiumNames {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	for _, name := range chromiumNames {
		p := filepath.Join("/usr/bin", name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// allocatorOptions turns Flags into chromedp options.
func allocatorOptions(execPath string) []chromedp.ExecAllocatorOption {
	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(execPath)}
	for _, f := range Flags {
		name, value, ok := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		if ok {
			opts = append(opts, chromedp.Flag(name, value))
		} else {
			opts = append(opts, chromedp.Flag(name, true))
		}
	}
	return opts
}

// CSS selectors for the GraphiQL 3 page (checked against graphiql 3.8.3). GraphiQL 3 uses
// CodeMirror 5 editors; the element with class CodeMirror holds the editor
// instance in its CodeMirror property.
const (
	queryEditorSel    = ".graphiql-query-editor .CodeMirror"
	responseEditorSel = ".graphiql-response .CodeMirror"
	executeButtonSel  = ".graphiql-execute-button"
	// The section under the query editor holds the variables and headers
	// editors; its aria-label names the visible one, and the hidden editor
	// has the class "hidden".
	headersEditorSel = `.graphiql-editor-tool[aria-label="Headers"] .graphiql-editor:not(.hidden) .CodeMirror`
)

// RunGraphiQLQuery opens baseURL+"/" in headless Chromium, puts headersJSON
// (e.g. {"Authorization":"Bearer X"}) into GraphiQL's header editor, replaces
// the query with query, clicks the execute button, waits for the result pane
// to show a response, and returns the result pane's text.
//
// query should hold one query or mutation: with several operations
// GraphiQL's execute button opens a menu, and a subscription keeps running
// until the timeout. The timeout comes from ctx; without a deadline it is
// DefaultTimeout. Each call starts its own browser with an empty profile, so
// nothing that GraphiQL stored in localStorage carries over. On failure the
// error says what it waited for, and a screenshot goes to t.ArtifactDir().
//
// The run also fails when the page logged an error to the console (a
// console.error call, an uncaught exception, a CSP violation, a failed page
// resource), or when the page made a request to a host other than loopback or
// baseURL's host. HTTP error statuses of POST requests are not counted as
// console errors: they are the API's answers to GraphiQL's operations (for
// example 401 on the schema introspection before a token is set), and GraphiQL
// shows them in the result pane.
func RunGraphiQLQuery(ctx context.Context, t testing.TB, baseURL, headersJSON, query string) (string, error) {
	t.Helper()
	execPath := Chromium(t)

	base, err := url.Parse(baseURL)
	if err != nil || base.Host == "" {
		return "", fmt.Errorf("browser: bad base URL %q", baseURL)
	}
	pageURL := strings.TrimSuffix(baseURL, "/") + "/"

	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(DefaultTimeout)
	}

	// The browser lives in browserCtx, which the deadline of ctx does not
	// end, so that a failed run can still take a screenshot. ctx still
	// bounds the start of the browser and every step of the run.
	browserCtx, cancelBrowser := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBrowser()
	out := &tailBuffer{max: 16 << 10}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(browserCtx,
		append(allocatorOptions(execPath), chromedp.CombinedOutput(out))...)
	defer cancelAlloc()
	w := newWatcher(base.Hostname())
	tabCtx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithListener(w.handle))
	defer cancelTab()

	start := time.Now()
	logFailure := func() {
		t.Helper()
		t.Logf("browser: run failed after %v; chromium output (tail, D-Bus noise left out):\n%s",
			time.Since(start).Round(time.Millisecond), withoutDBusNoise(out.String()))
	}
	stopStart := context.AfterFunc(ctx, cancelBrowser)
	err = chromedp.Do(tabCtx) // starts the browser and opens the tab
	if !stopStart() {
		err = context.Cause(ctx)
	}
	if err != nil {
		logFailure()
		return "", fmt.Errorf("browser: starting chromium: %w", err)
	}

	// runCtx ends with ctx, and with the same cause (so that a timeout reads
	// as "deadline exceeded" whichever of the two ends first).
	runCtx, cancelRun := context.WithCancelCause(tabCtx)
	defer cancelRun(nil)
	defer context.AfterFunc(ctx, func() { cancelRun(context.Cause(ctx)) })()
	runCtx, cancelDeadline := context.WithDeadline(runCtx, deadline)
	defer cancelDeadline()
	text, runErr := runQuery(runCtx, w, pageURL, headersJSON, query)
	if runErr != nil {
		shotCtx, cancelShot := context.WithTimeout(tabCtx, 5*time.Second)
		saveScreenshot(shotCtx, t)
		cancelShot()
	}
	if err := errors.Join(runErr, w.err()); err != nil {
		logFailure()
		return text, err
	}
	return text, nil
}

func runQuery(ctx context.Context, w *watcher, pageURL, headersJSON, query string) (string, error) {
	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL)); err != nil {
		return "", fmt.Errorf("opening %s: %w", pageURL, err)
	}
	ready := fmt.Sprintf(`!!(document.querySelector(%s) && document.querySelector(%s) && document.querySelector(%s))`,
		jsString(queryEditorSel), jsString(responseEditorSel), jsString(executeButtonSel))
	if _, err := poll(ctx, "the GraphiQL editors", ready, func(ok bool) bool { return ok }); err != nil {
		return "", err
	}

	// GraphiQL fetches the schema as soon as it starts, and shows a failed
	// fetch in the result pane. Wait for that, so that its text cannot be
	// taken for the answer to the query.
	if err := w.waitSettled(ctx); err != nil {
		return "", err
	}

	// Show the headers tab (the page opens with it, but a user may have
	// switched) and fill in the headers.
	showHeaders := fmt.Sprintf(`(() => {
		const tab = [...document.querySelectorAll('.graphiql-editor-tools button')]
			.find((b) => b.textContent.trim() === 'Headers');
		if (!tab) return false;
		if (!document.querySelector(%s)) tab.click();
		return true;
	})()`, jsString(headersEditorSel))
	hasTab, err := chromedp.Run(ctx, chromedp.Evaluate[bool](showHeaders))
	if err != nil {
		return "", fmt.Errorf("showing the headers editor: %w", err)
	}
	if !hasTab {
		return "", errors.New("the GraphiQL page has no Headers tab (is the header editor enabled?)")
	}
	hasEditor := fmt.Sprintf(`!!document.querySelector(%s)`, jsString(headersEditorSel))
	if _, err := poll(ctx, "the headers editor", hasEditor, func(ok bool) bool { return ok }); err != nil {
		return "", err
	}

	fill := fmt.Sprintf(`(() => {
		document.querySelector(%s).CodeMirror.setValue(%s);
		document.querySelector(%s).CodeMirror.setValue(%s);
		document.querySelector(%s).CodeMirror.setValue('');
		return true;
	})()`,
		jsString(headersEditorSel), jsString(headersJSON),
		jsString(queryEditorSel), jsString(query),
		jsString(responseEditorSel))
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fill)); err != nil {
		return "", fmt.Errorf("filling in the editors: %w", err)
	}

	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(executeButtonSel))); err != nil {
		return "", fmt.Errorf("clicking the execute button: %w", err)
	}

	// The result pane was emptied above, and GraphiQL empties it again when
	// the operation starts; while it runs the button reads "Stop query".
	result := fmt.Sprintf(`(() => {
		const b = document.querySelector(%s);
		if (!b || (b.getAttribute('aria-label') || '').startsWith('Stop')) return '';
		return document.querySelector(%s).CodeMirror.getValue();
	})()`, jsString(executeButtonSel), jsString(responseEditorSel))
	return poll(ctx, "the result pane to show a response", result, func(s string) bool { return strings.TrimSpace(s) != "" })
}

// poll evaluates expr in the page until done accepts its value or ctx ends.
func poll[T any](ctx context.Context, what, expr string, done func(T) bool) (T, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
		if err == nil && done(v) {
			return v, nil
		}
		if err != nil && ctx.Err() == nil {
			return v, fmt.Errorf("waiting for %s: %w", what, err)
		}
		select {
		case <-ctx.Done():
			return v, fmt.Errorf("waiting for %s: %w", what, context.Cause(ctx))
		case <-tick.C:
		}
	}
}

// jsString returns s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// saveScreenshot stores a screenshot of the page in the test's artifact
// directory (kept with go test -artifacts) to help with a failed run.
func saveScreenshot(ctx context.Context, t testing.TB) {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil || len(buf) == 0 {
		t.Logf("browser: no screenshot of the failed run: %v", err)
		return
	}
	p := filepath.Join(t.ArtifactDir(), "graphiql-failure.png")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		t.Logf("browser: saving the screenshot of the failed run: %v", err)
		return
	}
	t.Logf("browser: screenshot of the failed run: %s (kept with go test -artifacts)", p)
}

// watcher collects, from the events of the page, the requests that left the
// machine and the errors in the console, and counts the requests in flight.
type watcher struct {
	allowedHost string // the host of the server under test

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced on every network change
	methods   map[network.RequestID]string
	inflight  map[network.RequestID]bool
	postsDone int
	problems  []string
}

func newWatcher(allowedHost string) *watcher {
	return &watcher{
		allowedHost: allowedHost,
		changed:     make(chan struct{}),
		methods:     map[network.RequestID]string{},
		inflight:    map[network.RequestID]bool{},
	}
}

// handle is a chromedp listener: it runs in the event loop of the tab, so it
// only records.
func (w *watcher) handle(ev any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		if ev.Request == nil {
			return
		}
		w.methods[ev.RequestID] = ev.Request.Method
		w.inflight[ev.RequestID] = true
		w.checkURL(ev.Request.URL)
		w.notify()
	case *network.EventLoadingFinished:
		w.finished(ev.RequestID)
	case *network.EventLoadingFailed:
		if ev.BlockedReason != "" {
			w.problem("request %s blocked: %s", w.methods[ev.RequestID], ev.BlockedReason)
		} else if !ev.Canceled && w.methods[ev.RequestID] != "POST" {
			w.problem("a %s request failed: %s", w.methods[ev.RequestID], ev.ErrorText)
		}
		w.finished(ev.RequestID)
	case *network.EventWebSocketCreated:
		w.checkURL(ev.URL)
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			w.problem("console.%s: %s", ev.Type, formatArgs(ev.Args))
		}
	case *runtime.EventExceptionThrown:
		if d := ev.ExceptionDetails; d != nil {
			text := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				text += " " + d.Exception.Description
			}
			w.problem("uncaught exception at %s:%d: %s", d.URL, d.LineNumber+1, text)
		}
	case *log.EventEntryAdded:
		e := ev.Entry
		if e == nil || e.Level != log.EntryLevelError {
			return
		}
		if e.Source == log.EntrySourceNetwork && w.methods[e.NetworkRequestID] == "POST" {
			return // an HTTP error status from the API, shown by GraphiQL
		}
		w.problem("console (%s) error: %s %s", e.Source, e.Text, e.URL)
	}
}

func (w *watcher) finished(id network.RequestID) {
	if w.inflight[id] {
		delete(w.inflight, id)
		if w.methods[id] == "POST" {
			w.postsDone++
		}
	}
	w.notify()
}

func (w *watcher) notify() {
	close(w.changed)
	w.changed = make(chan struct{})
}

// checkURL records a request to a host other than loopback or the server
// under test. URLs without a host (data:, blob:, about:) stay in the browser.
func (w *watcher) checkURL(raw string) {
	u, err := url.Parse(raw)
	if err != nil {
		w.problem("request to an unparsable URL %q", raw)
		return
	}
	switch u.Scheme {
	case "http", "https", "ws", "wss":
	default:
		return
	}
	if !isLocalHost(u.Hostname(), w.allowedHost) {
		w.problem("request to a non-local host: %s", raw)
	}
}

func isLocalHost(host, allowed string) bool {
	host = strings.ToLower(host)
	if host == strings.ToLower(allowed) || host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (w *watcher) problem(format string, args ...any) {
	w.problems = append(w.problems, fmt.Sprintf(format, args...))
}

// waitSettled waits until GraphiQL's first request to the API (the schema
// introspection, a POST) has finished and no request is in flight.
func (w *watcher) waitSettled(ctx context.Context) error {
	for {
		w.mu.Lock()
		settled := w.postsDone > 0 && len(w.inflight) == 0
		changed := w.changed
		w.mu.Unlock()
		if settled {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for GraphiQL's schema request to finish: %w", context.Cause(ctx))
		case <-changed:
		}
	}
}

// err returns the problems seen so far, or nil.
func (w *watcher) err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.problems) == 0 {
		return nil
	}
	return fmt.Errorf("the page was not clean:\n  %s", strings.Join(w.problems, "\n  "))
}

func formatArgs(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		switch {
		case a == nil:
		case len(a.Value) > 0:
			var s string
			if json.Unmarshal(a.Value, &s) == nil {
				parts = append(parts, s)
			} else {
				parts = append(parts, string(a.Value))
			}
		case a.Description != "":
			parts = append(parts, a.Description)
		default:
			parts = append(parts, string(a.Type))
		}
	}
	return strings.Join(parts, " ")
}

// withoutDBusNoise drops the lines in which Chromium complains that it has no
// D-Bus, as on every start in a container.
func withoutDBusNoise(s string) string {
	var keep []string
	for line := range strings.SplitSeq(s, "\n") {
		if !strings.Contains(line, "dbus") && strings.TrimSpace(line) != "" {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
