package apply

import (
	"github.com/cespare/xxhash/v2"
)

// keyIndex finds an import's keys (external ids) among its entries. A Go map
// keyed by string costs about 45 bytes and a heap object per key, all of
// which the garbage collector scans; a map from 64-bit hashes to entry
// numbers still 20 to 40 bytes a key. Here the keys live in one byte arena,
// and an open-addressing table of 8-byte slots (linear probing, at most
// three quarters full) holds each key's entry number and the high 32 bits
// of its hash: 11 to 21 bytes a key, no pointers, and keys that share a
// hash are told apart by their bytes. Written here because no maintained
// Go package offers a table over keys stored outside it.
type keyIndex struct {
	// slots: 0 is empty; else entry number + 1 in the low 32 bits, the
	// key hash's high 32 bits in the high ones.
	slots []uint64
	arena []byte
	ends  []uint32 // by entry number: where its key ends in arena
}

func newKeyIndex(capacity int) *keyIndex {
	return &keyIndex{slots: make([]uint64, slotsFor(capacity)), ends: make([]uint32, 0, capacity), arena: make([]byte, 0, capacity*10)}
}

// slotsFor is the table size for n keys: a power of two, at most three
// quarters full.
func slotsFor(n int) int {
	s := 16
	for s*3 < n*4 {
		s <<= 1
	}
	return s
}

// len is the number of keys.
func (x *keyIndex) len() int { return len(x.ends) }

// size is what the index holds in memory, in bytes.
func (x *keyIndex) size() int64 {
	return int64(cap(x.slots))*8 + int64(cap(x.arena)) + int64(cap(x.ends))*4
}

func (x *keyIndex) bytes(i int32) []byte {
	start := uint32(0)
	if i > 0 {
		start = x.ends[i-1]
	}
	return x.arena[start:x.ends[i]]
}

// key returns the key of entry i.
func (x *keyIndex) key(i int32) string { return string(x.bytes(i)) }

// find returns the entry number of key.
func (x *keyIndex) find(key string) (int32, bool) {
	return x.findHashed(key, xxhash.Sum64String(key))
}

// findHashed is find, given the key's hash.
func (x *keyIndex) findHashed(key string, h uint64) (int32, bool) {
	mask := uint64(len(x.slots) - 1)
	for j := h & mask; ; j = (j + 1) & mask {
		s := x.slots[j]
		if s == 0 {
			return 0, false
		}
		if i := int32(uint32(s)) - 1; s>>32 == h>>32 && string(x.bytes(i)) == key {
			return i, true
		}
	}
}

// add records key, which must not be present, as the next entry number. The
// key is copied.
func (x *keyIndex) add(key string) int32 {
	return x.addHashed(key, xxhash.Sum64String(key))
}

// addHashed is add, given the key's hash (tests give two keys one hash).
func (x *keyIndex) addHashed(key string, h uint64) int32 {
	i := int32(len(x.ends))
	x.arena = append(x.arena, key...)
	x.ends = append(x.ends, uint32(len(x.arena)))
	if len(x.ends)*4 > len(x.slots)*3 {
		// Rehash into a table twice the size, recomputing every hash
		// from the arena (tests' forced hashes do not survive this).
		x.slots = make([]uint64, len(x.slots)*2)
		for k := range x.ends[:i] {
			x.place(xxhash.Sum64(x.bytes(int32(k))), int32(k))
		}
	}
	x.place(h, i)
	return i
}

// place puts entry i, whose key hashes to h, in the first free slot from
// its own.
func (x *keyIndex) place(h uint64, i int32) {
	mask := uint64(len(x.slots) - 1)
	for j := h & mask; ; j = (j + 1) & mask {
		if x.slots[j] == 0 {
			x.slots[j] = h>>32<<32 | uint64(uint32(i)+1)
			return
		}
	}
}
