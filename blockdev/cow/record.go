package cow

import (
	"encoding/binary"
	"fmt"
	"math"
)

const (
	recMagic     = 0x43525455 // "UTRC" little-endian
	recVersion   = 3
	recHeaderLen = 96 // fixed part; extents, then block checksums follow
	extentLen    = 8
	blockSumLen  = 4 // one CRC-32C per data block
	recCRCAt     = recHeaderLen - 4

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
	dataCRC    uint32 // of all the data as written: a torn record fails it
	// durableSeq: every record with a lower sequence number had been
	// flushed when this one was written. A later record claiming that a
	// damaged one was durable proves corruption, not a torn tail.
	durableSeq uint64
	// cut and size are the file size change the transaction makes (every
	// record of a transaction carries the same): the file is first cut to
	// cut bytes (logical blocks from ceil(cut/bs) on are unmapped), then
	// the extents are applied, then the file size becomes size. A
	// transaction that changes no size has cut = size = the size before.
	cut, size int64
	extents   []extent
	sums      []uint32 // CRC-32C of each data block's content, in order
}

// headerBlocksFor is the number of blocks a header with n extents over
// data blocks takes.
func headerBlocksFor(n int, data, bs int64) int64 {
	return ceilDiv(recHeaderLen+extentLen*int64(n)+blockSumLen*data, bs)
}

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
	le.PutUint64(b[56:], r.durableSeq)
	le.PutUint64(b[64:], uint64(r.cut))
	le.PutUint64(b[72:], uint64(r.size))
	for i, e := range r.extents {
		o := recHeaderLen + extentLen*i
		le.PutUint32(b[o:], e.lblock)
		le.PutUint32(b[o+4:], e.count)
	}
	so := recHeaderLen + extentLen*len(r.extents)
	for i, v := range r.sums {
		le.PutUint32(b[so+blockSumLen*i:], v)
	}
	sum := crc(b[:recCRCAt])
	sum = crc32Update(sum, b[recHeaderLen:so+blockSumLen*len(r.sums)])
	le.PutUint32(b[recCRCAt:], sum)
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
		return recordHeader{}, bad("version %d", v) // a version-1 device is refused by its superblock first
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
		durableSeq: le.Uint64(b[56:]),
		cut:        int64(le.Uint64(b[64:]) & math.MaxInt64),
		size:       int64(le.Uint64(b[72:]) & math.MaxInt64),
	}
	n := int(le.Uint32(b[12:]))
	// A record without data changes the file size only.
	if n < 0 || (n == 0) != (r.dataBlocks == 0) || r.hdrBlocks != headerBlocksFor(n, r.dataBlocks, bs) || int64(len(b)) < r.hdrBlocks*bs {
		return recordHeader{}, bad("%d extents and %d data blocks in %d header blocks (%d bytes available)",
			n, r.dataBlocks, r.hdrBlocks, len(b))
	}
	ext := b[recHeaderLen : recHeaderLen+extentLen*n]
	sums := b[recHeaderLen+extentLen*n : recHeaderLen+extentLen*n+blockSumLen*int(r.dataBlocks)]
	if got, want := crc32Update(crc32Update(crc(b[:recCRCAt]), ext), sums), le.Uint32(b[recCRCAt:]); got != want {
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
	r.sums = make([]uint32, r.dataBlocks)
	for i := range r.sums {
		r.sums[i] = le.Uint32(sums[blockSumLen*i:])
	}
	return r, nil
}

// recordHeaderBlocks returns how many header blocks the record header at
// the start of b says it has, or 0 when b does not start with one. It
// checks nothing else (decodeRecordHeader does).
func recordHeaderBlocks(b []byte) int64 {
	le := binary.LittleEndian
	if len(b) < recHeaderLen || le.Uint32(b[0:]) != recMagic {
		return 0
	}
	return int64(le.Uint32(b[8:]))
}

// logicalBlock returns the logical block of the record's i-th data block.
func (r *recordHeader) logicalBlock(i int64) int64 {
	for _, e := range r.extents {
		if i < int64(e.count) {
			return int64(e.lblock) + i
		}
		i -= int64(e.count)
	}
	return -1
}
