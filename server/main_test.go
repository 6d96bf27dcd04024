package server_test

import (
	"testing"

	"github.com/rollcall/rollcall/internal/testkit/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }
