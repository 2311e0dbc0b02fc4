package blockdev

import (
	"cmp"
	"fmt"
	"slices"
)

// Piece is one range of a batch: Data is written at Off.
type Piece struct {
	Off  int64
	Data []byte
}

// BatchDevice is a Device that can commit many ranges as one untorn unit
// (group commit). The COW remap layer implements it; the writeback engine
// uses it to turn many random page writes into one sequential write and
// one flush.
type BatchDevice interface {
	Device
	// CommitBatch writes every piece and commits them together: after a
	// crash either all of them or none of them are on the device. Offsets
	// and lengths are multiples of BlockSize; Data need not be aligned in
	// memory; pieces must not overlap and their total length must not
	// exceed MaxBatch. With FUA the batch is durable when CommitBatch
	// returns; without it the batch is volatile until the next Flush, like
	// any write. A refused batch (ErrMisaligned, ErrOutOfRange,
	// ErrAtomicInvalid) writes nothing.
	CommitBatch(pieces []Piece, flags Flags) error
	// MaxBatch is the largest total length one CommitBatch accepts.
	MaxBatch() int64
}

// SizedDevice is a BatchDevice that keeps a file size with its data, so
// that a size change commits atomically with the writes beside it (the COW
// container implements it).
type SizedDevice interface {
	BatchDevice
	// FileSize is the size the last committed transaction left: bytes
	// beyond it read as zeros.
	FileSize() int64
	// CommitSized commits one transaction: the file is cut to cut bytes
	// (blocks from cut rounded up to a block on are unmapped; cut =
	// FileSize() cuts nothing), then the pieces are written (below size
	// rounded up to a block), then the size becomes size. After a crash
	// all of it happened or none. Unlike CommitBatch it takes more than
	// MaxBatch bytes when the device has the room (MaxBatch is what it
	// guarantees), so that a group that grew past it can still commit
	// whole.
	CommitSized(pieces []Piece, cut, size int64, flags Flags) error
}

// CheckPieces validates the pieces of a batch on a device of the given
// size and limits, as every BatchDevice does: each piece lies within
// [0, size) and its offset and length are multiples of BlockSize
// (ErrOutOfRange, ErrMisaligned), their total is at most limit bytes and
// no two overlap (ErrAtomicInvalid). It returns the non-empty pieces
// sorted by offset (a new slice; the data is not copied) and their total
// length in bytes.
func CheckPieces(l Limits, size int64, pieces []Piece, limit int64) ([]Piece, int64, error) {
	bs := int64(max(l.BlockSize, 1))
	out := make([]Piece, 0, len(pieces))
	var total int64
	for _, pc := range pieces {
		n := int64(len(pc.Data))
		switch {
		case pc.Off < 0 || pc.Off > size || n > size-pc.Off:
			return nil, 0, fmt.Errorf("%w: piece [%d, +%d) on a device of %d bytes", ErrOutOfRange, pc.Off, n, size)
		case pc.Off%bs != 0 || n%bs != 0:
			return nil, 0, fmt.Errorf("%w: piece [%d, +%d) is not a multiple of the block size %d", ErrMisaligned, pc.Off, n, bs)
		case n == 0:
			continue
		}
		total += n
		out = append(out, pc)
	}
	if total > limit {
		return nil, 0, fmt.Errorf("%w: batch of %d bytes exceeds MaxBatch %d", ErrAtomicInvalid, total, limit)
	}
	slices.SortFunc(out, func(a, b Piece) int { return cmp.Compare(a.Off, b.Off) })
	for i := 1; i < len(out); i++ {
		if prev := out[i-1]; prev.Off+int64(len(prev.Data)) > out[i].Off {
			return nil, 0, fmt.Errorf("%w: pieces at %d and %d overlap", ErrAtomicInvalid, prev.Off, out[i].Off)
		}
	}
	return out, total, nil
}

// UnitDevice is a SizedDevice that takes a group commit as independent
// parts, so that it may write some of them another way than the others:
// the journal (package journal, Options.InPlace) writes the units its data
// device does in hardware home in place and logs the rest.
type UnitDevice interface {
	SizedDevice
	// CommitUnits commits a group commit: each of units (its pieces) is
	// untorn on its own, rest is plain data, and the file size grows to
	// size (at least FileSize: it cuts nothing). Unlike CommitSized it
	// promises nothing between the parts: after a crash each unit is whole
	// or absent whatever became of the others, and the size covers the
	// data that is there. Pieces obey the rules of CommitSized (block
	// aligned, disjoint, below size rounded up to a block); a refused
	// commit writes nothing. Without FUA it is durable with the next
	// Flush.
	CommitUnits(units [][]Piece, rest []Piece, size int64, flags Flags) error
}
