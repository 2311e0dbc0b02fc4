package crashmodel

import "encoding/binary"

// Fill fills p, meant to be written at device offset off by the write with
// the given id, with words that name both: the 8-byte word at device offset
// o holds id<<40 | o>>3. Blocks written by different writes, or at different
// offsets, never hold the same bytes (for ids below 2^24 and offsets below
// 8 TiB), which is what Check needs. len(p) and off should be multiples of 8.
func Fill(p []byte, id uint64, off int64) {
	for i := 0; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], Word(id, off+int64(i)))
	}
}

// Word returns the word Fill stores at device offset o for write id.
func Word(id uint64, o int64) uint64 { return id<<40 | uint64(o)>>3&(1<<40-1) }

// WordID returns the write id of a word made by Word; 0 for a zero word
// (ids start at 1 by convention, so 0 means "never written").
func WordID(w uint64) uint64 { return w >> 40 }
