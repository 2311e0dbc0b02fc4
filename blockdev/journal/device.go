package journal

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/btree"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/internal/logrec"
)

// Device is a blockdev.SizedDevice over two devices: the data device,
// which holds the file in its own layout at its own offsets, and the
// journal device, a circular log of records in front of it. See the
// package documentation for the rules it keeps.
//
// Lock order: commitMu, then ckptMu, then mu. commitMu serialises what
// moves the log head (commits, flushes, resets); ckptMu serialises what
// moves the log start (checkpoints, resets); mu guards the in-memory state
// and is held shared by reads for as long as they read the journal, so
// that no journal space they read is reused under them.
type Device struct {
	data, jdev  blockdev.Device
	jvec        blockdev.VectorWriter // jdev's vectored writes; nil when it has none
	bs          int64
	limits      blockdev.Limits
	opts        Options
	folder      *logrec.Folder
	growHome    bool            // the data device can be resized (a regular file)
	growJournal bool            // the journal device can be resized
	cloner      blockdev.Cloner // the data device, when it may share the journal's blocks; nil otherwise
	logical     int64           // the capacity (Size)
	id          uint64          // the journal's id: records carry it
	// hwMax is the largest unit CommitUnits writes home in place: the
	// data device's AtomicHardwareMax with Options.InPlace, else 0 (none).
	hwMax int

	// area is the number of blocks in the record area, gen the journal's
	// generation (records carry it). They change only at a reset, with
	// commitMu, ckptMu and mu held.
	area int64
	gen  uint64

	commitMu sync.Mutex   // serialises commits, flushes and resets
	hdrBuf   []byte       // the commit path's record header buffer; guarded by commitMu
	hdrCap   atomic.Int64 // cap(hdrBuf), for HeldBytes
	iov      [][]byte     // the commit path's vector; guarded by commitMu
	unitBuf  []byte       // a unit written in place assembled from its pieces; guarded by commitMu
	unitCap  atomic.Int64 // cap(unitBuf), for HeldBytes

	ckptMu  sync.Mutex // serialises checkpoints and resets
	rootBuf []byte     // header (root) block buffer; guarded by ckptMu
	noClone bool       // cloning failed with ErrNotSupported once: copy from then on; guarded by ckptMu

	mu sync.RWMutex // guards everything below
	// hdr is the newest durable header: the log starts at hdr.start, and
	// the data device holds the file as of there (hdr.baseSize).
	hdr header
	// recs are the records from hdr.start to head, in log order.
	recs    []record
	head    int64  // log position of the next record
	nextSeq uint64 // its sequence number
	prev    uint32 // its Prev: the header checksum of the last record
	// durable: every record that ends at or before it has been flushed.
	durable int64
	// suspect: a journal flush failed (suspectErr), so records past
	// durable may be lost although their writes succeeded. Until the next
	// commit rewinds the head to durable (its writer writes their data
	// again), Flush fails with suspectErr rather than claim them durable.
	suspect    bool
	suspectErr error
	// homeDirty: units went home in place (CommitUnits) since the data
	// device's last flush by Flush; Flush flushes it too.
	homeDirty bool
	// size is the file size after the last record.
	size int64
	// zeroFrom is the first block a cut in recs unmapped (MaxInt64 for
	// none): from it on, blocks that no record after the cut wrote read
	// as zeros, whatever the data device still holds.
	zeroFrom int64
	// index maps each block that a record in recs wrote (and no later cut
	// unmapped) to the log position of its newest image.
	index *btree.BTreeG[loc]
	// homeEnd: past it (bytes) the data device holds only zeros. It
	// bounds what a cut must clear on a device that cannot shrink.
	homeEnd int64
	// repaired holds the corrected content of blocks Open repaired (one
	// flipped bit), by log position, until Open's checkpoint wrote them
	// home.
	repaired map[int64][]byte
	closed   bool
	// finished: a final checkpoint (Finish) left the journal empty and the
	// data device holding the file with its length, and nothing was
	// committed since: Close has nothing to write.
	finished   bool
	ckptErr    error // the last background checkpoint's error; nil after one succeeds
	lastCommit time.Time
	stats      Stats

	kick chan struct{} // wakes the background checkpointer
	stop chan struct{}
	done chan struct{}
}

var _ blockdev.UnitDevice = (*Device)(nil)

// record is a record in the log, as the device keeps it in memory.
type record struct {
	lsn, end  int64 // log positions of its first block and of the block after it
	hdrBlocks int64
	seq       uint64
	crc       uint32 // its header checksum: the next record's Prev
	cut, size int64
	// cutBlock is the first block its cut unmaps (ceil(cut/bs) when the
	// cut is below the size before it), MaxInt64 when it cuts nothing.
	cutBlock int64
	extents  []logrec.Extent
}

// loc says where a block's newest image lies in the log.
type loc struct {
	block int64 // logical block
	lsn   int64 // log position of the image
}

func locLess(a, b loc) bool { return a.block < b.block }

