package blockdev

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
