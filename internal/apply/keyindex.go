package apply

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
	ends     []uint32 // by entry number: where its key ends in arena
}

func newKeyIndex(capacity int) *keyIndex {
	return &keyIndex{byHash: make(map[uint64]int32, capacity), ends: make([]uint32, 0, capacity), arena: make([]byte, 0, capacity*10)}
}

// len is the number of keys.
func (x *keyIndex) len() int { return len(x.ends) }

func (x *keyIndex) bytes(i int32) []byte {
	start := uint32(0)
	if i > 0 {
		start = x.ends[i-1]
	}
	return x.arena[start:x.ends[i]]
}

// key returns the key of entry i.
func (x *keyIndex) key(i int32) string { return string(x.bytes(i)) }

func (x *keyIndex) equal(i int32, key string) bool { return string(x.bytes(i)) == key }

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
	i := int32(len(x.ends))
	x.arena = append(x.arena, key...)
	x.ends = append(x.ends, uint32(len(x.arena)))
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
