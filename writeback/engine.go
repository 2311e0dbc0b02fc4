package writeback

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/extent"
	"github.com/untorn/untorn/pagecache"
)

// Defaults of a zero Config.
const (
	DefaultQueueDepth    = 16
	DefaultFlushInterval = time.Second
)

// Config wires an Engine to its cache and device.
type Config struct {
	// Cache holds the file's folios. Required.
	Cache *pagecache.Cache
	// Device is where the data goes. Required. When it implements
	// blockdev.BatchDevice and Native is false, untorn units (and all
	// other dirty data) go out in group commits (COW mode); otherwise
	// untorn units are written in place with blockdev.Atomic (native mode).
	Device blockdev.Device
	// Native forces in-place Atomic writes even on a BatchDevice.
	Native bool
	// QueueDepth is how many device writes a pass keeps in flight in
	// native mode. 0 means DefaultQueueDepth.
	QueueDepth int
	// FlushInterval: dirty data older than about this is written back by
	// the background flusher. 0 means DefaultFlushInterval; < 0 disables
	// the timer (writeback then starts only above the background threshold
	// or on Sync).
	FlushInterval time.Duration
	// PlainUntorn writes untorn units with plain writes. It exists only for
	// the negative control of the crash oracle: it breaks the guarantee.
	PlainUntorn bool
	// SplitBatches commits each piece of a batch's super-group as a
	// transaction of its own. It exists only for the negative control of
	// the batch oracle: it breaks the guarantee.
	SplitBatches bool
	// EarlyFollowers lets a Sync that waits for another's pass return as
	// soon as the pass's writes returned, before its flush. It exists only
	// for the negative control of the group-commit tests: it breaks the
	// guarantee (such a Sync's data may not be durable yet).
	EarlyFollowers bool
	// Scratch holds, in native mode, the buffers of units whose bytes are
	// not in one folio (the unit is assembled from several folios and the
	// blocks around them): passes take them from it and give them back
	// when their writes returned, so unit buffers never take more memory
	// than its Size, and MaxUnit is at most its Size. A pass that finds it
	// full leaves the groups that need a buffer dirty for the next pass.
	// The caller closes it after Close. nil: New maps one (not prefaulted)
	// of the device's AtomicMax, at most DefaultScratchMax, outside any
	// cache budget. Unused in COW mode.
	Scratch *pagecache.Scratch
}

// DefaultScratchMax bounds the Scratch that New maps for a Config without
// one.
const DefaultScratchMax = 8 << 20

// Engine turns dirty folios and the side-car of untorn ranges into device
// writes.
//
// Lock order: passMu, then mu, then syncMu, then the cache's own locks
// (syncMu is taken with nothing else under it). A pass holds passMu
// throughout and mu only while it snapshots and while it finishes; writers
// hold mu only to commit their copy and record their range; a Sync holds
// syncMu only to find the pass it waits for.
type Engine struct {
	cache   *pagecache.Cache
	dev     blockdev.Device
	batch   blockdev.BatchDevice // nil in native mode
	sized   blockdev.SizedDevice // the device keeps the file size (COW); nil otherwise
	lim     blockdev.Limits
	minUnit int64 // native: smallest unit (AtomicMin, at least a page)
	maxUnit int64 // largest unit the device path writes untorn
	depth   int
	plain   bool
	split   bool                              // Config.SplitBatches
	early   bool                              // Config.EarlyFollowers
	fillFn  func(off int64, buf []byte) error // e.fill, made once: a method value allocates
	scratch *pagecache.Scratch                // native: unit buffers; nil in COW mode
	owned   bool                              // scratch was made by New: Close closes it

	passMu sync.Mutex // serialises passes: each ends with a device Flush before the next starts

	syncMu  sync.Mutex  // guards running, next, last* and the tickets' fields it names (see join.go)
	running *passTicket // the pass under way, from its snapshot on; nil when none
	next    *passTicket // the pass the next snapshot starts, once a Sync waits for it; nil when none
	// The last pass that carried Syncs: how many, when it ended and how
	// long it took (see gather.go).
	lastSyncs int
	lastEnd   time.Time
	lastDur   time.Duration
	maxGather time.Duration // the longest gathering window: maxGather (tests lengthen it)
	// writeSeq numbers the changes a Sync must cover (changedLocked):
	// incremented under mu, read without it.
	writeSeq atomic.Uint64

	mu     sync.Mutex  // guards ranges, snapGen, size and batches, and orders commits against pass snapshots
	ranges *extent.Set // dirty untorn units, disjoint
	// size is the file size: what the device's size will be once
	// everything is written back. Written under mu, read without it.
	size atomic.Int64
	// batches are the batches committed to the cache and not yet written
	// back, in commit order (COW mode; see batch.go).
	batches []*pendingBatch
	// writeEnds counts the exact ends of the writes not yet written back that
	// end past the device's size (COW mode): a transaction that carries
	// the page holding one grows the size to it (see sized.go).
	writeEnds map[int64]int
	devSize   int64 // the device's file size after the last pass (COW mode)
	// needFlush: CommitThrough wrote the device; the next pass flushes
	// even with nothing dirty.
	needFlush bool
	// staleFrom: the device's content at and beyond this offset is stale
	// (a cut is in the cache, not yet on the device): reads of the device
	// there give zeros. math.MaxInt64 when no cut is pending. Written
	// under mu.
	staleFrom atomic.Int64
	// snapGen is the largest generation of a unit in the latest pass's
	// snapshot. A unit with a larger one is in no pass's snapshot, so a
	// write inside it needs no new generation: the next pass takes it as
	// it is.
	snapGen uint64
	ends    uint64 // passes finished: folios may have become clean (and evictable)
	closed  atomic.Bool

	errMu  sync.Mutex // guards werr
	werr   error      // the last writeback error, until a pass writes everything
	stats  counters
	stop   chan struct{}
	done   chan struct{}
	ticker time.Duration
}

