package recipients

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/rollcall/rollcall/internal/apperr"
	"github.com/rollcall/rollcall/internal/authz"
	"github.com/rollcall/rollcall/internal/db"
	"github.com/rollcall/rollcall/internal/fold"
	"github.com/rollcall/rollcall/internal/page"
)

// Order is the order of a page of recipients.
type Order string

const (
	OrderLastName   Order = "LAST_NAME"
	OrderFirstName  Order = "FIRST_NAME"
	OrderExternalID Order = "EXTERNAL_ID"
	OrderGrade      Order = "GRADE"
	OrderSchool     Order = "SCHOOL"
)

// orderKey is one ORDER BY expression and the type of its cursor value.
type orderKey struct {
	expr string
	num  bool
}

// orders are the keyset orders; each ends with the id, so keys are unique.
// Expressions never yield NULL, so row comparisons work for keysets.
var orders = map[Order][]orderKey{
	OrderLastName:   {{"r.last_name", false}, {"r.first_name", false}, {"r.id", true}},
	OrderFirstName:  {{"r.first_name", false}, {"r.last_name", false}, {"r.id", true}},
	OrderExternalID: {{"r.external_id", false}, {"r.id", true}},
	OrderGrade:      {{"coalesce(r.grade_rank, 99)", true}, {"r.last_name", false}, {"r.first_name", false}, {"r.id", true}},
	OrderSchool:     {{"coalesce(r.school_key, '')", false}, {"r.last_name", false}, {"r.first_name", false}, {"r.id", true}},
}

// cursorValues reads the keys of r for order o, for its cursor.
func (o Order) cursor(r *Recipient) string {
	keys := orders[o]
	vals := make([]any, len(keys))
	for i, k := range keys {
		switch k.expr {
		case "r.last_name":
			vals[i] = r.LastName
		case "r.first_name":
			vals[i] = r.FirstName
		case "r.external_id":
			vals[i] = r.ExternalID
		case "r.id":
			vals[i] = r.ID
		case "coalesce(r.grade_rank, 99)":
			v := int16(99)
			if r.GradeRank != nil {
				v = *r.GradeRank
			}
			vals[i] = v
		default: // school
			s := ""
			if r.School != nil {
				s = fold.Key(*r.School) // school_key
			}
			vals[i] = s
		}
	}
	return page.EncodeCursor(vals)
}

// Cursor returns r's cursor in order o.
func (o Order) Cursor(r Recipient) string { return o.cursor(&r) }

// Scope is the viewer's authz.Scope with its restriction decoded: what
// every read adds (and that removed recipients are out, unless an
// administrator asks for them).
type Scope struct {
	// Restriction, when set, limits what the viewer sees.
	Restriction *Filter
	// Admin viewers may see removed recipients and browse imports.
	Admin bool
}

// scopeOf returns what viewer v may see.
func scopeOf(v *authz.Viewer) (*Scope, error) {
	if v == nil {
		return nil, apperr.TokenRequired()
	}
	as := v.Scope()
	s := &Scope{Admin: as.Admin}
	if len(as.Restriction) > 0 {
		f, err := DecodeFilter(as.Restriction)
		if err != nil {
			return nil, fmt.Errorf("restriction of user %d: %w", v.UserID, err)
		}
		s.Restriction = f
	}
	return s, nil
}

// keyset adds order o's ORDER BY and, after a cursor, its predicate.
func keyset(o Order, req page.Request, p *Params) (where, orderBy string, err error) {
	keys, ok := orders[o]
	if !ok {
		return "", "", apperr.Invalid("orderBy", "unknown order %q", o)
	}
	exprs := make([]string, len(keys))
	for i, k := range keys {
		exprs[i] = k.expr
	}
	orderBy = strings.Join(exprs, ", ")
	if !req.HasCursor() {
		return "", orderBy, nil
	}
	var raw []json.RawMessage
	if err := req.Cursor(&raw); err != nil || len(raw) != len(keys) {
		return "", "", apperr.Invalid("after", "after is not a cursor for this order")
	}
	params := make([]string, len(keys))
	for i, k := range keys {
		var v any
		if k.num {
			var n int64
			if json.Unmarshal(raw[i], &n) != nil {
				return "", "", apperr.Invalid("after", "after is not a cursor for this order")
			}
			v = n
		} else {
			var s string
			if json.Unmarshal(raw[i], &s) != nil {
				return "", "", apperr.Invalid("after", "after is not a cursor for this order")
			}
			v = s
		}
		params[i] = p.Add(v)
	}
	return "(" + orderBy + ") > (" + strings.Join(params, ", ") + ")", orderBy, nil
}

