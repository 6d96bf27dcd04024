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
	"slices"
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

// NewTab starts a headless Chromium (see [Chromium]; the test is skipped
// without one) with a fresh profile and returns the context of its one tab,
// for tests that drive a page of their own with chromedp. The browser ends
// with the test.
func NewTab(ctx context.Context, t testing.TB) context.Context {
	t.Helper()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, allocatorOptions(Chromium(t))...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	return tabCtx
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
// until the timeout (use [OpenGraphiQL] for those). The timeout comes from
// ctx; without a deadline it is DefaultTimeout. Each call starts its own
// browser with an empty profile, so nothing that GraphiQL stored in
// localStorage carries over. On failure the error says what it waited for,
// and a screenshot goes to t.ArtifactDir().
//
// The run also fails when the page logged an error to the console (a
// console.error call, an uncaught exception, a CSP violation, a failed page
// resource), or when the page made a request to a host other than loopback or
// baseURL's host. HTTP error statuses of POST requests are not counted as
// console errors: they are the API's answers to GraphiQL's operations (for
// example 401 to a bad token), and GraphiQL shows them in the result pane.
func RunGraphiQLQuery(ctx context.Context, t testing.TB, baseURL, headersJSON, query string) (string, error) {
	t.Helper()
	p, err := OpenGraphiQL(ctx, t, baseURL)
	if err != nil {
		return "", err
	}
	text, err := func() (string, error) {
		if err := p.SetHeaders(headersJSON); err != nil {
			return "", err
		}
		if err := p.Execute(query); err != nil {
			return "", err
		}
		return p.WaitResult(func(s string) bool { return strings.TrimSpace(s) != "" })
	}()
	return text, p.Close(err)
}

// Page is the GraphiQL page open in a headless Chromium of its own, for tests
// of more than one step: see [OpenGraphiQL]. Its methods are bounded by the
// context given to OpenGraphiQL, and are not safe for concurrent use.
type Page struct {
	t      testing.TB
	ctx    context.Context // the run: ends with OpenGraphiQL's context or deadline
	tabCtx context.Context // the tab, which outlives ctx (for a screenshot)
	w      *watcher
	out    *tailBuffer
	start  time.Time
	stop   func() // ends the run and the browser
	shot   bool   // a screenshot was taken
	closed bool
}

// OpenGraphiQL starts a headless Chromium with an empty profile, opens
// baseURL+"/", and waits until GraphiQL's editors are there and its first
// schema request has finished. The caller must call [Page.Close], which
// reports what was wrong with the page (see [RunGraphiQLQuery]); ctx bounds
// everything until then (without a deadline, DefaultTimeout does).
func OpenGraphiQL(ctx context.Context, t testing.TB, baseURL string) (*Page, error) {
	t.Helper()
	execPath := Chromium(t)

	base, err := url.Parse(baseURL)
	if err != nil || base.Host == "" {
		return nil, fmt.Errorf("browser: bad base URL %q", baseURL)
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
	out := &tailBuffer{max: 16 << 10}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(browserCtx,
		append(allocatorOptions(execPath), chromedp.CombinedOutput(out))...)
	w := newWatcher(base.Hostname())
	tabCtx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithListener(w.handle))

	// runCtx ends with ctx, and with the same cause (so that a timeout reads
	// as "deadline exceeded" whichever of the two ends first).
	runCtx, cancelRun := context.WithCancelCause(tabCtx)
	stopAfter := context.AfterFunc(ctx, func() { cancelRun(context.Cause(ctx)) })
	runCtx, cancelDeadline := context.WithDeadline(runCtx, deadline)
	p := &Page{t: t, ctx: runCtx, tabCtx: tabCtx, w: w, out: out, start: time.Now()}
	p.stop = func() {
		cancelDeadline()
		stopAfter()
		cancelRun(nil)
		cancelTab()
		cancelAlloc()
		cancelBrowser()
	}
	t.Cleanup(p.stop) // also when the caller fails before Close

	stopStart := context.AfterFunc(ctx, cancelBrowser)
	err = chromedp.Do(tabCtx) // starts the browser and opens the tab
	if !stopStart() {
		err = context.Cause(ctx)
	}
	if err != nil {
		p.shot = true // no browser to take one
		return nil, p.Close(fmt.Errorf("browser: starting chromium: %w", err))
	}

	if err := p.load(chromedp.Navigate(pageURL)); err != nil {
		return nil, p.Close(err)
	}
	return p, nil
}

// load runs navigate (which loads the page) and waits until GraphiQL's
// editors are there and its schema request has finished.
func (p *Page) load(navigate chromedp.Action[chromedp.Void]) error {
	before := p.w.postsFinished()
	if err := chromedp.Do(p.ctx, navigate); err != nil {
		return fmt.Errorf("opening the page: %w", err)
	}
	ready := fmt.Sprintf(`!!(document.querySelector(%s) && document.querySelector(%s) && document.querySelector(%s))`,
		jsString(queryEditorSel), jsString(responseEditorSel), jsString(executeButtonSel))
	if _, err := poll(p.ctx, "the GraphiQL editors", ready, func(ok bool) bool { return ok }); err != nil {
		return err
	}
	// GraphiQL fetches the schema as soon as it starts, and shows a failed
	// fetch in the result pane. Wait for that, so that its text cannot be
	// taken for the answer to an operation.
	return p.w.waitSettledAfter(p.ctx, before)
}

// Reload reloads the page (what GraphiQL keeps in localStorage stays) and
// waits as [OpenGraphiQL] does.
func (p *Page) Reload() error {
	return p.failed(p.load(chromedp.Reload()))
}

// Close ends the browser. It returns err joined with the problems of the
// page (see [RunGraphiQLQuery]); when there are any, it logs the tail of
// Chromium's output, and, if err is not nil, keeps a screenshot.
func (p *Page) Close(err error) error {
	p.t.Helper()
	if p.closed {
		return errors.Join(err, errors.New("browser: page closed twice"))
	}
	p.closed = true
	if err != nil {
		p.screenshot()
	}
	p.stop()
	if err := errors.Join(err, p.w.err()); err != nil {
		p.t.Logf("browser: run failed after %v; chromium output (tail, D-Bus noise left out):\n%s",
			time.Since(p.start).Round(time.Millisecond), withoutDBusNoise(p.out.String()))
		return err
	}
	return nil
}

// screenshot keeps a screenshot of the page, once: the first failure shows
// the most.
func (p *Page) screenshot() {
	if p.shot {
		return
	}
	p.shot = true
	ctx, cancel := context.WithTimeout(p.tabCtx, 5*time.Second)
	defer cancel()
	saveScreenshot(ctx, p.t)
}

// failed takes a screenshot when err is not nil, and returns err.
func (p *Page) failed(err error) error {
	if err != nil {
		p.screenshot()
	}
	return err
}

// eval evaluates expr in the page.
func eval[T any](p *Page, what, expr string) (T, error) {
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		return v, p.failed(fmt.Errorf("%s: %w", what, err))
	}
	return v, nil
}

