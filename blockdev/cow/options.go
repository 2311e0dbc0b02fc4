package cow

import (
	"fmt"
	"math"
	"math/bits"
)

// Defaults and bounds of Options.
const (
	// DefaultAtomicMax is the largest untorn WriteAt offered by default.
	DefaultAtomicMax = 8 << 20
	// DefaultSegmentSize is the segment (allocation and cleaning unit) of
	// devices of 256 MiB and more; smaller devices get smaller segments.
	DefaultSegmentSize = 4 << 20
	minSegmentBlocks   = 8
	// DefaultSparePercent: the data area holds the logical capacity plus
	// this percentage of it as cleaning headroom (plus the reserve of
	// reserveSegments).
	DefaultSparePercent = 10
	// maxSparePercent bounds SparePercent.
	maxSparePercent = 1000
	// maxCheckpointInterval bounds the log replayed at Open.
	maxCheckpointInterval = 64 << 20
)

// Options configure Format and Open. The zero value means defaults
// everywhere. The layout options (LogicalSize, AtomicMax, MaxBatch, SparePercent,
// SegmentSize) are fixed by Format and stored in the superblock; Open
// ignores them and uses the stored values.
type Options struct {
	// LogicalSize is the capacity of the Device in bytes, a multiple of
	// the block size. 0: as much as fits on the inner device with the
	// documented overhead.
	LogicalSize int64
	// AtomicMax is the largest untorn WriteAt, a power of two of at least
	// the block size. 0: 8 MiB (less on devices too small for it).
	AtomicMax int
	// MaxBatch is the largest total length of one CommitBatch, at least
	// AtomicMax. 0: the larger of AtomicMax and 8 MiB (less on small
	// devices).
	MaxBatch int64
	// SegmentSize is the unit of log allocation and cleaning, a power of
	// two of at least 8 blocks. 0: 4 MiB, or 1/32 of the device (at least
	// 64 KiB) on devices under 128 MiB.
	SegmentSize int64
	// SparePercent is the cleaning headroom Format gives the data area, as
	// a percentage of the logical capacity. 0: DefaultSparePercent (10).
	// More headroom means emptier segments to clean under random
	// overwrites, so less copying: 25 halves the cost of a group commit
	// on a full device, for 15% more space.
	SparePercent int
	// CheckpointInterval is how many bytes of log may accumulate before the
	// map is checkpointed, which bounds the work of recovery. It is a
	// runtime option (Open uses it too). 0: 1/8 of the data area, at least
	// 8 segments, at most 64 MiB.
	CheckpointInterval int64
	// NoReadDefrag turns off read-triggered defragmentation (see
	// ReadAt): reads then never write. A runtime option.
	NoReadDefrag bool
	// Salvage makes Open accept a log damaged in the middle: it recovers
	// the state before the first damaged record and drops every
	// transaction after it, even ones that had been flushed, then writes
	// (which makes the loss permanent). Without it such a log fails Open
	// with ErrCorrupt, naming the record, and nothing is written. For
	// getting at what is left of a damaged device, not for everyday use.
	Salvage bool

	// cleanBand is how many segments beyond its watermark the commit path
	// cleans to (see ensureSpaceLocked); 0 in production. Tests set it to
	// make cleaning rounds larger and run where they otherwise would not.
	cleanBand int64
	// sizeControl breaks how the container's file follows its use (see
	// filesize.go): the negative controls of the tests; 0 in production.
	sizeControl sizeControl
}

// geometry is the layout of a formatted device, in blocks of bs bytes.
// Block 0 and 1 hold the superblock copies, then two checkpoint slots of
// ckptBlocks each, then nSegs segments of segBlocks each.
type geometry struct {
	bs         int64 // block size in bytes: the map unit and the I/O unit
	nLogical   int64 // logical blocks
	segBlocks  int64 // blocks per segment
	nSegs      int64 // segments in the data area
	ckptBlocks int64 // blocks per checkpoint slot
	atomicMax  int64 // bytes
	maxBatch   int64 // bytes
	spare      int64 // cleaning headroom, percent of the live data
}

