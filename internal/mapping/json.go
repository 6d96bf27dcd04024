package mapping

import "github.com/go-json-experiment/json/jsontext"

// appendJSONString appends s as a JSON string. Almost every value in a
// district file needs no escaping; those are copied as they are, the rest
// go through jsontext. Values are valid UTF-8 by then (see importfile.Reader).
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' {
			b, _ = jsontext.AppendQuote(b, s)
			return b
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
