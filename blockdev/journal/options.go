package journal

import "time"

// Defaults of a zero Options.
const (
	// DefaultCapacity is the record area of a new journal. Chosen by
	// measurement (examples/bench, 16 KiB random pages, a Sync every 64):
	// see the README's performance section.
	DefaultCapacity = 32 << 20
	// DefaultLogicalSize is the capacity (the largest file size) of a
	// journal over a data device that grows (a regular file): 8 TiB
	// (records number blocks in 32 bits: 16 TiB at most).
	DefaultLogicalSize = 1 << 43
	// DefaultQueueDepth is how many home writes a checkpoint keeps in
	// flight.
	DefaultQueueDepth = 16
	// DefaultIdle: a journal that holds records and saw no commit for
	// this long is checkpointed in the background.
	DefaultIdle = time.Second
	// minAreaBlocks is the smallest record area: room for a few records.
	minAreaBlocks = 16
)

// Options tune a journal. The zero value means the defaults.
type Options struct {
	// Capacity is the size in bytes of the record area a new journal gets
	// (Format; DefaultCapacity, rounded down to blocks). Open reads it from
	// the header. A journal over a device that can grow (a regular file)
	// grows when one transaction needs more; one over a fixed device
	// refuses such a transaction with ErrTooLarge.
	Capacity int64
	// BaseSize is the file size a new journal starts from (Format only):
	// what the data device holds. Ignored when the data device keeps an
	// exact length (a regular file: blockdev.Lengther), which is used
	// instead; 0 otherwise means an empty file.
	BaseSize int64
	// LogicalSize is the device's capacity (Size, the largest file size):
	// by default the data device's Size when it cannot grow, else
	// DefaultLogicalSize.
	LogicalSize int64
	// CheckpointAt: a background checkpoint starts when the records in
	// the journal take more than this many bytes (default half the
	// capacity).
	CheckpointAt int64
	// Idle: a journal holding records that saw no commit for this long is
	// checkpointed in the background (DefaultIdle).
	Idle time.Duration
	// NoBackground runs no background checkpoints: a checkpoint happens
	// only when a commit finds the journal full, on Checkpoint and on
	// Close. The device's I/O then depends only on its callers (torture
	// campaigns replay by seed).
	NoBackground bool
	// QueueDepth is how many home writes a checkpoint keeps in flight
	// (DefaultQueueDepth).
	QueueDepth int
	// Clone makes checkpoints clone the images home (FICLONERANGE) where
	// the two devices can share blocks (blockdev.Cloner: files on XFS with
	// reflink) instead of reading them back and copying them: about 4x
	// cheaper checkpoints, but the journal's blocks are then shared, and
	// its next write to them needs new blocks from the file system (copy
	// on write): its writes carry metadata again and can fail with ENOSPC
	// when the file system is full, which a journal written whole at
	// Format otherwise never does. Off by default (see the package
	// documentation).
	Clone bool
	// Salvage opens a journal whose log is damaged in the middle (Open
	// would fail with ErrCorrupt): it replays what precedes the damage and
	// drops every record after it, even synced ones, and makes that
	// permanent. For getting at what is left, not for everyday use.
	Salvage bool
	// InPlace makes CommitUnits write each untorn unit that the data
	// device does in hardware (a naturally aligned power of two of at most
	// its Limits.AtomicHardwareMax bytes) home at once with
	// blockdev.Atomic instead of in a record: written once instead of
	// twice. A unit whose blocks have an image in the journal not yet
	// home goes through the journal all the same (see inplace.go). No
	// effect on a data device without hardware atomic writes.
	InPlace bool
	// Break breaks the journal on purpose: the negative controls of the
	// crash tests. Never set it outside a test.
	Break Breakage
}

// Breakage names a rule a negative control breaks; the crash tests must
// catch each one.
type Breakage uint8

const (
	// BreakHomeFlush advances the journal's start without flushing the
	// data device first: home writes can be lost after their records.
	BreakHomeFlush Breakage = 1 << iota
	// BreakOldestImage writes home the oldest image of a page a checkpoint
	// covers instead of the newest: a stale image over newer data.
	BreakOldestImage
	// BreakGeneration resets the journal (at Open) without a new
	// generation: records of the previous one can pass as new.
	BreakGeneration
	// BreakInPlaceOverJournal writes a unit in place (InPlace) even when
	// a record holds an image of its blocks that is not home yet: a replay
	// can write that older image over it.
	BreakInPlaceOverJournal
)

func (o Options) withDefaults() (Options, error) {
	if o.Capacity < 0 || o.BaseSize < 0 || o.LogicalSize < 0 || o.CheckpointAt < 0 || o.Idle < 0 || o.QueueDepth < 0 {
		return o, ErrInvalidOptions
	}
	if o.Capacity == 0 {
		o.Capacity = DefaultCapacity
	}
	if o.Idle == 0 {
		o.Idle = DefaultIdle
	}
	if o.QueueDepth == 0 {
		o.QueueDepth = DefaultQueueDepth
	}
	return o, nil
}