const sbBlocks = 2 // superblock copies at blocks 0 and 1

func (g geometry) ckptSlot(i int) int64 { return sbBlocks + int64(i)*g.ckptBlocks }
func (g geometry) dataStart() int64     { return sbBlocks + 2*g.ckptBlocks }
func (g geometry) innerBlocks() int64   { return g.dataStart() + g.nSegs*g.segBlocks }
func (g geometry) segOf(p int64) int64  { return (p - g.dataStart()) / g.segBlocks }
func (g geometry) segStart(s int64) int64 {
	return g.dataStart() + s*g.segBlocks
}
func (g geometry) segEnd(p int64) int64 { return g.segStart(g.segOf(p)) + g.segBlocks }
func (g geometry) isData(p int64) bool  { return p >= g.dataStart() && p < g.innerBlocks() }

// ckptBlocksFor is the size of one checkpoint slot for n logical blocks.
func ckptBlocksFor(n, bs int64) int64 { return ceilDiv(checkpointLen(n), bs) }

// reserveSegments is the number of segments kept beyond the logical data
// and its spare: room for one MaxBatch still holding the data it replaces
// (with its headers and the blocks skipped at segment ends), the cleaner's
// working space and the head segment.
func (g geometry) reserveSegments() int64 {
	return g.segmentsFor(g.maxBatch/g.bs, 2) + cleanerReserve + 1
}

// segmentsForLogical is how many segments a device of n logical blocks
// needs: the data, a spare of 1/10 of it (at least two segments) for
// cleaning headroom and imperfect packing, and the reserve.
func (g geometry) segmentsForLogical(n int64) int64 {
	spare := ceilDiv(n*g.spare, 100*g.segBlocks) + 2
	return ceilDiv(n, g.segBlocks) + spare + g.reserveSegments()
}

