package journal

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"

	"github.com/untorn/untorn/blockdev/internal/logrec"
)

const (
	hdrMagic   = 0x314c4e524a544e55 // "UNTJRNL1" little-endian
	hdrVersion = 1
	hdrLen     = 128 // encoded bytes at the start of a header block
	// hdrCopies header blocks lead the journal device; the record area
	// follows them.
	hdrCopies = logrec.RootCopies
)

// header is the journal's root, kept in two copies (logrec.RootCopy):
// where the log starts, and what the data device holds as of there.
type header struct {
	blockSize int64
	id        uint64 // random at Format: records must carry it
	gen       uint64 // generation: records carry it; new at every reset
	rootSeq   uint64 // counts header writes: copy rootSeq%2 holds this one
	area      int64  // blocks in the record area
	start     int64  // log position (blocks, monotonic in a generation) of the first record to replay
	startSeq  uint64 // its sequence number
	startPrev uint32 // its Prev: the header checksum of the record before it (0 at a reset)
	baseSize  int64  // the file size the data device holds as of start
	logical   int64  // the device's capacity (largest file size)
}

// encode writes h into b (at least hdrLen bytes; the rest is zeroed).
func (h *header) encode(b []byte) {
	clear(b)
	le := binary.LittleEndian
	le.PutUint64(b[0:], hdrMagic)
	le.PutUint32(b[8:], hdrVersion)
	le.PutUint32(b[12:], uint32(h.blockSize))
	le.PutUint64(b[16:], h.id)
	le.PutUint64(b[24:], h.gen)
	le.PutUint64(b[32:], h.rootSeq)
	le.PutUint64(b[40:], uint64(h.area))
	le.PutUint64(b[48:], uint64(h.start))
	le.PutUint64(b[56:], h.startSeq)
	le.PutUint32(b[64:], h.startPrev)
	le.PutUint64(b[72:], uint64(h.baseSize))
	le.PutUint64(b[80:], uint64(h.logical))
	le.PutUint32(b[hdrLen-4:], logrec.CRC(b[:hdrLen-4]))
}

// decodeHeader parses one header copy: ErrNotFormatted when b holds no
// header magic, ErrVersion for another version, ErrCorrupt when the copy
// is damaged or inconsistent.
func decodeHeader(b []byte) (header, error) {
	if len(b) < hdrLen {
		return header{}, fmt.Errorf("%w: header of %d bytes", ErrCorrupt, len(b))
	}
	le := binary.LittleEndian
	if le.Uint64(b[0:]) != hdrMagic {
		return header{}, ErrNotFormatted
	}
	if got, want := logrec.CRC(b[:hdrLen-4]), le.Uint32(b[hdrLen-4:]); got != want {
		return header{}, fmt.Errorf("%w: header checksum %#x, want %#x", ErrCorrupt, got, want)
	}
	if v := le.Uint32(b[8:]); v != hdrVersion {
		return header{}, fmt.Errorf("%w: header version %d, this code reads %d only", ErrVersion, v, hdrVersion)
	}
	h := header{
		blockSize: int64(le.Uint32(b[12:])),
		id:        le.Uint64(b[16:]),
		gen:       le.Uint64(b[24:]),
		rootSeq:   le.Uint64(b[32:]),
		area:      int64(le.Uint64(b[40:]) & math.MaxInt64),
		start:     int64(le.Uint64(b[48:]) & math.MaxInt64),
		startSeq:  le.Uint64(b[56:]),
		startPrev: le.Uint32(b[64:]),
		baseSize:  int64(le.Uint64(b[72:]) & math.MaxInt64),
		logical:   int64(le.Uint64(b[80:]) & math.MaxInt64),
	}
	bad := func(what string, v int64) (header, error) {
		return header{}, fmt.Errorf("%w: header %s %d", ErrCorrupt, what, v)
	}
	switch {
	case h.blockSize < 512 || h.blockSize > 1<<20 || bits.OnesCount64(uint64(h.blockSize)) != 1:
		return bad("block size", h.blockSize)
	case h.area < minAreaBlocks || h.area > math.MaxInt64/h.blockSize-hdrCopies:
		return bad("area blocks", h.area)
	case h.startSeq == 0 || h.startSeq > math.MaxInt64:
		return bad("start sequence", int64(h.startSeq&math.MaxInt64))
	case h.logical < h.blockSize || h.logical%h.blockSize != 0 || h.logical/h.blockSize > math.MaxUint32:
		return bad("logical size", h.logical)
	case h.baseSize > h.logical:
		return bad("base size", h.baseSize)
	case h.start > math.MaxInt64/2:
		return bad("start", h.start)
	}
	return h, nil
}