// Poll evaluates the JavaScript expression expr in the page until done
// accepts its value (of type T) or the run's context ends.
func Poll[T any](p *Page, what, expr string, done func(T) bool) (T, error) {
	v, err := poll(p.ctx, what, expr, done)
	return v, p.failed(err)
}

// showHeaders shows the headers tab (the page opens with it, but a user may
// have switched).
func (p *Page) showHeaders() error {
	showHeaders := fmt.Sprintf(`(() => {
		const tab = [...document.querySelectorAll('.graphiql-editor-tools button')]
			.find((b) => b.textContent.trim() === 'Headers');
		if (!tab) return false;
		if (!document.querySelector(%s)) tab.click();
		return true;
	})()`, jsString(headersEditorSel))
	hasTab, err := eval[bool](p, "showing the headers editor", showHeaders)
	if err != nil {
		return err
	}
	if !hasTab {
		return p.failed(errors.New("the GraphiQL page has no Headers tab (is the header editor enabled?)"))
	}
	hasEditor := fmt.Sprintf(`!!document.querySelector(%s)`, jsString(headersEditorSel))
	_, err = Poll(p, "the headers editor", hasEditor, func(ok bool) bool { return ok })
	return err
}

// Headers returns the text of GraphiQL's headers editor.
func (p *Page) Headers() (string, error) {
	if err := p.showHeaders(); err != nil {
		return "", err
	}
	return eval[string](p, "reading the headers editor",
		fmt.Sprintf(`document.querySelector(%s).CodeMirror.getValue()`, jsString(headersEditorSel)))
}

// SetHeaders replaces the text of GraphiQL's headers editor, as a user who
// pastes it would.
func (p *Page) SetHeaders(headersJSON string) error {
	if err := p.showHeaders(); err != nil {
		return err
	}
	_, err := eval[bool](p, "filling in the headers editor", fmt.Sprintf(`(() => {
		document.querySelector(%s).CodeMirror.setValue(%s);
		return true;
	})()`, jsString(headersEditorSel), jsString(headersJSON)))
	return err
}

// Result returns the text of GraphiQL's result pane.
func (p *Page) Result() (string, error) {
	return eval[string](p, "reading the result pane",
		fmt.Sprintf(`document.querySelector(%s).CodeMirror.getValue()`, jsString(responseEditorSel)))
}

// Execute replaces the query with query, empties the result pane, and
// clicks the execute button once GraphiQL has parsed the new query. It
// does not wait for the operation. query must be a GraphQL document
// (GraphiQL does not parse anything else, and Execute would wait for it
// until the deadline).
func (p *Page) Execute(query string) error {
	_, err := eval[bool](p, "filling in the query editor", fmt.Sprintf(`(() => {
		document.querySelector(%s).CodeMirror.setValue(%s);
		document.querySelector(%s).CodeMirror.setValue('');
		return true;
	})()`, jsString(queryEditorSel), jsString(query), jsString(responseEditorSel)))
	if err != nil {
		return err
	}
	// GraphiQL parses the query editor 100 ms after an edit, and runs the
	// operation that it parsed last (its name, and whether it is a
	// subscription).
	parsed := fmt.Sprintf(`(() => {
		const cm = document.querySelector(%s).CodeMirror;
		const doc = cm.documentAST;
		return !!(doc && doc.loc && doc.loc.source.body === cm.getValue());
	})()`, jsString(queryEditorSel))
	if _, err := Poll(p, "GraphiQL to parse the query", parsed, func(ok bool) bool { return ok }); err != nil {
		return err
	}
	if err := chromedp.Do(p.ctx, chromedp.Click(chromedp.CSS(executeButtonSel))); err != nil {
		return p.failed(fmt.Errorf("clicking the execute button: %w", err))
	}
	return nil
}

// WaitResult waits until no operation runs and done accepts the text of the
// result pane, and returns that text. (While an operation runs the execute
// button reads "Stop query"; GraphiQL empties the result pane when it
// starts one.)
func (p *Page) WaitResult(done func(string) bool) (string, error) {
	result := fmt.Sprintf(`(() => {
		const b = document.querySelector(%s);
		if (!b || (b.getAttribute('aria-label') || '').startsWith('Stop')) return null;
		return document.querySelector(%s).CodeMirror.getValue();
	})()`, jsString(executeButtonSel), jsString(responseEditorSel))
	v, err := Poll(p, "the result pane to show a response", result, func(s *string) bool { return s != nil && done(*s) })
	if v == nil {
		return "", err
	}
	return *v, err
}

// Docs is what GraphiQL's documentation explorer shows.
type Docs struct {
	// Error is the explorer's error, e.g. "Error fetching schema".
	Error string `json:"error"`
	// QueryFields are the fields of the Query type, once the explorer
	// shows that type.
	QueryFields []string `json:"queryFields"`
}

