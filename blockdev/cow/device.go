package cow

import (
	"errors"
	"fmt"
	"github.com/untorn/untorn/blockdev/internal/logrec"
	"math/rand/v2"
	"sync"
	"time"
	"unsafe"

	"github.com/untorn/untorn/blockdev"
)

// Device is a blockdev.BatchDevice that writes out of place into a log on
// an inner Device and commits each write or batch atomically with a
// checksummed record. See the package documentation.
//
// Lock order: mu only. mu is held exclusively by every write, flush,
// cleaning and checkpoint (including their inner I/O) and shared by reads
// for the duration of their inner reads, so no segment is reused while a
// read of it is in flight.
type Device struct {
	inner     blockdev.Device
	g         geometry
	limits    blockdev.Limits
	ckptEvery int64 // blocks of log between checkpoints
	defrag    bool  // reads rewrite fragmented data contiguously
	salvage   bool  // Options.Salvage

	mu sync.RWMutex // guards everything below
	// size is the file size in bytes (see FileSize): m and sums have
	// ceil(size/bs) entries; blocks beyond read as zeros.
	size int64
	m    []uint32 // logical block -> physical block; 0: never written (reads as zeros)
	sums []uint32 // logical block -> CRC-32C of its data (valid where m is not 0)
	// segs and rev cover the segments in use so far (see segments.go):
	// the container grows on the inner device segment by segment.
	rev        []uint32 // data-area block -> logical block + 1; 0: no live data
	segs       []segment
	liveBlocks int64   // the sum of the segments' live counts
	free       []int64 // free segments among segs, in descending order: the lowest is taken first
	// discards: segments freed by the last checkpoint, given back to the
	// inner device (Discard) by the next one if still free.
	discards []int64
	// filledAhead: a never-taken segment fillLocked wrote with zeros for
	// the log to take next; -1 if none.
	filledAhead int64
	// fillOnGrow: the head segment Format or Open would have filled
	// (fillHeadLocked) but for lying past the end of a file that grows
	// with the container: it is filled when the file grows to it; -1 if
	// none.
	fillOnGrow int64
	// headFlushes counts the flushes since the log head entered its
	// segment (fillLocked fills the next one only after many).
	headFlushes int
	// overFile: the inner device is a file, which tells its allocated
	// space (blockdev.AllocatedBytes) and has holes where nothing was
	// written.
	overFile bool
	// grows: the inner device is a file shorter than the layout, which
	// grows and shrinks with what the container holds (see filesize.go).
	grows   bool
	control sizeControl // Options.sizeControl
	// takes counts segments taken as the log head (and state reloads): a
	// segment's taken is the count when it last was, so a block whose
	// segment has the same taken as before still holds the same data.
	takes      uint64
	head       int64  // physical block where the next record goes
	nextSeq    uint64 // sequence number of the next record
	durableSeq uint64 // every record below this sequence number is durable
	sb         superblock
	logLen     int64 // blocks written to the log since the last checkpoint
	dirty      bool  // the inner device was written since its last Flush
	// failed: an inner write or flush failed, so what the device holds is
	// unknown until recovery reads it again (see writableLocked).
	failed error
	// broken: recovery found corruption; the device refuses writes until
	// it is reopened.
	broken  error
	repairs []repairedBlock // blocks replay corrected, written again before Open's root
	closed  bool
	stage   []byte // aligned buffer for records and checkpoints (see buffers.go)
	header  []byte // aligned buffer for a record's header blocks (vectored records)
	iov     [][]byte
	// vec: the inner device as a VectorWriter (nil if it is none): records
	// then go out as their header plus the data where it lies, uncopied.
	vec    blockdev.VectorWriter
	folder *logrec.Folder // folds block sums into a record's data checksum
	// cleanBand: Options.cleanBand.
	cleanBand int64
	stats     Stats
}

var _ blockdev.SizedDevice = (*Device)(nil)

type segState uint8

const (
	segFree segState = iota // reusable: nothing recovery could need is in it
	segUsed                 // holds records or live data
	segHead                 // the log head is in it
)

type segment struct {
	live  int32 // blocks of live data
	state segState
	taken uint64 // Device.takes when the segment last became the head
	// filled: this process wrote the whole segment on an inner file (zeros
	// before the log took it), so log writes into it overwrite allocated,
	// written blocks and a flush carries no file-system metadata.
	filled bool
}

