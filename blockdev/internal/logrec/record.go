package logrec

import (
	"encoding/binary"
	"fmt"
	"github.com/untorn/untorn/blockdev"
	"math"
)

const (
	Magic       = 0x43525455 // "UTRC" little-endian
	Version     = 3
	HeaderLen   = 96 // fixed part; extents, then block checksums follow
	ExtentLen   = 8
	BlockSumLen = 4 // one CRC-32C per data block
	CRCAt       = HeaderLen - 4

	// FlagMore marks a record whose transaction continues in the next
	// record: replay applies a transaction only once its last record (the
	// one without FlagMore) is valid.
	FlagMore = 1 << 0
	// FlagClean marks a record written by the cleaner (informational).
	FlagClean = 1 << 1
)

// Extent is a run of logical blocks whose data lies consecutively in a
// record's data area.
type Extent struct {
	LBlock uint32 // first logical block
	Count  uint32 // blocks
}

// Header is the first block(s) of a record: what it maps and the
// checksum of the data that follows it. The COW container (blockdev/cow)
// and the side journal (blockdev/journal) write the same records; the
// fields whose meaning differs say so.
type Header struct {
	Flags     uint16
	HdrBlocks int64
	Seq       uint64
	// Epoch: the container's epoch (bumped by every Open), or the
	// journal's generation (new at every reset).
	Epoch uint64
	DevID uint64 // random at Format: a record of another device never passes
	// Next: in the container, the physical block of the next record; in
	// the journal, the log position (in blocks) of the next record, which
	// places this one.
	Next       int64
	DataBlocks int64
	DataCRC    uint32 // of all the data as written: a torn record fails it
	// DurableSeq: every record with a lower sequence number had been
	// flushed when this one was written. A later record claiming that a
	// damaged one was durable proves corruption, not a torn tail.
	DurableSeq uint64
	// Cut and Size are the file size change the transaction makes (every
	// record of a transaction carries the same): the file is first cut to
	// Cut bytes (logical blocks from ceil(Cut/bs) on are unmapped), then
	// the extents are applied, then the file size becomes Size. A
	// transaction that changes no size has Cut = Size = the size before.
	Cut, Size int64
	// Prev: in the journal, the header checksum of the record before this
	// one (0 for the first after the start): a record left behind by a
	// write that failed and was written again never passes as the
	// successor of the new one. The container writes 0.
	Prev    uint32
	Extents []Extent
	Sums    []uint32 // CRC-32C of each data block's content, in order
}

// HeaderBlocksFor is the number of blocks a header with n extents over
// data blocks takes.
func HeaderBlocksFor(n int, data, bs int64) int64 {
	return ceilDiv(HeaderLen+ExtentLen*int64(n)+BlockSumLen*data, bs)
}

// Encode writes r's header into b (exactly r.HdrBlocks blocks) and
// returns its header checksum (what the next journal record's Prev holds).
func (r *Header) Encode(b []byte) uint32 {
	clear(b)
	le := binary.LittleEndian
	le.PutUint32(b[0:], Magic)
	le.PutUint16(b[4:], Version)
	le.PutUint16(b[6:], r.Flags)
	le.PutUint32(b[8:], uint32(r.HdrBlocks))
	le.PutUint32(b[12:], uint32(len(r.Extents)))
	le.PutUint64(b[16:], r.Seq)
	le.PutUint64(b[24:], r.Epoch)
	le.PutUint64(b[32:], r.DevID)
	le.PutUint64(b[40:], uint64(r.Next))
	le.PutUint32(b[48:], uint32(r.DataBlocks))
	le.PutUint32(b[52:], r.DataCRC)
	le.PutUint64(b[56:], r.DurableSeq)
	le.PutUint64(b[64:], uint64(r.Cut))
	le.PutUint64(b[72:], uint64(r.Size))
	le.PutUint32(b[80:], r.Prev)
	for i, e := range r.Extents {
		o := HeaderLen + ExtentLen*i
		le.PutUint32(b[o:], e.LBlock)
		le.PutUint32(b[o+4:], e.Count)
	}
	so := HeaderLen + ExtentLen*len(r.Extents)
	for i, v := range r.Sums {
		le.PutUint32(b[so+BlockSumLen*i:], v)
	}
	sum := CRC(b[:CRCAt])
	sum = CRCUpdate(sum, b[HeaderLen:so+BlockSumLen*len(r.Sums)])
	le.PutUint32(b[CRCAt:], sum)
	return sum
}

