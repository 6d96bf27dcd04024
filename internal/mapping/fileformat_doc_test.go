package mapping

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// fileFormatDoc is the written-down import file format.
var fileFormatDoc = filepath.Join("..", "..", "docs", "file-format.md")

// The headings of the sections whose tables list the header names, one
// row per field ("| `externalId` | `externalid`, `studentid`, … |").
const (
	recipientHeaderNamesHeading = "### Recipient imports: header names"
	userHeaderNamesHeading      = "### USER imports: header names"
)

// TestFileFormatDocListsEverySynonym keeps docs/file-format.md true to the
// synonym tables: every header key that maps a column to a field (synonyms,
// userSynonyms) must appear, in backticks, in that field's row of the
// document's table, and every word dropped from labels (labelWordsDropped)
// somewhere in backticks. A synonym added to the code without the document
// fails here, naming it.
func TestFileFormatDocListsEverySynonym(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(fileFormatDoc)
	if err != nil {
		t.Fatalf("read %s: %v", fileFormatDoc, err)
	}
	doc := string(raw)
	var missing []string

	// check looks for each field's row (fields[i] with synonyms syns[i])
	// in the table under heading.
	check := func(heading string, fields []string, syns [][]string) {
		section, ok := docSection(doc, heading)
		if !ok {
			missing = append(missing, fmt.Sprintf("the section %q, with a table row per field (%s) listing its header names",
				heading, strings.Join(fields, ", ")))
			return
		}
		for i, field := range fields {
			row, ok := tableRow(section, field)
			if !ok {
				missing = append(missing, fmt.Sprintf("under %q: a table row for field %s (a line starting \"| `%s`\"), listing %s",
					heading, field, field, strings.Join(syns[i], ", ")))
				continue
			}
			for _, syn := range syns[i] {
				if !strings.Contains(row, "`"+syn+"`") {
					missing = append(missing, fmt.Sprintf("under %q: header name `%s` in the row of field %s", heading, syn, field))
				}
			}
		}
	}
	var fields []string
	var syns [][]string
	for kind := fieldKind(0); kind < numSingleFields; kind++ {
		fields, syns = append(fields, kind.String()), append(syns, synonyms[kind])
	}
	check(recipientHeaderNamesHeading, fields, syns)
	fields, syns = nil, nil
	for f := UserField(0); f < numUserFields; f++ {
		fields, syns = append(fields, f.String()), append(syns, userSynonyms[f])
	}
	check(userHeaderNamesHeading, fields, syns)

	words := make([]string, 0, len(labelWordsDropped))
	for w := range labelWordsDropped {
		words = append(words, w)
	}
	sort.Strings(words)
	for _, w := range words {
		if !strings.Contains(doc, "`"+w+"`") {
			missing = append(missing, fmt.Sprintf("the word `%s`, which labels made from headers drop", w))
		}
	}

	if len(missing) > 0 {
		t.Errorf("%s does not list what the mapping code recognizes; add:\n  %s", fileFormatDoc, strings.Join(missing, "\n  "))
	}
}

// docSection returns the text under heading, up to the next heading of the
// same or a higher level.
func docSection(doc, heading string) (string, bool) {
	lines := strings.Split(doc, "\n")
	level := len(heading) - len(strings.TrimLeft(heading, "#"))
	for i, line := range lines {
		if strings.TrimSpace(line) != heading {
			continue
		}
		end := len(lines)
		for j := i + 1; j < len(lines); j++ {
			if l := headingLevel(lines[j]); l > 0 && l <= level {
				end = j
				break
			}
		}
		return strings.Join(lines[i+1:end], "\n"), true
	}
	return "", false
}

// headingLevel is the level of a Markdown heading line, or 0.
func headingLevel(line string) int {
	n := len(line) - len(strings.TrimLeft(line, "#"))
	if n == 0 || n == len(line) || line[n] != ' ' {
		return 0
	}
	return n
}

// tableRow returns the table row of section whose first cell is field, in
// backticks.
func tableRow(section, field string) (string, bool) {
	prefix := "| `" + field + "`"
	for _, line := range strings.Split(section, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), prefix) {
			return line, true
		}
	}
	return "", false
}