// Stats describe a Device's space and work.
type Stats struct {
	LogicalBytes int64 // Size(): the capacity
	FileBytes    int64 // FileSize()
	// PhysicalBytes is the inner space the container holds on to: the
	// superblocks, the two checkpoints as last written and every segment
	// not free. Free segments are given back to an inner device that is a
	// blockdev.Discarder (a hole in a file).
	PhysicalBytes int64
	// InnerBytes is the inner device's size: over a file that grows with
	// the container (see Resizes) the file's size (ls -l), which follows
	// the highest segment in use; else the device's fixed size.
	InnerBytes    int64
	LiveBytes     int64 // bytes of mapped logical data
	FreeSegments  int   // segments in use so far that are free
	Segments      int   // segments in use so far (the most is MaxSegments)
	MaxSegments   int   // segments the layout has room for
	SegmentBytes  int64
	Discards      int64 // segments given back to the inner device
	Fills         int64 // segments written with zeros before the log took them (see fillLocked)
	DiscardErrors int64 // Discards the inner device refused (the space stays allocated; nothing else changes)
	// Resizes counts the times the container grew or cut its inner file,
	// which follows its use when Format or Open found it shorter than the
	// layout (a new file); ResizeErrors the cuts the inner device refused
	// (the file stays longer; nothing else changes).
	Resizes, ResizeErrors int64

	Commits       int64 // transactions committed (writes, batches, cleaner moves)
	Records       int64 // records written
	UserBlocks    int64 // blocks of data written by callers
	CleanedBlocks int64 // live blocks the cleaner moved
	DefragBlocks  int64 // blocks reads rewrote contiguously
	HeaderBlocks  int64 // record header blocks written
	Checkpoints   int64
	Flushes       int64 // inner flushes issued
	Recoveries    int64 // times the device re-read its state after an inner error (see ErrFailed)
	// RepairedRecords: records at the end of the log that failed their
	// checksum by one flipped bit, which replay corrected (see repair.go).
	RepairedRecords int64

	// Where the device's time went, in four disjoint parts (reads and
	// read-triggered defragmentation are in none of them). Together they
	// say what a commit costs beyond writing its data once.
	CommitTime     time.Duration // writing callers' records: staging copy, checksum, inner write
	FlushTime      time.Duration // flushes that make callers' writes durable (Flush, FUA)
	CleanTime      time.Duration // cleaning rounds wherever they run (commits, read defragmentation, CleanAhead), with the checkpoints that end them
	CheckpointTime time.Duration // checkpoints due to the interval (Options.CheckpointInterval)
	// Parts of CleanTime: reading the victims' live blocks, and the
	// checkpoints that end cleaning rounds. The rest of it is writing the
	// moved blocks.
	CleanReadTime, CleanCheckpointTime time.Duration
}

// Format lays out a new, empty COW device on dev (destroying what was
// there) and returns it open. It first overwrites both roots with a
// "formatting" mark and flushes, so that no crash can bring back a
// container that was there before, then writes both roots of the new one.
// A Format cut after the mark and before its first root leaves a device
// that Open refuses with ErrIncompleteFormat (nothing was committed on it;
// format it again), one cut before the mark the old container whole. The
// result owns dev: Close closes it.
func Format(dev blockdev.Device, opts Options) (*Device, error) {
	bs := mapBlockSize(dev.Limits().BlockSize)
	g, err := newGeometry(bs, dev.Size(), opts)
	if err != nil {
		return nil, err
	}
	if g.innerBlocks()*bs > dev.Size() && !blockdev.Resizable(dev) {
		return nil, fmt.Errorf("%w: %d bytes needed for a logical size of %d, the device has %d",
			ErrTooSmall, g.innerBlocks()*bs, g.nLogical*bs, dev.Size())
	}
	d := newDevice(dev, g, opts)
	d.sb = superblock{blockSize: bs, flags: sbFormatting, devID: rand.Uint64() | 1, epoch: 1, nLogical: g.nLogical,
		segBlocks: g.segBlocks, nSegs: g.nSegs, ckptBlocks: g.ckptBlocks, atomicMax: g.atomicMax,
		maxBatch: g.maxBatch, spare: g.spare}
	d.growSegsLocked(0)
	d.segs[0].state = segHead
	d.head = g.segStart(0)
	d.nextSeq, d.durableSeq = 1, 1
	d.mu.Lock()
	defer d.mu.Unlock()
	// Over a file shorter than the layout (see filesize.go) the superblocks
	// and checkpoints grow it as they are written, and the log does when it
	// first writes into the head segment, which is filled then.
	if err := d.growLocked(sbBlocks); err != nil {
		return nil, err
	}
	for copyNo := range int64(sbBlocks) {
		if err := d.writeSuperblockLocked(&d.sb, copyNo); err != nil {
			return nil, err
		}
	}
	if err := d.innerFlushLocked(); err != nil {
		return nil, err
	}
	// Both roots, so that no mark is left: a damaged root of a container
	// in use is never taken for a cut Format.
	for range sbBlocks {
		if err := d.checkpointLocked(false); err != nil {
			return nil, err
		}
	}
	d.fillHeadLocked()
	return d, nil
}