// HeaderCRC returns the header checksum stored in the encoded header at the
// start of b (at least HeaderLen bytes).
func HeaderCRC(b []byte) uint32 { return binary.LittleEndian.Uint32(b[CRCAt:]) }

// DecodeHeader parses the header at the start of b, of which bs is
// the block size. It returns an error wrapping ErrCorrupt when b holds no
// valid header (a torn or stale record, or none at all): replay stops
// there. The extents are checked for shape (non-empty, ascending, disjoint,
// summing to dataBlocks), not against a device's size.
func DecodeHeader(b []byte, bs int64) (Header, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: record: "+format, append([]any{blockdev.ErrCorrupt}, args...)...)
	}
	if len(b) < HeaderLen || bs < HeaderLen+ExtentLen {
		return Header{}, bad("%d bytes", len(b))
	}
	le := binary.LittleEndian
	if le.Uint32(b[0:]) != Magic {
		return Header{}, bad("no magic")
	}
	if v := le.Uint16(b[4:]); v != Version {
		return Header{}, bad("version %d", v) // a version-1 device is refused by its superblock first
	}
	r := Header{
		Flags:      le.Uint16(b[6:]),
		HdrBlocks:  int64(le.Uint32(b[8:])),
		Seq:        le.Uint64(b[16:]),
		Epoch:      le.Uint64(b[24:]),
		DevID:      le.Uint64(b[32:]),
		Next:       int64(le.Uint64(b[40:]) & math.MaxInt64),
		DataBlocks: int64(le.Uint32(b[48:])),
		DataCRC:    le.Uint32(b[52:]),
		DurableSeq: le.Uint64(b[56:]),
		Cut:        int64(le.Uint64(b[64:]) & math.MaxInt64),
		Prev:       le.Uint32(b[80:]),
		Size:       int64(le.Uint64(b[72:]) & math.MaxInt64),
	}
	n := int(le.Uint32(b[12:]))
	// A record without data changes the file size only.
	if n < 0 || (n == 0) != (r.DataBlocks == 0) || r.HdrBlocks != HeaderBlocksFor(n, r.DataBlocks, bs) || int64(len(b)) < r.HdrBlocks*bs {
		return Header{}, bad("%d extents and %d data blocks in %d header blocks (%d bytes available)",
			n, r.DataBlocks, r.HdrBlocks, len(b))
	}
	ext := b[HeaderLen : HeaderLen+ExtentLen*n]
	sums := b[HeaderLen+ExtentLen*n : HeaderLen+ExtentLen*n+BlockSumLen*int(r.DataBlocks)]
	if got, want := CRCUpdate(CRCUpdate(CRC(b[:CRCAt]), ext), sums), le.Uint32(b[CRCAt:]); got != want {
		return Header{}, bad("header checksum %#x, want %#x", got, want)
	}
	r.Extents = make([]Extent, n)
	var sum, end int64
	for i := range r.Extents {
		e := Extent{LBlock: le.Uint32(ext[ExtentLen*i:]), Count: le.Uint32(ext[ExtentLen*i+4:])}
		if e.Count == 0 || int64(e.LBlock) < end {
			return Header{}, bad("extent %d [%d, +%d) empty or out of order", i, e.LBlock, e.Count)
		}
		end = int64(e.LBlock) + int64(e.Count)
		sum += int64(e.Count)
		r.Extents[i] = e
	}
	if sum != r.DataBlocks {
		return Header{}, bad("extents hold %d blocks, header says %d", sum, r.DataBlocks)
	}
	r.Sums = make([]uint32, r.DataBlocks)
	for i := range r.Sums {
		r.Sums[i] = le.Uint32(sums[BlockSumLen*i:])
	}
	return r, nil
}

// HeaderBlocks returns how many header blocks the record header at
// the start of b says it has, or 0 when b does not start with one. It
// checks nothing else (decodeRecordHeader does).
func HeaderBlocks(b []byte) int64 {
	le := binary.LittleEndian
	if len(b) < HeaderLen || le.Uint32(b[0:]) != Magic {
		return 0
	}
	return int64(le.Uint32(b[8:]))
}

// LogicalBlock returns the logical block of the record's i-th data block.
func (r *Header) LogicalBlock(i int64) int64 {
	for _, e := range r.Extents {
		if i < int64(e.Count) {
			return int64(e.LBlock) + i
		}
		i -= int64(e.Count)
	}
	return -1
}
