package imports

import (
	"strings"

	"github.com/cespare/xxhash/v2"
)

// keyIndex finds an import's keys (external ids) among its entries. A Go map
// keyed by string costs about 45 bytes and a heap object per key, all of
// which the garbage collector scans: a million keys held some 100 MB and
// slowed every collection. Here the keys live in one byte arena, and the map
// holds their 64-bit hashes and entry numbers: no pointers, never scanned.
// Two different keys with the same hash (about one chance in 10^7 for a
// million keys) are told apart by comparing the bytes, the second one going
// to a small map of its own.
type keyIndex struct {
	byHash   map[uint64]int32
	overflow map[string]int32
	arena    []byte
	spans    []keySpan // by entry number
}

type keySpan struct{ off, n uint32 }

func newKeyIndex(capacity int) *keyIndex {
	return &keyIndex{byHash: make(map[uint64]int32, capacity), spans: make([]keySpan, 0, capacity), arena: make([]byte, 0, capacity*10)}
}

// len is the number of keys.
func (x *keyIndex) len() int { return len(x.spans) }

// key returns the key of entry i.
func (x *keyIndex) key(i int32) string {
	s := x.spans[i]
	return string(x.arena[s.off : s.off+s.n])
}

func (x *keyIndex) equal(i int32, key string) bool {
	s := x.spans[i]
	return string(x.arena[s.off:s.off+s.n]) == key
}

// find returns the entry number of key.
func (x *keyIndex) find(key string) (int32, bool) {
	if i, ok := x.byHash[xxhash.Sum64String(key)]; ok && x.equal(i, key) {
		return i, true
	}
	if x.overflow != nil {
		i, ok := x.overflow[key]
		return i, ok
	}
	return 0, false
}

// add records key, which must not be present, as the next entry number. The
// key is copied.
func (x *keyIndex) add(key string) int32 {
	i := int32(len(x.spans))
	x.spans = append(x.spans, keySpan{off: uint32(len(x.arena)), n: uint32(len(key))})
	x.arena = append(x.arena, key...)
	h := xxhash.Sum64String(key)
	if _, taken := x.byHash[h]; taken {
		if x.overflow == nil {
			x.overflow = map[string]int32{}
		}
		x.overflow[strings.Clone(key)] = i
	} else {
		x.byHash[h] = i
	}
	return i
}