// Parts are the large parts of a recipient, read only when wanted: most
// pages show names, and contacts and custom fields are JSON that
// PostgreSQL renders and Go copies for every row.
type Parts uint8

const (
	PartContacts     Parts = 1 << iota // phones and emails
	PartCustomFields                   // custom fields
	AllParts         = PartContacts | PartCustomFields
)

// columns are the columns of a Recipient, in scanRecipient's order.
const columns = `r.id, r.import_id, r.external_id, r.type, r.first_name, r.last_name, r.grade, r.grade_rank,
	r.school, r.language, r.phones, r.emails, r.custom_fields, r.row_hash, r.created_at, r.updated_at,
	r.removed_at, r.removed_by_run_id`

// columns are the columns to read for parts (NULL for those left out).
func (ps Parts) columns() string {
	if ps&AllParts == AllParts {
		return columns
	}
	c := columns
	if ps&PartContacts == 0 {
		c = strings.Replace(c, "r.phones, r.emails", "NULL, NULL", 1)
	}
	if ps&PartCustomFields == 0 {
		c = strings.Replace(c, "r.custom_fields", "NULL", 1)
	}
	return c
}

func scanRecipient(row pgx.CollectableRow) (Recipient, error) {
	var r Recipient
	// JSON as []byte: pgx copies it as is (into a json.RawMessage it would
	// run json.Unmarshal, checking what PostgreSQL already checked).
	err := row.Scan(&r.ID, &r.ImportID, &r.ExternalID, &r.Type, &r.FirstName, &r.LastName, &r.Grade, &r.GradeRank,
		&r.School, &r.Language, (*[]byte)(&r.PhonesJSON), (*[]byte)(&r.EmailsJSON), (*[]byte)(&r.CustomFieldsJSON),
		&r.RowHash, &r.CreatedAt, &r.UpdatedAt, &r.RemovedAt, &r.RemovedByRunID)
	return r, err
}

// scanRecipients runs a query of columns with p's numbered parameters
// (values never enter the SQL text: Bun would inline them). It reads with
// pgx directly, not through database/sql and Bun's reflection: pages of
// recipients are the service's hottest path, and that cost a fifth of a
// page's CPU (docs/benchmarks.md).
// At most limit rows are expected; parts are those the query reads.
func scanRecipients(ctx context.Context, d *db.DB, sql string, p *Params, parts Parts, limit int) ([]Recipient, error) {
	rows, err := d.Pool.Query(ctx, sql, p.QueryArgs()...)
	if err != nil {
		return nil, fmt.Errorf("query recipients: %w", err)
	}
	out, err := pgx.AppendRows(make([]Recipient, 0, limit), rows, scanRecipient)
	if err != nil {
		return nil, fmt.Errorf("read recipients: %w", err)
	}
	if parts != AllParts {
		for i := range out {
			out[i].read = parts
		}
	}
	return out, nil
}

// selectPage reads a page of the recipients matching where (with its
// parameters in p), ordered by o, with parts.
func selectPage(ctx context.Context, d *db.DB, where string, p *Params, o Order, parts Parts, req page.Request) (page.Page[Recipient], error) {
	ks, orderBy, err := keyset(o, req, p)
	if err != nil {
		return page.Page[Recipient]{}, err
	}
	if ks != "" {
		where = "(" + where + ") AND " + ks
	}
	sql := "SELECT " + parts.columns() + " FROM recipients AS r WHERE " + where + " ORDER BY " + orderBy + " LIMIT " + p.Add(req.Limit())
	rows, err := scanRecipients(ctx, d, sql, p, parts, int(req.Limit()))
	if err != nil {
		return page.Page[Recipient]{}, err
	}
	return page.Trim(req, rows), nil
}

// countWhere counts the recipients matching where.
func countWhere(ctx context.Context, d *db.DB, where string, p *Params) (int, error) {
	var n int
	if err := d.DB.DB.QueryRowContext(ctx, "SELECT count(*) FROM recipients AS r WHERE "+where, p.QueryArgs()...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count recipients: %w", err)
	}
	return n, nil
}
