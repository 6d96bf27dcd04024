// Package scalar holds GraphQL scalar marshalers for Go types gqlgen does not
// know.
package scalar

import (
	"encoding/json"
	"io"
	"strconv"

	"github.com/99designs/gqlgen/graphql"

	"github.com/rollcall/rollcall/internal/apperr"
)

// MarshalInt64ID writes a database id as a GraphQL ID (a string).
func MarshalInt64ID(id int64) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(strconv.FormatInt(id, 10)))
	})
}

// UnmarshalInt64ID reads a GraphQL ID given as a string or an integer.
func UnmarshalInt64ID(v any) (int64, error) {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case json.Number:
		s = v.String()
	case int64:
		return checkID(v, v)
	case int:
		return checkID(int64(v), v)
	default:
		return 0, apperr.Invalid("", "%v is not a valid ID", v)
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, apperr.Invalid("", "%q is not a valid ID", s)
	}
	return checkID(id, s)
}

func checkID(id int64, shown any) (int64, error) {
	if id <= 0 {
		return 0, apperr.Invalid("", "%v is not a valid ID", shown)
	}
	return id, nil
}
