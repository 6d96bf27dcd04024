package recipients

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// What a OneRoster import (internal/oneroster) keeps besides recipients,
// as records of oneroster_records, read here for recipients: the classes a
// person is enrolled in, and the links between students and their
// guardians. Recipients are matched to records by import and external id
// (the record's sourcedId). Only current records count (to_run IS NULL).

// Class is a class a recipient is enrolled in.
type Class struct {
	SourcedID string
	Title     string
	ClassCode *string
	// Course is the title of the class's course; School the name of its
	// school (org).
	Course *string
	School *string
	// Periods as the export lists them ("3", "HR", "1-2").
	Periods []string
	// Role is the recipient's role in the class: student, teacher, aide…
	Role string
}

// Classes returns the classes of the recipients with ids that the viewer
// may see, by recipient id, in order of period and title.
func (s *Service) Classes(ctx context.Context, ids []int64) (map[int64][]Class, error) {
	p := &Params{}
	where, err := s.where(ctx, WithIDs(ids), false, p)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT r.id, c.sourced_id, c.data->>'title', c.data->>'classCode', co.data->>'title',
			o.data->>'name', c.data->>'periods', coalesce(e.data->>'role', '')
		FROM recipients AS r
		JOIN oneroster_records e ON e.import_id = r.import_id AND e.entity = 'enrollments' AND e.to_run IS NULL
			AND e.data->>'userSourcedId' = r.external_id
		JOIN oneroster_records c ON c.import_id = r.import_id AND c.entity = 'classes' AND c.to_run IS NULL
			AND c.sourced_id = e.data->>'classSourcedId'
		LEFT JOIN oneroster_records co ON co.import_id = r.import_id AND co.entity = 'courses' AND co.to_run IS NULL
			AND co.sourced_id = c.data->>'courseSourcedId'
		LEFT JOIN oneroster_records o ON o.import_id = r.import_id AND o.entity = 'orgs' AND o.to_run IS NULL
			AND o.sourced_id = c.data->>'schoolSourcedId'
		WHERE `+where+`
		ORDER BY r.id, c.data->>'periods', c.data->>'title', c.sourced_id`, p.QueryArgs()...)
	if err != nil {
		return nil, fmt.Errorf("read classes: %w", err)
	}
	out := map[int64][]Class{}
	var id int64
	var periods *string
	var cl Class
	_, err = pgx.ForEachRow(rows, []any{&id, &cl.SourcedID, &cl.Title, &cl.ClassCode, &cl.Course, &cl.School, &periods, &cl.Role}, func() error {
		cl.Periods = splitList(periods)
		out[id] = append(out[id], cl)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read classes: %w", err)
	}
	return out, nil
}

// splitList splits a OneRoster list ("1,2"), trimming its items.
func splitList(s *string) []string {
	out := []string{}
	if s == nil {
		return out
	}
	for _, v := range strings.Split(*s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// Guardians returns the guardians (parents, guardians, relatives) linked
// to the recipients with ids, by recipient id, in the order the export
// lists them: those the viewer may see.
func (s *Service) Guardians(ctx context.Context, ids []int64) (map[int64][]Recipient, error) {
	return s.linked(ctx, ids, "student", "guardian")
}

// Students returns the students linked to the recipients with ids (their
// guardians), by recipient id: those the viewer may see.
func (s *Service) Students(ctx context.Context, ids []int64) (map[int64][]Recipient, error) {
	return s.linked(ctx, ids, "guardian", "student")
}

// linked returns, for each recipient of ids, the recipients a guardian link
// joins it to (from its side, to the other), within the viewer's scope.
func (s *Service) linked(ctx context.Context, ids []int64, from, to string) (map[int64][]Recipient, error) {
	p := &Params{}
	// Both ends must be people the viewer may see: the one asked about
	// (o: one of ids, checked here although every caller read it within
	// the viewer's scope) and the other (r).
	asked, err := s.where(ctx, WithIDs(ids), false, p)
	if err != nil {
		return nil, err
	}
	where, err := s.where(ctx, Everyone(), false, p)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT o.id, r.id
		FROM recipients AS o
		JOIN oneroster_records l ON l.import_id = o.import_id AND l.entity = 'guardians' AND l.to_run IS NULL
			AND l.data->>`+quote(from)+` = o.external_id
		JOIN recipients AS r ON r.import_id = o.import_id AND r.external_id = l.data->>`+quote(to)+`
		WHERE o.id IN (SELECT r.id FROM recipients AS r WHERE `+asked+`) AND `+where+`
		ORDER BY o.id, (l.data->>'ord')::int, r.id`, p.QueryArgs()...)
	if err != nil {
		return nil, fmt.Errorf("read guardian links: %w", err)
	}
	type pair struct{ owner, other int64 }
	pairs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (pair, error) {
		var pr pair
		return pr, row.Scan(&pr.owner, &pr.other)
	})
	if err != nil {
		return nil, fmt.Errorf("read guardian links: %w", err)
	}
	if len(pairs) == 0 {
		return map[int64][]Recipient{}, nil
	}
	others := make([]int64, len(pairs))
	for i, pr := range pairs {
		others[i] = pr.other
	}
	people, err := s.byIDs(ctx, others, false)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]Recipient, len(people))
	for _, r := range people {
		byID[r.ID] = r
	}
	out := map[int64][]Recipient{}
	for _, pr := range pairs {
		if r, ok := byID[pr.other]; ok {
			out[pr.owner] = append(out[pr.owner], r)
		}
	}
	return out, nil
}

// quote quotes one of the link's fixed keys as an SQL literal.
func quote(key string) string { return "'" + key + "'" }
