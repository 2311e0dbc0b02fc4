package cow

import (
	"encoding/binary"
	"fmt"
	"math"
)

const (
	recMagic     = 0x43525455 // "UTRC" little-endian
	recVersion   = 1
	recHeaderLen = 64 // fixed part; extents follow
	extentLen    = 8

	// recMore marks a record whose transaction continues in the next
	// record: replay applies a transaction only once its last record (the
	// one without recMore) is valid.
	recMore = 1 << 0
	// recClean marks a record written by the cleaner (informational).
	recClean = 1 << 1
)

// extent is a run of logical blocks whose data lies consecutively in a
// record's data area.
type extent struct {
	lblock uint32 // first logical block
	count  uint32 // blocks
}

// recordHeader is the first block(s) of a record: what it maps and the
// checksum of the data that follows it.
type recordHeader struct {
	flags      uint16
	hdrBlocks  int64
	seq        uint64
	epoch      uint64
	devID      uint64
	next       int64 // physical block of the next record
	dataBlocks int64
	dataCRC    uint32
	extents    []extent
}

// headerBlocksFor is the number of blocks a header with n extents takes.
func headerBlocksFor(n int, bs int64) int64 {
	return ceilDiv(recHeaderLen+extentLen*int64(n), bs)
}

// maxExtentsIn is the most extents a header of h blocks holds.
func maxExtentsIn(h, bs int64) int { return int((h*bs - recHeaderLen) / extentLen) }

// encode writes r's header into b (exactly r.hdrBlocks blocks).
func (r *recordHeader) encode(b []byte) {
	clear(b)
	le := binary.LittleEndian
	le.PutUint32(b[0:], recMagic)
	le.PutUint16(b[4:], recVersion)
	le.PutUint16(b[6:], r.flags)
	le.PutUint32(b[8:], uint32(r.hdrBlocks))
	le.PutUint32(b[12:], uint32(len(r.extents)))
	le.PutUint64(b[16:], r.seq)
	le.PutUint64(b[24:], r.epoch)
	le.PutUint64(b[32:], r.devID)
	le.PutUint64(b[40:], uint64(r.next))
	le.PutUint32(b[48:], uint32(r.dataBlocks))
	le.PutUint32(b[52:], r.dataCRC)
	for i, e := range r.extents {
		o := recHeaderLen + extentLen*i
		le.PutUint32(b[o:], e.lblock)
		le.PutUint32(b[o+4:], e.count)
	}
	sum := crc(b[:60])
	sum = crc32Update(sum, b[recHeaderLen:recHeaderLen+extentLen*len(r.extents)])
	le.PutUint32(b[60:], sum)
}

// decodeRecordHeader parses the header at the start of b, of which bs is
// the block size. It returns an error wrapping ErrCorrupt when b holds no
// valid header (a torn or stale record, or none at all): replay stops
// there. The extents are checked for shape (non-empty, ascending, disjoint,
// summing to dataBlocks), not against a device's size.
func decodeRecordHeader(b []byte, bs int64) (recordHeader, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: record: "+format, append([]any{ErrCorrupt}, args...)...)
	}
	if len(b) < recHeaderLen || bs < recHeaderLen+extentLen {
		return recordHeader{}, bad("%d bytes", len(b))
	}
	le := binary.LittleEndian
	if le.Uint32(b[0:]) != recMagic {
		return recordHeader{}, bad("no magic")
	}
	if v := le.Uint16(b[4:]); v != recVersion {
		return recordHeader{}, bad("version %d", v)
	}
	r := recordHeader{
		flags:      le.Uint16(b[6:]),
		hdrBlocks:  int64(le.Uint32(b[8:])),
		seq:        le.Uint64(b[16:]),
		epoch:      le.Uint64(b[24:]),
		devID:      le.Uint64(b[32:]),
		next:       int64(le.Uint64(b[40:]) & math.MaxInt64),
		dataBlocks: int64(le.Uint32(b[48:])),
		dataCRC:    le.Uint32(b[52:]),
	}
	n := int(le.Uint32(b[12:]))
	if n < 1 || r.hdrBlocks != headerBlocksFor(n, bs) || int64(len(b)) < r.hdrBlocks*bs {
		return recordHeader{}, bad("%d extents in %d header blocks (%d bytes available)", n, r.hdrBlocks, len(b))
	}
	ext := b[recHeaderLen : recHeaderLen+extentLen*n]
	if got, want := crc32Update(crc(b[:60]), ext), le.Uint32(b[60:]); got != want {
		return recordHeader{}, bad("header checksum %#x, want %#x", got, want)
	}
	r.extents = make([]extent, n)
	var sum, end int64
	for i := range r.extents {
		e := extent{lblock: le.Uint32(ext[extentLen*i:]), count: le.Uint32(ext[extentLen*i+4:])}
		if e.count == 0 || int64(e.lblock) < end {
			return recordHeader{}, bad("extent %d [%d, +%d) empty or out of order", i, e.lblock, e.count)
		}
		end = int64(e.lblock) + int64(e.count)
		sum += int64(e.count)
		r.extents[i] = e
	}
	if sum != r.dataBlocks {
		return recordHeader{}, bad("extents hold %d blocks, header says %d", sum, r.dataBlocks)
	}
	return r, nil
}
