package graph

import (
	"context"
	"net/http"
	"time"

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
	users     *dataloadgen.Loader[int64, *users.User]
	imports   *dataloadgen.Loader[int64, *imports.Import]
	files     *dataloadgen.Loader[int64, *filestore.File]
	runs      *dataloadgen.Loader[int64, *imports.Run]
	attention *dataloadgen.Loader[*imports.Import, []attention.Reason]
	// recipients are loaded within the viewer's restriction: ids outside it
	// come back NOT_FOUND.
	recipients   *dataloadgen.Loader[int64, *recipients.Recipient]
	memberCounts *dataloadgen.Loader[*lists.List, int]
}

type loadersKey struct{}

// loaderWait is how long a loader collects keys before it queries.
const loaderWait = time.Millisecond

func newLoaders(svc *app.Services) *loaders {
	opt := dataloadgen.WithWait(loaderWait)
	return &loaders{
		users:      dataloadgen.NewLoader(byID("user", svc.Users.GetMany, func(u *users.User) int64 { return u.ID }), opt),
		imports:    dataloadgen.NewLoader(byID("import", svc.Imports.GetMany, func(i *imports.Import) int64 { return i.ID }), opt),
		files:      dataloadgen.NewLoader(byID("file", svc.Imports.GetFiles, func(f *filestore.File) int64 { return f.ID }), opt),
		runs:       dataloadgen.NewLoader(byID("import run", svc.Imports.GetRuns, func(r *imports.Run) int64 { return r.ID }), opt),
		recipients: dataloadgen.NewLoader(byID("recipient", svc.Recipients.GetMany, func(r *recipients.Recipient) int64 { return r.ID }), opt),
		memberCounts: dataloadgen.NewLoader(func(ctx context.Context, ls []*lists.List) ([]int, []error) {
			counts, err := svc.Lists.MemberCounts(ctx, ls)
			out := make([]int, len(ls))
			if err != nil {
				return out, []error{err}
			}
			for i, l := range ls {
				out[i] = counts[l.ID]
			}
			return out, nil
		}, opt),
		attention: dataloadgen.NewLoader(func(ctx context.Context, imps []*imports.Import) ([][]attention.Reason, []error) {
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
		}, opt),
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
func loadOptional[T any](ctx context.Context, l *dataloadgen.Loader[int64, *T], id *int64) (*T, error) {
	if id == nil {
		return nil, nil
	}
	return l.Load(ctx, *id)
}
