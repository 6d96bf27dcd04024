package db

import (
	"database/sql"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// PostgreSQL error codes the domain reacts to.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
	codeCheckViolation      = "23514"
	codeQueryCanceled       = "57014"
	codeLockNotAvailable    = "55P03"
)

// pgError returns the PostgreSQL error in err's chain.
func pgError(err error) (*pgconn.PgError, bool) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr, true
	}
	return nil, false
}

// IsNoRows reports whether err means a query found no row.
func IsNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// IsUniqueViolation reports whether err is a unique violation of constraint
// (any unique constraint when constraint is empty).
func IsUniqueViolation(err error, constraint string) bool {
	return isViolation(err, codeUniqueViolation, constraint)
}

// IsForeignKeyViolation reports whether err is a foreign-key violation of
// constraint (any when empty).
func IsForeignKeyViolation(err error, constraint string) bool {
	return isViolation(err, codeForeignKeyViolation, constraint)
}

// IsCheckViolation reports whether err is a check violation of constraint
// (any when empty).
func IsCheckViolation(err error, constraint string) bool {
	return isViolation(err, codeCheckViolation, constraint)
}

// IsQueryCanceled reports whether the server canceled the statement (a
// statement timeout or a canceled context).
func IsQueryCanceled(err error) bool {
	pgErr, ok := pgError(err)
	return ok && pgErr.Code == codeQueryCanceled
}

// IsLockNotAvailable reports whether a lock asked for with NOWAIT was
// taken by another transaction.
func IsLockNotAvailable(err error) bool {
	pgErr, ok := pgError(err)
	return ok && pgErr.Code == codeLockNotAvailable
}

func isViolation(err error, code, constraint string) bool {
	pgErr, ok := pgError(err)
	return ok && pgErr.Code == code && (constraint == "" || pgErr.ConstraintName == constraint)
}

// EscapeLike escapes the LIKE wildcards in s, so that user text is matched
// literally inside a LIKE pattern (with the default backslash escape).
func EscapeLike(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r == '%' || r == '_' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// IgnoreNoRows returns nil for "no rows", err otherwise: for reads where
// finding nothing is an answer, not a failure.
func IgnoreNoRows(err error) error {
	if IsNoRows(err) {
		return nil
	}
	return err
}
