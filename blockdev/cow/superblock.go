package cow

import (
	"encoding/binary"
	"fmt"
	"github.com/untorn/untorn/blockdev/internal/logrec"
	"math"
)

const (
	sbMagic   = 0x31574f434e524f54 // "TORNCOW1" little-endian
	sbVersion = 3
	sbLen     = 128 // encoded bytes at the start of a superblock block

	// sbFormatting marks the superblock Format writes over both copies
	// before anything else: it names no checkpoint. A device whose copies
	// hold nothing better was cut during Format (ErrIncompleteFormat).
	sbFormatting = 1 << 0
)

// superblock is a root of the on-disk state. There are two roots, as in
// bbolt's two meta pages: superblock copy k (block k) only ever names
// checkpoint slot k, and checkpoint generation g goes to slot g%2 with its
// copy, so writing a new root never touches the newest valid one. Open
// takes the valid copy whose checkpoint is intact with the highest
// generation.
type superblock struct {
	blockSize  int64
	flags      uint32 // sbFormatting
	devID      uint64 // random at Format: records and checkpoints must carry it
	epoch      uint64 // bumped by every Open and recovery: records carry the epoch they were written in
	nLogical   int64
	segBlocks  int64
	nSegs      int64
	ckptBlocks int64
	atomicMax  int64
	maxBatch   int64
	spare      int64  // cleaning headroom, percent of the live data (see budgetSegsLocked)
	ckptGen    uint64 // generation of the checkpoint this copy names (its slot is ckptGen%2)
	ckptCRC    uint32 // header checksum that checkpoint must carry
}

// ckptSlot is the checkpoint slot (and superblock copy) of s's generation.
func (s *superblock) ckptSlot() int { return logrec.RootCopy(s.ckptGen) }

func (s *superblock) geometry() geometry {
	return geometry{bs: s.blockSize, nLogical: s.nLogical, segBlocks: s.segBlocks, nSegs: s.nSegs,
		ckptBlocks: s.ckptBlocks, atomicMax: s.atomicMax, maxBatch: s.maxBatch, spare: s.spare}
}

// encode writes s into b (at least sbLen bytes; the rest is zeroed).
func (s *superblock) encode(b []byte) {
	clear(b)
	le := binary.LittleEndian
	le.PutUint64(b[0:], sbMagic)
	le.PutUint32(b[8:], sbVersion)
	le.PutUint32(b[12:], uint32(s.blockSize))
	le.PutUint64(b[16:], s.devID)
	le.PutUint32(b[24:], s.flags)
	le.PutUint64(b[32:], s.epoch)
	le.PutUint64(b[40:], uint64(s.nLogical))
	le.PutUint64(b[48:], uint64(s.segBlocks))
	le.PutUint64(b[56:], uint64(s.nSegs))
	le.PutUint64(b[64:], uint64(s.ckptBlocks))
	le.PutUint64(b[72:], uint64(s.atomicMax))
	le.PutUint64(b[80:], uint64(s.maxBatch))
	le.PutUint32(b[92:], s.ckptCRC)
	le.PutUint64(b[96:], s.ckptGen)
	le.PutUint32(b[104:], uint32(s.spare))
	le.PutUint32(b[sbLen-4:], logrec.CRC(b[:sbLen-4]))
}

// decodeSuperblock parses and checks one superblock copy. It returns an
// error wrapping ErrNotFormatted when b has no superblock magic and one
// wrapping ErrCorrupt when the copy is damaged or inconsistent.
func decodeSuperblock(b []byte) (superblock, error) {
	if len(b) < sbLen {
		return superblock{}, fmt.Errorf("%w: superblock of %d bytes", ErrCorrupt, len(b))
	}
	le := binary.LittleEndian
	if le.Uint64(b[0:]) != sbMagic {
		return superblock{}, ErrNotFormatted
	}
	if got, want := logrec.CRC(b[:sbLen-4]), le.Uint32(b[sbLen-4:]); got != want {
		return superblock{}, fmt.Errorf("%w: superblock checksum %#x, want %#x", ErrCorrupt, got, want)
	}
	if v := le.Uint32(b[8:]); v != sbVersion {
		return superblock{}, fmt.Errorf("%w: superblock version %d, this code reads %d only", ErrVersion, v, sbVersion)
	}
	s := superblock{
		blockSize:  int64(le.Uint32(b[12:])),
		devID:      le.Uint64(b[16:]),
		flags:      le.Uint32(b[24:]),
		epoch:      le.Uint64(b[32:]),
		nLogical:   int64(le.Uint64(b[40:]) & math.MaxInt64),
		segBlocks:  int64(le.Uint64(b[48:]) & math.MaxInt64),
		nSegs:      int64(le.Uint64(b[56:]) & math.MaxInt64),
		ckptBlocks: int64(le.Uint64(b[64:]) & math.MaxInt64),
		atomicMax:  int64(le.Uint64(b[72:]) & math.MaxInt64),
		maxBatch:   int64(le.Uint64(b[80:]) & math.MaxInt64),
		ckptCRC:    le.Uint32(b[92:]),
		ckptGen:    le.Uint64(b[96:]),
		spare:      int64(le.Uint32(b[104:])),
	}
	if err := s.check(); err != nil {
		return superblock{}, err
	}
	return s, nil
}

// check validates the geometry a superblock describes, so that no later
// computation can overflow or index out of range.
func (s *superblock) check() error {
	bad := func(what string, v int64) error {
		return fmt.Errorf("%w: superblock %s %d", ErrCorrupt, what, v)
	}
	const maxBlocks = math.MaxUint32
	switch {
	case !isPow2(s.blockSize) || s.blockSize < 512 || s.blockSize > 1<<20:
		return bad("block size", s.blockSize)
	case s.nLogical < 1 || s.nLogical > maxBlocks:
		return bad("logical blocks", s.nLogical)
	case s.segBlocks < minSegmentBlocks || s.segBlocks > maxBlocks:
		return bad("segment blocks", s.segBlocks)
	case s.nSegs < 2 || s.nSegs > maxBlocks || s.nSegs*s.segBlocks > maxBlocks:
		return bad("segments", s.nSegs)
	case s.ckptBlocks != ckptBlocksFor(s.nLogical, s.blockSize):
		return bad("checkpoint blocks", s.ckptBlocks)
	case !isPow2(s.atomicMax) || s.atomicMax < s.blockSize || s.atomicMax > s.maxBatch:
		return bad("atomic max", s.atomicMax)
	case s.maxBatch%s.blockSize != 0 || s.maxBatch > s.nSegs*s.segBlocks*s.blockSize:
		return bad("max batch", s.maxBatch)
	case s.spare < 1 || s.spare > maxSparePercent:
		return bad("spare percent", s.spare)
	case s.flags&^sbFormatting != 0:
		return bad("flags", int64(s.flags))
	}
	if g := s.geometry(); g.innerBlocks() > maxBlocks {
		return bad("total blocks", g.innerBlocks())
	}
	return nil
}
