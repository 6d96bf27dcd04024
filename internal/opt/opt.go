// Package opt has the one helper optional values (pointers) need that Go
// does not give: reading one with a default. (Making one is new(v).)
package opt

// Deref returns the value p points at, or T's zero value when p is nil.
func Deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