func newDevice(dev blockdev.Device, g geometry, opts Options) *Device {
	l := dev.Limits()
	_, overFile := blockdev.AllocatedBytes(dev)
	vec, _ := dev.(blockdev.VectorWriter)
	return &Device{
		vec:         vec,
		folder:      logrec.FolderFor(g.bs),
		inner:       dev,
		g:           g,
		filledAhead: -1,
		fillOnGrow:  -1,
		overFile:    overFile,
		grows:       blockdev.Resizable(dev) && g.innerBlocks()*g.bs > dev.Size(),
		control:     opts.sizeControl,
		limits: blockdev.Limits{BlockSize: int(g.bs), AtomicMin: int(g.bs), AtomicMax: int(g.atomicMax),
			MemAlign: l.MemAlign},
		ckptEvery: g.checkpointInterval(opts.CheckpointInterval),
		defrag:    !opts.NoReadDefrag,
		salvage:   opts.Salvage,
		cleanBand: opts.cleanBand,
	}
}

// Size returns the logical capacity in bytes: the largest file size.
func (d *Device) Size() int64 { return d.g.nLogical * d.g.bs }

// FileSize returns the file size: what the last committed transaction set
// (see CommitSized), or the end of the furthest write (WriteAt and
// CommitBatch extend it). Bytes beyond it read as zeros. A new device has
// size 0.
func (d *Device) FileSize() int64 {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.size
}

// Limits returns the device's limits: untorn writes from BlockSize to
// AtomicMax, the inner device's memory alignment.
func (d *Device) Limits() blockdev.Limits { return d.limits }

// MaxBatch returns the largest total length one CommitBatch accepts.
func (d *Device) MaxBatch() int64 { return d.g.maxBatch }

// Inner returns the device d writes to.
func (d *Device) Inner() blockdev.Device { return d.inner }

// Stats returns space and work counters.
func (d *Device) Stats() Stats {
	d.mu.RLock()
	defer d.mu.RUnlock()
	s := d.stats
	s.LogicalBytes = d.Size()
	s.FileBytes = d.size
	s.FreeSegments = len(d.free)
	s.Segments = len(d.segs)
	s.MaxSegments = int(d.g.nSegs)
	s.SegmentBytes = d.g.segBlocks * d.g.bs
	s.InnerBytes = d.inner.Size()
	s.PhysicalBytes = sbBlocks*d.g.bs + 2*ceilDiv(checkpointLen(int64(len(d.m))), d.g.bs)*d.g.bs +
		int64(len(d.segs)-len(d.free))*s.SegmentBytes
	for _, sg := range d.segs {
		s.LiveBytes += int64(sg.live) * d.g.bs
	}
	return s
}

// Close makes the device unusable and closes the inner device. First, when
// anything was logged since the last checkpoint and the device works, it
// tries to write a checkpoint, so that the next Open replays nothing and no
// damage to the last records can pass for a torn tail. That is a courtesy:
// its failure is not reported, since Close promises no durability (what
// was not flushed is volatile, as on any Device).
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return &blockdev.OpError{Op: "close", Off: -1, Err: blockdev.ErrClosed}
	}
	if d.logLen > 0 && d.failed == nil && d.broken == nil {
		_ = d.checkpointLocked(false)
	}
	d.closed = true
	return d.inner.Close()
}