// Stats count what the device did since it was opened.
type Stats struct {
	Capacity     int64 // bytes of the record area
	LogBytes     int64 // bytes the records in the journal take now
	FileBytes    int64 // the file size
	Records      int64 // records written
	RecordBytes  int64 // data bytes in them (what callers committed)
	HeaderBlocks int64 // record header blocks written
	Flushes      int64 // journal flushes of Flush and FUA commits
	Checkpoints  int64 // checkpoints that advanced the start
	HomeWrites   int64 // data device writes of checkpoints
	HomeBytes    int64 // bytes they wrote
	HomeReads    int64 // journal reads of checkpoints
	Clones       int64 // runs of images checkpoints cloned home instead (blockdev.Cloner)
	Superseded   int64 // images a checkpoint skipped: a later durable record holds the block
	RoomWaits    int64 // commits that found the journal full and checkpointed first
	Grows        int64 // times the journal grew for a transaction
	Rewinds      int64 // times the head went back after a failed flush
	Repaired     int64 // blocks Open corrected (a flipped bit)
	// InPlaceWrites and InPlaceBytes count the units CommitUnits wrote
	// home in place with the data device's hardware atomic writes
	// (Options.InPlace) instead of in a record; InPlaceFlushes the data
	// device's flushes of Flush that made them durable.
	InPlaceWrites, InPlaceBytes, InPlaceFlushes int64
	// CommitTime is the time commits spent writing records; FlushTime in
	// journal flushes; CheckpointTime in checkpoints (HomeTime of it in
	// home writes and the data device's flush, ReadTime in reading images
	// back from the journal).
	CommitTime, FlushTime, CheckpointTime, HomeTime, ReadTime time.Duration
	// CheckpointErr is the error of the last checkpoint, nil once one
	// succeeded after it. A failed checkpoint leaves the journal
	// authoritative; commits go on while it has room.
	CheckpointErr error
}

// Size returns the logical capacity in bytes: the largest file size.
func (d *Device) Size() int64 { return d.logical }

// Limits: untorn writes from BlockSize to the largest power of two a
// commit is guaranteed (MaxBatch), buffers aligned for both devices.
func (d *Device) Limits() blockdev.Limits { return d.limits }

// FileSize returns the size the last committed transaction left.
func (d *Device) FileSize() int64 {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.size
}

// MaxBatch returns the largest transaction the journal takes whatever it
// holds (it checkpoints first when it is full): the data one record can
// carry in the whole record area.
func (d *Device) MaxBatch() int64 {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return maxData(d.area, d.bs) * d.bs
}

// maxData is the most data blocks one record can carry in an area of
// area blocks: with its header (an extent and a sum per block in the
// worst case).
func maxData(area, bs int64) int64 {
	lo, hi := int64(0), area
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if mid+logrec.HeaderBlocksFor(int(mid), mid, bs) <= area {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// Data returns the data device; Journal the journal device.
func (d *Device) Data() blockdev.Device    { return d.data }
func (d *Device) Journal() blockdev.Device { return d.jdev }

// Stats returns the counters.
func (d *Device) Stats() Stats {
	d.mu.RLock()
	defer d.mu.RUnlock()
	s := d.stats
	s.Capacity = d.area * d.bs
	s.LogBytes = (d.head - d.hdr.start) * d.bs
	s.FileBytes = d.size
	s.CheckpointErr = d.ckptErr
	return s
}

// MemoryBytes estimates the memory the device keeps: its index and the
// records' extents.
func (d *Device) MemoryBytes() int64 {
	d.mu.RLock()
	defer d.mu.RUnlock()
	n := int64(d.index.Len()) * 32
	for _, r := range d.recs {
		n += 96 + 8*int64(len(r.extents))
	}
	return n
}

// HeldBytes is the memory the device holds between its operations: its
// index and records, its root, record header and in-place unit buffers, and a fixed
// part (the device, its background goroutine's stack, its timer and
// channels: deviceOverhead). A checkpoint's buffer is taken from a pool
// shared by the process while it runs.
func (d *Device) HeldBytes() int64 {
	return d.MemoryBytes() + int64(cap(d.rootBuf)) + d.hdrCap.Load() + d.unitCap.Load() + deviceOverhead
}

// deviceOverhead is what a Device holds besides its index, records and
// buffers, measured (heap and stack in use over 100 journals).
const deviceOverhead = 16 << 10

// phys returns the byte offset on the journal device of log position lsn.
func (d *Device) phys(lsn int64) int64 {
	return (hdrCopies + lsn%d.area) * d.bs
}

// noCut is a cutBlock or zeroFrom that cuts nothing.
const noCut = math.MaxInt64

// newDevice builds a Device around a durable header; the log is empty.
func newDevice(data, jdev blockdev.Device, h header, opts Options) *Device {
	jvec, _ := jdev.(blockdev.VectorWriter)
	dl, jl := data.Limits(), jdev.Limits()
	bsz := int(h.blockSize)
	d := &Device{
		data: data, jdev: jdev, jvec: jvec,
		bs:          h.blockSize,
		opts:        opts,
		folder:      logrec.FolderFor(h.blockSize),
		growHome:    blockdev.Resizable(data),
		growJournal: blockdev.Resizable(jdev),
		hdr:         h,
		area:        h.area,
		gen:         h.gen,
		id:          h.id,
		logical:     h.logical,
		head:        h.start,
		nextSeq:     h.startSeq,
		prev:        h.startPrev,
		durable:     h.start,
		size:        h.baseSize,
		zeroFrom:    noCut,
		index:       btree.NewG(16, locLess),
		homeEnd:     data.Size(),
		lastCommit:  time.Now(),
		kick:        make(chan struct{}, 1),
		stop:        make(chan struct{}),
		done:        make(chan struct{}),
	}
	if opts.InPlace && dl.AtomicHardwareMax >= bsz {
		d.hwMax = dl.AtomicHardwareMax
	}
	if c, ok := data.(blockdev.Cloner); ok && opts.Clone {
		d.cloner = c
	}
	d.limits = blockdev.Limits{BlockSize: bsz, AtomicMin: bsz, MemAlign: max(dl.MemAlign, jl.MemAlign, 1)}
	d.limits.AtomicMax = pow2Floor(maxData(h.area, h.blockSize) * h.blockSize)
	d.rootBuf = blockdev.AlignedBuffer(bsz, d.limits.MemAlign)
	return d
}

func pow2Floor(v int64) int {
	p := int64(1)
	for p*2 <= v {
		p *= 2
	}
	return int(p)
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }
