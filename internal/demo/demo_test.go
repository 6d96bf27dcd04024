package demo

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rollcall/rollcall/internal/recipients"
)

func TestDistrictFileIsFictional(t *testing.T) {
	t.Parallel()
	b, err := districtFile()
	require.NoError(t, err)
	records, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	require.NoError(t, err)
	require.Len(t, records, Students+1)
	header := records[0]
	phones := 0
	for _, rec := range records[1:] {
		for i, col := range header {
			if rec[i] == "" {
				continue
			}
			switch {
			case strings.HasSuffix(col, "_phone"):
				n, ok := recipients.NormalizePhone(rec[i])
				require.True(t, ok, rec[i])
				require.Equal(t, "555", n[5:8], "fictional exchange: %s", n)
				require.Equal(t, "01", n[8:10])
				phones++
			case strings.HasSuffix(col, "_email"):
				require.True(t, strings.HasSuffix(strings.TrimSpace(rec[i]), ".example"), rec[i])
			}
		}
	}
	require.Greater(t, phones, Students)
}
