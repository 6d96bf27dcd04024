package graph

import (
	"context"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vikstrous/dataloadgen"

	"github.com/rollcall/rollcall/internal/app"
	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/attention"
	"github.com/rollcall/rollcall/internal/filestore"
	"github.com/rollcall/rollcall/internal/imports"
	"github.com/rollcall/rollcall/internal/lists"
	"github.com/rollcall/rollcall/internal/recipients"
	"github.com/rollcall/rollcall/internal/users"
)

// loaders batch the lookups resolvers make per object (the user who created
// each import, the file of each run…) into one query per kind and request.
type loaders struct {
	users     *loader[int64, *users.User]
	imports   *loader[int64, *imports.Import]
	files     *loader[int64, *filestore.File]
	runs      *loader[int64, *imports.Run]
	attention *loader[*imports.Import, []attention.Reason]
	// recipients are loaded within the viewer's restriction: ids outside it
	// come back NOT_FOUND.
	recipients   *loader[int64, *recipients.Recipient]
	memberCounts *loader[*lists.List, int]
	// What a OneRoster import links to a recipient, by recipient id: the
	// classes, and the guardians and students (within the restriction).
	classes   *loader[int64, []recipients.Class]
	guardians *loader[int64, []recipients.Recipient]
	students  *loader[int64, []recipients.Recipient]
}

type loadersKey struct{}

// loaderWait is how long a loader collects keys before it queries.
const loaderWait = time.Millisecond

func newLoaders(svc *app.Services) *loaders {
	return &loaders{
		users:      newLoader(byID("user", svc.Users.GetMany, func(u *users.User) int64 { return u.ID })),
		imports:    newLoader(byID("import", svc.Imports.GetMany, func(i *imports.Import) int64 { return i.ID })),
		files:      newLoader(byID("file", svc.Imports.GetFiles, func(f *filestore.File) int64 { return f.ID })),
		runs:       newLoader(byID("import run", svc.Imports.GetRuns, func(r *imports.Run) int64 { return r.ID })),
		recipients: newLoader(byID("recipient", svc.Recipients.GetMany, func(r *recipients.Recipient) int64 { return r.ID })),
		memberCounts: newLoader(func(ctx context.Context, ls []*lists.List) ([]int, []error) {
			counts, err := svc.Lists.MemberCounts(ctx, ls)
			out := make([]int, len(ls))
			if err != nil {
				return out, []error{err}
			}
			for i, l := range ls {
				out[i] = counts[l.ID]
			}
			return out, nil
		}),
		classes:   newLoader(grouped(svc.Recipients.Classes)),
		guardians: newLoader(grouped(svc.Recipients.Guardians)),
		students:  newLoader(grouped(svc.Recipients.Students)),
		attention: newLoader(func(ctx context.Context, imps []*imports.Import) ([][]attention.Reason, []error) {
			reasons, err := svc.Attention.Reasons(ctx, imps)
			out := make([][]attention.Reason, len(imps))
			if err != nil {
				return out, []error{err}
			}
			for i, imp := range imps {
				out[i] = reasons[imp.ID]
				if out[i] == nil {
					out[i] = []attention.Reason{}
				}
			}
			return out, nil
		}),
	}
}

// byID adapts a "get many by id" function to a loader's fetch: results in
// key order, NOT_FOUND for ids that are missing.
func byID[T any](kind string, get func(context.Context, []int64) ([]T, error), id func(*T) int64) func(context.Context, []int64) ([]*T, []error) {
	return func(ctx context.Context, ids []int64) ([]*T, []error) {
		items, err := get(ctx, ids)
		if err != nil {
			return make([]*T, len(ids)), []error{err}
		}
		found := make(map[int64]*T, len(items))
		for i := range items {
			found[id(&items[i])] = &items[i]
		}
		out := make([]*T, len(ids))
		var errs []error
		for i, k := range ids {
			if out[i] = found[k]; out[i] == nil {
				if errs == nil {
					errs = make([]error, len(ids))
				}
				errs[i] = apperr.NotFound(kind, k)
			}
		}
		return out, errs
	}
}

// grouped adapts a "get each one's list by id" function to a loader's
// fetch: lists in key order, empty (not null) for ids without any.
func grouped[T any](get func(context.Context, []int64) (map[int64][]T, error)) func(context.Context, []int64) ([][]T, []error) {
	return func(ctx context.Context, ids []int64) ([][]T, []error) {
		out := make([][]T, len(ids))
		m, err := get(ctx, ids)
		if err != nil {
			return out, []error{err}
		}
		for i, id := range ids {
			if out[i] = m[id]; out[i] == nil {
				out[i] = []T{}
			}
		}
		return out, nil
	}
}

// withLoaders gives each request its own loaders (their caches must not
// outlive a request or cross viewers). Operations over a WebSocket get
// theirs from the session (see wsSessions.aroundOperation).
func withLoaders(svc *app.Services) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(withNewLoaders(r.Context(), svc)))
		})
	}
}

// withNewLoaders returns ctx with loaders of its own.
func withNewLoaders(ctx context.Context, svc *app.Services) context.Context {
	return context.WithValue(ctx, loadersKey{}, newLoaders(svc))
}

func loadersFrom(ctx context.Context) *loaders {
	return ctx.Value(loadersKey{}).(*loaders)
}

// loadOptional loads id when it is set.
func loadOptional[T any](ctx context.Context, l *loader[int64, *T], id *int64) (*T, error) {
	if id == nil {
		return nil, nil
	}
	return l.Load(ctx, *id)
}

// loader is a dataloadgen loader that waits for more keys only where more
// can come: in a field resolved for the elements of a list, whose elements
// ask for their keys at about the same time. A field of a lone object (the
// list of list(id), say) fetches its key at once: the loader's wait would
// only delay it (a millisecond on every such request).
type loader[K comparable, V any] struct {
	batched *dataloadgen.Loader[K, V]
	fetch   func(context.Context, []K) ([]V, []error)
}

func newLoader[K comparable, V any](fetch func(context.Context, []K) ([]V, []error)) *loader[K, V] {
	return &loader[K, V]{batched: dataloadgen.NewLoader(fetch, dataloadgen.WithWait(loaderWait)), fetch: fetch}
}

// Load returns the value of key.
func (l *loader[K, V]) Load(ctx context.Context, key K) (V, error) {
	if inList(ctx) {
		return l.batched.Load(ctx, key)
	}
	vs, errs := l.fetch(ctx, []K{key})
	var v V
	if len(vs) > 0 {
		v = vs[0]
	}
	if len(errs) > 0 && errs[0] != nil {
		return v, errs[0]
	}
	return v, nil
}

// LoadAll returns the values of keys, in one fetch after the wait.
func (l *loader[K, V]) LoadAll(ctx context.Context, keys []K) ([]V, error) {
	return l.batched.LoadAll(ctx, keys)
}

// inList reports whether the field being resolved belongs to an element of
// a list (some enclosing field context has an index).
func inList(ctx context.Context) bool {
	for fc := graphql.GetFieldContext(ctx); fc != nil; fc = fc.Parent {
		if fc.Index != nil {
			return true
		}
	}
	return false
}
