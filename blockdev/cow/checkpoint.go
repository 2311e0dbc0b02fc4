package cow

import (
	"encoding/binary"
	"fmt"
	"github.com/untorn/untorn/blockdev/internal/logrec"
	"math"
)

const (
	ckptMagic     = 0x4b43574f434e5254 // "TRNCOWCK" little-endian
	ckptVersion   = 3
	ckptHeaderLen = 80
	ckptCRCAt     = ckptHeaderLen - 4
)

// checkpoint is a full copy of the logical-to-physical map and the place in
// the log where replay starts.
type checkpoint struct {
	devID    uint64
	gen      uint64 // bumped by every checkpoint
	startSeq uint64 // sequence number of the first record after it
	startPos int64  // physical block of that record
	hdrCRC   uint32 // the header checksum, which the superblock repeats
	size     int64  // the file size in bytes; m has ceil(size/bs) entries
	m        []uint32
	sums     []uint32 // CRC-32C of each logical block's data (0 where m is 0)
}

// checkpointLen is the encoded length of a checkpoint of n map entries:
// the header, the map, then the block checksums.
func checkpointLen(n int64) int64 { return ckptHeaderLen + 8*n }

// encode writes c into b (at least checkpointLen(len(c.m)) bytes) and sets
// c.hdrCRC.
func (c *checkpoint) encode(b []byte) {
	le := binary.LittleEndian
	clear(b[:ckptHeaderLen])
	n := len(c.m)
	mb := b[ckptHeaderLen : ckptHeaderLen+8*n]
	for i, p := range c.m {
		le.PutUint32(mb[4*i:], p)
	}
	for i, s := range c.sums {
		le.PutUint32(mb[4*n+4*i:], s)
	}
	clear(b[ckptHeaderLen+8*n:])
	le.PutUint64(b[0:], ckptMagic)
	le.PutUint32(b[8:], ckptVersion)
	le.PutUint64(b[16:], c.devID)
	le.PutUint64(b[24:], c.gen)
	le.PutUint64(b[32:], c.startSeq)
	le.PutUint64(b[40:], uint64(c.startPos))
	le.PutUint64(b[48:], uint64(len(c.m)))
	le.PutUint32(b[56:], logrec.CRC(mb))
	le.PutUint64(b[64:], uint64(c.size))
	c.hdrCRC = logrec.CRC(b[:ckptCRCAt])
	le.PutUint32(b[ckptCRCAt:], c.hdrCRC)
}

// checkpointEntries returns how many map entries the checkpoint whose
// header is at the start of b says it holds (0 when b holds no header).
func checkpointEntries(b []byte) int64 {
	if len(b) < ckptHeaderLen || binary.LittleEndian.Uint64(b[0:]) != ckptMagic {
		return 0
	}
	return int64(min(binary.LittleEndian.Uint64(b[48:]), math.MaxUint32))
}

// decodeCheckpoint parses a checkpoint and checks both its checksums. It
// does not check the map entries against a geometry (see loadMapLocked).
func decodeCheckpoint(b []byte) (checkpoint, error) {
	if len(b) < ckptHeaderLen {
		return checkpoint{}, fmt.Errorf("%w: checkpoint of %d bytes", ErrCorrupt, len(b))
	}
	le := binary.LittleEndian
	if le.Uint64(b[0:]) != ckptMagic {
		return checkpoint{}, fmt.Errorf("%w: no checkpoint magic", ErrCorrupt)
	}
	c := checkpoint{hdrCRC: le.Uint32(b[ckptCRCAt:])}
	if got := logrec.CRC(b[:ckptCRCAt]); got != c.hdrCRC {
		return checkpoint{}, fmt.Errorf("%w: checkpoint header checksum %#x, want %#x", ErrCorrupt, got, c.hdrCRC)
	}
	if v := le.Uint32(b[8:]); v != ckptVersion {
		return checkpoint{}, fmt.Errorf("%w: checkpoint version %d, this code reads %d only", ErrVersion, v, ckptVersion)
	}
	c.devID = le.Uint64(b[16:])
	c.gen = le.Uint64(b[24:])
	c.startSeq = le.Uint64(b[32:])
	c.startPos = int64(le.Uint64(b[40:]) & math.MaxInt64)
	c.size = int64(le.Uint64(b[64:]) & math.MaxInt64)
	n := le.Uint64(b[48:])
	if n > math.MaxUint32 || uint64(len(b)-ckptHeaderLen)/8 < n {
		return checkpoint{}, fmt.Errorf("%w: checkpoint of %d entries in %d bytes", ErrCorrupt, n, len(b))
	}
	mb := b[ckptHeaderLen : ckptHeaderLen+8*int(n)]
	if got, want := logrec.CRC(mb), le.Uint32(b[56:]); got != want {
		return checkpoint{}, fmt.Errorf("%w: checkpoint map checksum %#x, want %#x", ErrCorrupt, got, want)
	}
	c.m = make([]uint32, n)
	c.sums = make([]uint32, n)
	for i := range c.m {
		c.m[i] = le.Uint32(mb[4*i:])
		c.sums[i] = le.Uint32(mb[4*int(n)+4*i:])
	}
	return c, nil
}