func (g geometry) checkpointInterval(opt int64) int64 {
	if opt > 0 {
		return max(ceilDiv(opt, g.bs), 1)
	}
	iv := g.nSegs * g.segBlocks / 8
	iv = max(iv, 8*g.segBlocks)
	return min(iv, maxCheckpointInterval/g.bs)
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

func isPow2(v int64) bool { return v > 0 && bits.OnesCount64(uint64(v)) == 1 }

func prevPow2(v int64) int64 {
	if v <= 0 {
		return 0
	}
	return 1 << (63 - bits.LeadingZeros64(uint64(v)))
}

// newGeometry applies defaults and checks opts for a device of block size
// bs over an inner device of innerSize bytes (0: unknown, LogicalSize must
// be set).
func newGeometry(bs int64, innerSize int64, opts Options) (geometry, error) {
	basis := opts.LogicalSize
	if basis == 0 {
		basis = innerSize
	}
	if basis <= 0 || opts.LogicalSize < 0 || opts.LogicalSize%bs != 0 {
		return geometry{}, fmt.Errorf("%w: logical size %d with block size %d", ErrInvalidOptions, opts.LogicalSize, bs)
	}
	g := geometry{bs: bs, atomicMax: int64(opts.AtomicMax), maxBatch: opts.MaxBatch, segBlocks: opts.SegmentSize / bs,
		spare: int64(opts.SparePercent)}
	if g.spare == 0 {
		g.spare = DefaultSparePercent
	}
	if g.atomicMax == 0 {
		g.atomicMax = max(min(DefaultAtomicMax, prevPow2(basis/4)), bs)
	}
	if g.maxBatch == 0 {
		g.maxBatch = max(g.atomicMax, min(8<<20, basis/4/bs*bs))
	}
	if opts.SegmentSize == 0 {
		g.segBlocks = max(min(DefaultSegmentSize, prevPow2(basis/32)), 64<<10, minSegmentBlocks*bs) / bs
	}
	switch {
	case !isPow2(g.atomicMax) || g.atomicMax < bs:
		return geometry{}, fmt.Errorf("%w: AtomicMax %d must be a power of two >= %d", ErrInvalidOptions, g.atomicMax, bs)
	case g.maxBatch < g.atomicMax || g.maxBatch%bs != 0:
		return geometry{}, fmt.Errorf("%w: MaxBatch %d must be a multiple of %d and >= AtomicMax %d", ErrInvalidOptions, g.maxBatch, bs, g.atomicMax)
	case opts.SegmentSize != 0 && (!isPow2(opts.SegmentSize) || opts.SegmentSize < minSegmentBlocks*bs):
		return geometry{}, fmt.Errorf("%w: SegmentSize %d must be a power of two >= %d", ErrInvalidOptions, opts.SegmentSize, minSegmentBlocks*bs)
	case opts.SparePercent < 0 || opts.SparePercent > maxSparePercent:
		return geometry{}, fmt.Errorf("%w: SparePercent %d", ErrInvalidOptions, opts.SparePercent)
	case opts.CheckpointInterval < 0:
		return geometry{}, fmt.Errorf("%w: CheckpointInterval %d", ErrInvalidOptions, opts.CheckpointInterval)
	}
	if opts.LogicalSize > 0 {
		g.setLogical(opts.LogicalSize / bs)
		if g.innerBlocks() > math.MaxUint32 {
			return geometry{}, fmt.Errorf("%w: %d blocks exceed the 32-bit map", ErrInvalidOptions, g.innerBlocks())
		}
		return g, nil
	}
	// The largest logical size that fits: innerBlocks grows with nLogical.
	avail := min(innerSize/bs, math.MaxUint32)
	lo, hi := int64(0), avail
	for lo < hi {
		mid := (lo + hi + 1) / 2
		g.setLogical(mid)
		if g.innerBlocks() <= avail {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	if lo < 16 {
		return geometry{}, fmt.Errorf("%w: %d bytes hold no useful COW device", ErrTooSmall, innerSize)
	}
	g.setLogical(lo)
	return g, nil
}

func (g *geometry) setLogical(n int64) {
	g.nLogical = n
	g.ckptBlocks = ckptBlocksFor(n, g.bs)
	g.nSegs = g.segmentsForLogical(n)
}

// RequiredSize returns the size in bytes an inner device of the given block
// size needs to hold a COW device formatted with opts (opts.LogicalSize
// must be set): the logical size plus the documented overhead, the whole
// layout. A device of fixed size must have it; a regular file may start
// shorter (empty) and grows with the container, never past it (see the
// package documentation).
func RequiredSize(blockSize int, opts Options) (int64, error) {
	g, err := formatGeometry("RequiredSize", blockSize, opts)
	if err != nil {
		return 0, err
	}
	return g.innerBlocks() * g.bs, nil
}

// formatGeometry is the layout Format would give opts (LogicalSize set)
// over an inner device of the given block size; caller names the API
// asking, for the error.
func formatGeometry(caller string, blockSize int, opts Options) (geometry, error) {
	if opts.LogicalSize <= 0 {
		return geometry{}, fmt.Errorf("%w: %s needs LogicalSize", ErrInvalidOptions, caller)
	}
	return newGeometry(mapBlockSize(blockSize), 0, opts)
}

// mapBlockSize is the block size of a COW device over an inner device of
// block size bs: 4 KiB, or bs if larger.
func mapBlockSize(bs int) int64 { return max(int64(bs), 4096) }

// DataOffset returns the byte offset of the data area (the segments) of a
// device formatted with opts (opts.LogicalSize must be set) over an inner
// device of the given block size: what precedes it is the superblocks and
// the checkpoint slots. The log takes the segments from there on, in order,
// so a caller that wants the first n bytes of data allocated up front
// allocates [DataOffset, DataOffset+n) of the inner device.
func DataOffset(blockSize int, opts Options) (int64, error) {
	g, err := formatGeometry("DataOffset", blockSize, opts)
	if err != nil {
		return 0, err
	}
	return g.dataStart() * g.bs, nil
}
