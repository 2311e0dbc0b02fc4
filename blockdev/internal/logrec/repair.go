package logrec

import (
	"encoding/binary"
	"math/bits"
)

// Repairing a single flipped bit at the end of the log.
//
// The records written since the last flush before a crash may be torn, and
// nothing later proves they had been durable, so a record there that fails
// its checksum is normally the end of the log. But a torn write replaces
// whole blocks with what was there before; it does not flip one bit. A
// CRC-32C locates a single flipped bit in a message of up to many
// kilobytes, so a record whose only defect is one flipped bit (in its
// header, or in one data block) is recognised, corrected and replayed:
// the data a Sync made durable is not lost to a bit flip, and a record
// that was merely torn is never mistaken for one (at worst a torn record
// whose lost block differed from the old content by one bit is completed,
// which is one of the outcomes a crash allows anyway).

// LocateFlip finds the bit whose flip turns a message's CRC-32C into
// another: for a message of n bytes, the syndrome crc(msg) ^ want of a
// single flipped bit i depends only on n and i.
//
// syndromes of bit b of byte k are generated from the end of the message:
// a set bit followed by m zero bytes, through the table, m = 0, 1, ...
func LocateFlip(msg []byte, want uint32) (int, bool) {
	syn := CRC(msg) ^ want
	if syn == 0 {
		return 0, false
	}
	var s [8]uint32
	for b := range s {
		s[b] = castagnoli[1<<b]
	}
	for m := range len(msg) {
		k := len(msg) - 1 - m
		for b := range s {
			if s[b] == syn {
				return 8*k + b, true
			}
			s[b] = castagnoli[byte(s[b])] ^ (s[b] >> 8)
		}
	}
	return 0, false
}

// ToggleBit flips bit i (bit i%8 of byte i/8) of p.
func ToggleBit(p []byte, i int) { p[i/8] ^= 1 << (i % 8) }

// RepairHeader tries to read the record header at the start of b (a copy
// the caller owns) as a current one that has one flipped bit: in the fixed
// part (tried bit by bit), in its extents or block sums (located by the
// header checksum), or in the checksum itself. It corrects b and returns
// the header when a single flip makes it valid and current
// (current reports whether a header is this device's, epoch and
// sequence number).
func RepairHeader(b []byte, bs int64, current func(*Header) bool) (Header, bool) {
	try := func() (Header, bool) {
		r, err := DecodeHeader(b, bs)
		return r, err == nil && current(&r)
	}
	if r, ok := try(); ok {
		return r, true // the header is intact
	}
	le := binary.LittleEndian
	if len(b) < HeaderLen {
		return Header{}, false
	}
	// With its lengths intact, the header's checksum locates the flip.
	n, d := int64(le.Uint32(b[12:])), int64(le.Uint32(b[48:]))
	if end := HeaderLen + ExtentLen*n + BlockSumLen*d; n >= 1 && d >= 1 && end <= int64(len(b)) {
		msg := make([]byte, 0, end-4)
		msg = append(append(msg, b[:CRCAt]...), b[HeaderLen:end]...)
		stored := le.Uint32(b[CRCAt:])
		if syn := CRC(msg) ^ stored; bits.OnesCount32(syn) == 1 {
			le.PutUint32(b[CRCAt:], stored^syn) // the flip is in the checksum
			if r, ok := try(); ok {
				return r, true
			}
			le.PutUint32(b[CRCAt:], stored)
		}
		if i, ok := LocateFlip(msg, stored); ok {
			at := i
			if i >= 8*CRCAt {
				at += 8 * (HeaderLen - CRCAt)
			}
			ToggleBit(b, at)
			if r, ok := try(); ok {
				return r, true
			}
			ToggleBit(b, at)
		}
	}
	// A flip in a length field: try each bit of the fixed part.
	for i := range 8 * CRCAt {
		ToggleBit(b, i)
		if r, ok := try(); ok {
			return r, true
		}
		ToggleBit(b, i)
	}
	return Header{}, false
}

// RepairData corrects one flipped bit in the data of record r, data being
// its data blocks (a copy the caller owns). The block sums locate the
// block (exactly one must differ), its sum the bit, and the record's data
// checksum confirms the correction. It returns the index of the corrected
// block.
func RepairData(r *Header, data []byte, bs int64) (int64, bool) {
	bad := int64(-1)
	for i := range r.DataBlocks {
		if CRC(data[i*bs:(i+1)*bs]) != r.Sums[i] {
			if bad >= 0 {
				return 0, false // two damaged blocks: torn
			}
			bad = i
		}
	}
	if bad < 0 {
		return 0, false
	}
	blk := data[bad*bs : (bad+1)*bs]
	i, ok := LocateFlip(blk, r.Sums[bad])
	if !ok {
		return 0, false
	}
	ToggleBit(blk, i)
	if CRC(data) != r.DataCRC {
		ToggleBit(blk, i)
		return 0, false
	}
	return bad, true
}
