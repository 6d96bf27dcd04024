package browser_test

import (
	"testing"

	"github.com/rollcall/rollcall/internal/testkit/testdb"
)

// TestMain stops the private PostgreSQL that the tests against the real
// server start when DATABASE_URL is unset.
func TestMain(m *testing.M) { testdb.Main(m) }