// New returns an engine and starts its background flusher.
func New(cfg Config) (*Engine, error) {
	if cfg.Cache == nil || cfg.Device == nil || cfg.QueueDepth < 0 {
		return nil, fmt.Errorf("%w: config needs a cache and a device", ErrInvalid)
	}
	e := &Engine{
		cache:     cfg.Cache,
		dev:       cfg.Device,
		lim:       cfg.Device.Limits(),
		depth:     cfg.QueueDepth,
		plain:     cfg.PlainUntorn,
		split:     cfg.SplitBatches,
		early:     cfg.EarlyFollowers,
		maxGather: maxGather,
		ranges:    extent.New(),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		ticker:    cfg.FlushInterval,
	}
	e.fillFn = e.fill
	if e.depth == 0 {
		e.depth = DefaultQueueDepth
	}
	if e.ticker == 0 {
		e.ticker = DefaultFlushInterval
	}
	e.size.Store(cfg.Device.Size())
	e.writeEnds = map[int64]int{}
	e.staleFrom.Store(math.MaxInt64)
	if b, ok := cfg.Device.(blockdev.BatchDevice); ok && !cfg.Native {
		e.batch = b
		if sd, ok := b.(blockdev.SizedDevice); ok {
			e.sized = sd
			e.size.Store(sd.FileSize())
			e.devSize = sd.FileSize()
		}
		// A unit goes in one batch; data outside units may be split.
		e.maxUnit = b.MaxBatch()
		if e.maxUnit < pagecache.PageSize {
			return nil, fmt.Errorf("%w: batch device takes only %d bytes per commit", ErrInvalid, b.MaxBatch())
		}
	} else {
		if !e.lim.HasAtomic() {
			return nil, fmt.Errorf("%w: native mode on a device without untorn writes: %w", ErrInvalid, blockdev.ErrAtomicUnsupported)
		}
		if e.lim.MemAlign > pagecache.PageSize {
			// Folios are written in place and are only page aligned.
			return nil, fmt.Errorf("%w: native mode needs buffers aligned to %d bytes, folios are aligned to %d",
				ErrInvalid, e.lim.MemAlign, pagecache.PageSize)
		}
		e.minUnit = max(int64(e.lim.AtomicMin), pagecache.PageSize)
		e.scratch = cfg.Scratch
		if e.scratch == nil {
			s, err := pagecache.NewScratch(min(int64(e.lim.AtomicMax), DefaultScratchMax), false)
			if err != nil {
				return nil, fmt.Errorf("%w: unit buffers: %w", ErrInvalid, err)
			}
			e.scratch, e.owned = s, true
		}
		e.maxUnit = min(int64(e.lim.AtomicMax), e.scratch.Size())
	}
	go e.flusher()
	return e, nil
}

// MaxUnit is the largest unit an untorn write may need.
func (e *Engine) MaxUnit() int64 { return e.maxUnit }

// Size returns the file size: on a blockdev.SizedDevice what its FileSize
// will be once everything is written back (writes extend it, Commit sets
// it); on another device the size SetSize gave, at first the device's.
func (e *Engine) Size() int64 { return e.size.Load() }

// SetSize sets the file size of an engine over a device that keeps none
// (native mode, where the caller resizes the file itself). It refuses on a
// blockdev.SizedDevice, whose size changes through Commit.
func (e *Engine) SetSize(size int64) error {
	if e.sized != nil || size < 0 {
		return fmt.Errorf("%w: SetSize(%d) on this device", ErrInvalid, size)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.size.Store(size)
	e.changedLocked()
	return nil
}

// Close stops the background flusher and waits for it and for a pass in
// progress. It does not write anything back: Sync first. Later calls fail
// with ErrClosed.
func (e *Engine) Close() error {
	if e.closed.Swap(true) {
		return ErrClosed
	}
	close(e.stop)
	<-e.done
	e.passMu.Lock()
	defer e.passMu.Unlock()
	if e.owned {
		return e.scratch.Close()
	}
	return nil
}