// Flush makes every completed write and batch durable.
func (d *Device) Flush() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.writableLocked("flush", -1, 0); err != nil {
		return err
	}
	defer d.timeLocked(&d.stats.FlushTime, time.Now())
	return d.flushLocked()
}

// timeLocked adds the time since start to *total (a Stats field).
// REQUIRES: mu held.
func (d *Device) timeLocked(total *time.Duration, start time.Time) {
	*total += time.Since(start)
}

// writableLocked refuses writes to a closed or broken device, and
// recovers a failed one first (see recoverLocked).
// REQUIRES: mu held.
func (d *Device) writableLocked(op string, off int64, n int) error {
	switch {
	case d.closed:
		return &blockdev.OpError{Op: op, Off: off, Len: n, Err: blockdev.ErrClosed}
	case d.broken != nil:
		return &blockdev.OpError{Op: op, Off: off, Len: n, Err: fmt.Errorf("%w: %w", ErrFailed, d.broken)}
	case d.failed != nil:
		if err := d.recoverLocked(); err != nil {
			return &blockdev.OpError{Op: op, Off: off, Len: n, Err: fmt.Errorf("%w: recovery: %w", ErrFailed, err)}
		}
	}
	return nil
}

// failLocked records a failed inner write or flush: what the inner device
// holds is unknown from now on (a record or a root may be half written),
// so nothing more is written until recoverLocked has read it again. It
// returns the error for the caller.
// REQUIRES: mu held.
func (d *Device) failLocked(err error) error {
	if d.failed == nil {
		d.failed = err
	}
	return fmt.Errorf("%w: %w", ErrFailed, err)
}

// recoverLocked rebuilds the device's state from the inner device after a
// failed write or flush, exactly as Open does: the newest intact root, the
// log after it, then a new root in a new epoch (so that nothing written
// before the failure beyond the recovered end is ever replayed). Every
// transaction that was flushed before the failure is in that state;
// others may or may not be, each whole. The state is built aside and
// taken only when complete, so reads see the old one until then. If it
// fails on an I/O error the device stays failed and the next write tries
// again; on corruption it is broken for good. While it runs it holds a
// second copy of the maps.
// REQUIRES: mu held.
func (d *Device) recoverLocked() error {
	d.stats.Recoveries++
	sbs, _, err := readSuperblocks(d.inner, d.g.bs)
	if err == nil {
		n := newDevice(d.inner, d.g, Options{})
		n.ckptEvery, n.defrag, n.salvage = d.ckptEvery, d.defrag, d.salvage
		n.grows, n.control = d.grows, d.control
		n.mu.Lock()
		err = n.loadLocked(sbs)
		n.mu.Unlock()
		d.stats.Flushes += n.stats.Flushes
		d.stats.Checkpoints += n.stats.Checkpoints
		if err == nil {
			d.adoptLocked(n)
			return nil
		}
	}
	if errors.Is(err, ErrCorrupt) || errors.Is(err, ErrVersion) || errors.Is(err, ErrNotFormatted) {
		d.broken = err
	}
	return err
}

// adoptLocked takes the state n recovered.
// REQUIRES: mu held.
func (d *Device) adoptLocked(n *Device) {
	d.m, d.sums, d.rev, d.segs, d.free, d.size, d.discards = n.m, n.sums, n.rev, n.segs, n.free, n.size, n.discards
	d.liveBlocks = n.liveBlocks
	d.head, d.nextSeq, d.durableSeq, d.sb = n.head, n.nextSeq, n.durableSeq, n.sb
	d.logLen, d.dirty, d.failed = n.logLen, n.dirty, nil
	d.fillOnGrow = n.fillOnGrow
	d.takes++ // a read from before must not be defragmented over the new state
	for s := range d.segs {
		d.segs[s].taken = d.takes
	}
}

// flushLocked flushes the inner device if anything was written since.
// REQUIRES: mu held.
func (d *Device) flushLocked() error {
	if !d.dirty {
		return nil
	}
	return d.innerFlushLocked()
}

