package graph

import (
	"context"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/rollcall/rollcall/internal/httpx"
	"github.com/rollcall/rollcall/internal/metrics"
)

// operationMetrics counts operations by type, name and outcome and times
// them. Operation names come from clients, so only well-formed names are
// used, and only the first maxOperationNames distinct ones: the rest are
// counted as "other", keeping the number of series bounded.
type operationMetrics struct {
	m     *metrics.Metrics
	mu    sync.Mutex
	names map[string]bool
}

const maxOperationNames = 200

var operationNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

var (
	_ graphql.HandlerExtension    = (*operationMetrics)(nil)
	_ graphql.ResponseInterceptor = (*operationMetrics)(nil)
)

func newOperationMetrics(m *metrics.Metrics) *operationMetrics {
	return &operationMetrics{m: m, names: map[string]bool{}}
}

func (*operationMetrics) ExtensionName() string                          { return "OperationMetrics" }
func (*operationMetrics) Validate(schema graphql.ExecutableSchema) error { return nil }

func (o *operationMetrics) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if !graphql.HasOperationContext(ctx) {
		return resp
	}
	oc := graphql.GetOperationContext(ctx)
	opType := "unknown"
	if oc.Operation != nil {
		opType = string(oc.Operation.Operation)
	}
	name := oc.OperationName
	if name == "" && oc.Operation != nil {
		name = oc.Operation.Name
	}
	name = wellFormed(name)
	httpx.SetLogAttr(ctx, slog.String("operation", name))
	httpx.SetLogAttr(ctx, slog.String("operation_type", opType))
	name = o.label(name)
	outcome := "ok"
	if resp != nil && len(resp.Errors) > 0 {
		outcome = "error"
		if code, ok := resp.Errors[0].Extensions["code"].(string); ok {
			outcome = code
		}
	}
	o.m.GraphQLOperations.WithLabelValues(opType, name, outcome).Inc()
	if opType != "subscription" {
		o.m.GraphQLDuration.WithLabelValues(opType, name).Observe(time.Since(oc.Stats.OperationStart).Seconds())
	}
	return resp
}

// wellFormed is the operation's name as logs and metrics show it:
// "anonymous" for none, "other" for one that is not a GraphQL name.
func wellFormed(name string) string {
	if name == "" {
		return "anonymous"
	}
	if !operationNameRE.MatchString(name) {
		return "other"
	}
	return name
}

// label is a well-formed name as a metric label: one of the first
// maxOperationNames names seen, or "other".
func (o *operationMetrics) label(name string) string {
	if name == "anonymous" || name == "other" {
		return name
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.names[name] {
		return name
	}
	if len(o.names) >= maxOperationNames {
		return "other"
	}
	o.names[name] = true
	return name
}