// docsExpr opens the documentation explorer and, when it shows the schema's
// root types, the Query type, and returns what it shows as a Docs.
const docsExpr = `(() => {
	const out = {error: '', queryFields: []};
	let explorer = document.querySelector('.graphiql-doc-explorer');
	if (!explorer) {
		const open = document.querySelector('.graphiql-sidebar button[aria-label="Show Documentation Explorer"]');
		if (open) open.click();
		return out;
	}
	const error = explorer.querySelector('.graphiql-doc-explorer-error');
	if (error) {
		out.error = error.textContent.trim();
		return out;
	}
	const title = explorer.querySelector('.graphiql-doc-explorer-title');
	if (title && title.textContent.trim() === 'Query') {
		out.queryFields = [...explorer.querySelectorAll('.graphiql-doc-explorer-field-name')].map((a) => a.textContent.trim());
		return out;
	}
	for (const root of explorer.querySelectorAll('.graphiql-doc-explorer-root-type')) {
		const link = root.parentElement.querySelector('.graphiql-doc-explorer-type-name');
		if (root.textContent.trim() === 'query' && link) {
			link.click();
			break;
		}
	}
	return out;
})()`

// WaitDocs opens GraphiQL's documentation explorer, goes to the Query type
// when the explorer shows the schema, and waits until done accepts what
// the explorer shows.
func (p *Page) WaitDocs(done func(Docs) bool) (Docs, error) {
	return Poll(p, "the documentation explorer", docsExpr, done)
}

// Request is a request of the page to the GraphQL endpoint.
type Request struct {
	URL string
	// Authorization is the request's Authorization header; HasAuthorization
	// says whether it had one.
	Authorization    string
	HasAuthorization bool
	// Body is the request's body (a JSON GraphQL request).
	Body string
}

// Requests returns the POST requests the page has sent so far.
func (p *Page) Requests() []Request {
	return p.w.requests()
}

// WebSocketMessage is a text message over one of the page's WebSockets.
type WebSocketMessage struct {
	Socket string // the socket's request id: one per connection
	Sent   bool   // sent by the page, else received
	Data   string
}

// WebSocketMessages returns the text messages of the page's WebSockets so
// far, in order.
func (p *Page) WebSocketMessages() []WebSocketMessage {
	return p.w.webSocketMessages()
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
	posts     []Request
	messages  []WebSocketMessage
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
		if ev.Request.Method == "POST" {
			w.posts = append(w.posts, postOf(ev.Request))
		}
		w.notify()
	case *network.EventWebSocketFrameSent:
		w.frame(ev.RequestID, true, ev.Response)
	case *network.EventWebSocketFrameReceived:
		w.frame(ev.RequestID, false, ev.Response)
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

// postOf returns what a test may ask of a POST request.
func postOf(r *network.Request) Request {
	out := Request{URL: r.URL}
	for name, v := range r.Headers {
		if strings.EqualFold(name, "Authorization") {
			out.Authorization, out.HasAuthorization = fmt.Sprint(v), true
		}
	}
	for _, e := range r.PostDataEntries {
		out.Body += string(e.Bytes)
	}
	return out
}

// frame records a text message of a WebSocket.
func (w *watcher) frame(id network.RequestID, sent bool, f *network.WebSocketFrame) {
	if f == nil || f.Opcode != 1 {
		return // a binary message, or a control frame
	}
	w.messages = append(w.messages, WebSocketMessage{Socket: string(id), Sent: sent, Data: string(f.PayloadData)})
	w.notify()
}

func (w *watcher) requests() []Request {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.posts)
}

func (w *watcher) webSocketMessages() []WebSocketMessage {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.messages)
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
	return w.waitSettledAfter(ctx, 0)
}

// postsFinished returns how many POST requests have finished.
func (w *watcher) postsFinished() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.postsDone
}

// waitSettledAfter waits until more than n POST requests have finished and
// no request is in flight.
func (w *watcher) waitSettledAfter(ctx context.Context, n int) error {
	for {
		w.mu.Lock()
		settled := w.postsDone > n && len(w.inflight) == 0
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