// innerFlushLocked flushes the inner device unconditionally.
// REQUIRES: mu held.
func (d *Device) innerFlushLocked() error {
	d.stats.Flushes++
	d.headFlushes++
	if err := d.inner.Flush(); err != nil {
		return d.failLocked(err)
	}
	d.dirty = false
	d.durableSeq = d.nextSeq
	return nil
}

// innerWriteLocked writes p at block pos of the inner device; only FUA
// writes leave it clean.
// REQUIRES: mu held.
func (d *Device) innerWriteLocked(p []byte, pos int64, flags blockdev.Flags) error {
	if flags&blockdev.FUA == 0 {
		d.dirty = true
	}
	if _, err := d.inner.WriteAt(p, pos*d.g.bs, flags); err != nil {
		return d.failLocked(err)
	}
	return nil
}

// innerWritevLocked writes bufs back to back at block pos of the inner
// device (d.vec); only FUA writes leave it clean.
// REQUIRES: mu held, d.vec != nil.
func (d *Device) innerWritevLocked(bufs [][]byte, pos int64, flags blockdev.Flags) error {
	if flags&blockdev.FUA == 0 {
		d.dirty = true
	}
	if _, err := d.vec.WritevAt(bufs, pos*d.g.bs, flags); err != nil {
		return d.failLocked(err)
	}
	return nil
}

// headerBufferLocked returns an aligned buffer of n bytes for a record's
// header, reusing d.header.
// REQUIRES: mu held.
func (d *Device) headerBufferLocked(n int64) []byte {
	return d.growBufferLocked(&d.header, n)
}

// allAligned reports whether every buffer starts on an align-byte
// boundary.
func allAligned(bufs [][]byte, align int) bool {
	for _, b := range bufs {
		if !blockdev.IsAligned(b, align) {
			return false
		}
	}
	return true
}

// bufferLocked returns an aligned buffer of n bytes, reusing *b (d.stage).
// REQUIRES: mu held.
func (d *Device) bufferLocked(b *[]byte, n int64) []byte {
	return d.growBufferLocked(b, n)
}

// growBufferLocked returns the first n bytes of *b, replacing *b by an
// aligned buffer of the next power of two of at least n bytes when it is
// smaller: it grows to what the device needs, not more (see buffers.go).
// REQUIRES: mu held.
func (d *Device) growBufferLocked(b *[]byte, n int64) []byte {
	if int64(cap(*b)) < n {
		*b = blockdev.AlignedBuffer(int(pow2Ceil(max(n, d.g.bs))), d.limits.MemAlign)
	}
	return (*b)[:n]
}

// innerRead reads n blocks at pos into an aligned buffer; past the end of
// a file that grows with the container, zeros (see filesize.go).
func (d *Device) innerRead(buf []byte, pos int64) error {
	done, err := d.readPastEnd(buf, pos)
	if !done {
		_, err = d.inner.ReadAt(buf, pos*d.g.bs)
	}
	if err != nil {
		return fmt.Errorf("cow: read %d blocks at inner block %d: %w", int64(len(buf))/d.g.bs, pos, err)
	}
	return nil
}

// HeldBytes is the memory the device holds between its operations: its
// maps and its staging and header buffers (see buffers.go). A cache that
// serves many containers from one budget reserves it there.
func (d *Device) HeldBytes() int64 {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return int64(cap(d.m)+cap(d.sums)+cap(d.rev)+cap(d.free))*4 + int64(cap(d.segs))*int64(unsafe.Sizeof(segment{})) +
		int64(cap(d.stage)+cap(d.header))
}

// MemoryBytes bounds the memory the device holds outside its callers'
// buffers: the forward and reverse maps, the staging buffer of records
// and checkpoints, and a segment buffer while it replays or cleans (taken
// from a pool the process's containers share, see buffers.go). (The
// forward map holds a block's place and its checksum.) It grows with the
// file and the container: 8 bytes per block of file size (the map and
// checksums, also the checkpoint buffer) and 4 per block of segments in
// use. A cache above it can subtract it from its own budget to bound the
// process as a whole.
func (d *Device) MemoryBytes() int64 {
	d.mu.RLock()
	defer d.mu.RUnlock()
	g := d.g
	n := int64(len(d.m))
	maps := n*8 + int64(len(d.rev))*4
	seg := g.segBlocks * g.bs
	return maps + max(seg, checkpointLen(n)) + seg
}
