package atomicio

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/cow"
	"github.com/untorn/untorn/blockdev/journal"
	"github.com/untorn/untorn/pagecache"
	"github.com/untorn/untorn/writeback"
)

// File is a file (or device) with a userspace page cache whose untorn
// writes (the package function WriteAt) reach stable storage whole or not
// at all. Its methods are safe for concurrent use.
//
// Lock order: closeMu, then sizeMu, then raMu; the engine's and the
// cache's locks are below them.
type File struct {
	dev     blockdev.Device // what the engine writes: the raw device or the COW container
	cache   *pagecache.Cache
	eng     *writeback.Engine // keeps the file size (Size)
	opts    Options
	mode    Mode
	maxSize int64            // the largest size (MaxSize)
	resizer blockdev.Resizer // native mode on a regular file: grows and shrinks it; nil otherwise
	// journalPath is, in journal mode on a file, the file's path: a clean
	// Close removes its journal (JournalPath). "" otherwise.
	journalPath string

	closeMu sync.RWMutex // held shared by every operation, exclusively by Close
	closed  bool

	// sizeMu is held shared by reads, writes and batches that do not cut
	// the file, exclusively by whatever cuts it (Truncate, a batch with a
	// Truncate) and by native growth: a cut drops cached pages that no
	// reader or writer may be using.
	sizeMu sync.RWMutex

	raMu sync.Mutex // guards ra
	ra   pagecache.Readahead

	countedAt atomic.Int64 // when the File's held memory was last counted, in Unix nanoseconds (reserve.go)

	// shared is the Cache the File's memory comes from: Options.Cache, or
	// one of its own. readBufs and unitBufs are its buffers.
	shared   *Cache
	readBufs *pagecache.Scratch // buffers of reads that miss
	unitBufs *pagecache.Scratch // native: the engine's unit buffers; nil in COW mode
	maxRead  int64              // the most one device read of a miss reads
	waits    sync.Pool          // *writeWait with Options.WriteTimeout
}

// OpenDevice opens a File over dev (tests use blockdev.Mem). With
// ModeAuto: a COW container on dev is recovered and used; an all-zero dev
// becomes native when it offers untorn writes of at least 2 x MaxAtomic and
// a new COW container otherwise; a dev holding other data is used in native
// mode if it can be, else refused with ErrNotContainer. The File owns dev
// from then on: Close closes it.
func OpenDevice(dev blockdev.Device, opts Options) (*File, error) {
	if dev == nil {
		return nil, fmt.Errorf("%w: nil device", ErrInvalid)
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	target, mode, err := resolveMode(dev, opts, "")
	if err != nil {
		return nil, err
	}
	f, err := newFile(target, mode, opts)
	if err != nil {
		_ = target.Close()
		return nil, err
	}
	return f, nil
}

// memoryUser is a device that keeps memory of its own out of the Cache
// (the COW container's maps, the journal's index): MemoryBytes for a
// File's own Cache, HeldBytes for a shared one.
type memoryUser interface {
	MemoryBytes() int64
	HeldBytes() int64
}

// finisher is a device that has work to do before a clean Close (the
// journal: the last checkpoint, after which its file can go).
type finisher interface{ Finish() error }

// detacher is a device that can stop without writing and give back the
// devices under it (the journal).
type detacher interface {
	Detach() (data, jdev blockdev.Device)
}

// closer adapts a function to io.Closer.
type closer func() error

func (c closer) Close() error { return c() }

// pow2Floor returns the largest power of two <= v (v >= 1).
func pow2Floor(v int64) int64 { return 1 << (bits.Len64(uint64(v)) - 1) }

// newFile builds a File whose engine writes dev; Close closes dev (a COW
// container closes the device under it). Its memory comes from
// opts.Cache, or from a Cache of its own sized by opts (see Cache.split).
func newFile(dev blockdev.Device, mode Mode, opts Options) (*File, error) {
	maxSize := dev.Size() - dev.Size()%pagecache.PageSize
	resizer, _ := dev.(blockdev.Resizer)
	if _, regular := blockdev.AllocatedBytes(dev); mode != ModeNative || !regular {
		resizer = nil // only a native regular file grows by resizing
	}
	if resizer != nil {
		maxSize = math.MaxInt64 // grows with its file system
	}
	if maxSize <= 0 {
		return nil, fmt.Errorf("%w: device of %d bytes", ErrInvalid, dev.Size())
	}
	f := &File{dev: dev, opts: opts, mode: mode, maxSize: maxSize, resizer: resizer, shared: opts.Cache}
	if f.shared == nil {
		f.shared = ownCache(opts)
	}
	mem, err := f.shared.attach(f, dev, mode, opts)
	if err != nil {
		return nil, err
	}
	f.readBufs = mem.readBufs
	f.maxRead = min(pagecache.MaxFolioSize, max(f.readBufs.Size()/2, pagecache.PageSize))
	if mode == ModeNative {
		f.unitBufs = mem.unitBufs
	}
	if f.cache, err = pagecache.New(pagecache.Config{Pool: mem.pool}); err != nil {
		_ = f.shared.detach(f)
		return nil, fmt.Errorf("%w: cache: %w", ErrInvalid, err)
	}
	f.eng, err = writeback.New(writeback.Config{
		Cache:          f.cache,
		Device:         dev,
		Native:         mode == ModeNative,
		QueueDepth:     opts.QueueDepth,
		FlushInterval:  opts.FlushInterval,
		PlainUntorn:    opts.plainUntorn,
		SplitBatches:   opts.splitBatches,
		EarlyFollowers: opts.earlyFollowers,
		Scratch:        f.unitBufs,
	})
	if err != nil {
		_ = f.cache.Close()
		_ = f.shared.detach(f)
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	f.waits.New = func() any { return &writeWait{timeout: opts.WriteTimeout} }
	f.shared.count(f)
	return f, nil
}

// Size returns the file size in bytes, as an os.File's: reads stop there
// (io.EOF), a write past it extends it (the gap reads as zeros), Truncate
// and batches change it. A size change is durable with the next Sync, in
// COW mode atomic with the data around it (see Truncate).
func (f *File) Size() int64 { return f.eng.Size() }

// MaxSize returns the largest size the file can have (see
// Options.MaxSize); a native regular file has no limit of its own
// (math.MaxInt64).
func (f *File) MaxSize() int64 { return f.maxSize }

// Mode returns the mode the File runs in (never ModeAuto).
func (f *File) Mode() Mode { return f.mode }

// Sync makes every write that returned before Sync was called durable,
// each untorn write whole. On error (wrapping the device's) the data stays
// dirty in the cache and later Syncs try again and report the error until
// the data is written.
func (f *File) Sync() error {
	f.closeMu.RLock()
	defer f.closeMu.RUnlock()
	if f.closed {
		return ErrClosed
	}
	err := f.eng.Sync()
	f.shared.recount(f)
	return err
}

// Close syncs, stops the background writeback and releases the memory and
// the device. If the Sync fails, Close returns its error and the File stays
// open with its dirty data, so that nothing is dropped: call Sync or Close
// again (or Abandon to give up). After a successful Close every method
// returns ErrClosed.
func (f *File) Close() error {
	f.closeMu.Lock()
	defer f.closeMu.Unlock()
	if f.closed {
		return ErrClosed
	}
	if err := f.eng.Sync(); err != nil {
		return fmt.Errorf("atomicio: close: %w", err)
	}
	if fin, ok := f.dev.(finisher); ok {
		if err := fin.Finish(); err != nil {
			return fmt.Errorf("atomicio: close: %w", err)
		}
		if f.journalPath != "" {
			// Everything is home and the file has its exact size: the
			// journal goes, while we still hold it (and its lock).
			if err := removeFileJournal(f.journalPath); err != nil {
				return fmt.Errorf("atomicio: close: %w", err)
			}
		}
	}
	return f.releaseLocked(f.dev)
}

// Abandon releases the File without writing anything back: dirty data is
// lost. It is for a process that gives up on a failed device; it returns
// the first error of closing the device. In journal mode it writes nothing
// at all: what Syncs made durable stays in the journal, and the next Open
// replays it (as after a crash).
func (f *File) Abandon() error {
	f.closeMu.Lock()
	defer f.closeMu.Unlock()
	if f.closed {
		return ErrClosed
	}
	if d, ok := f.dev.(detacher); ok {
		// A journal's Close would checkpoint: Abandon writes nothing, and
		// the journal stays for the next Open to replay.
		data, jdev := d.Detach()
		return f.releaseLocked(closer(func() error { return errors.Join(data.Close(), jdev.Close()) }))
	}
	return f.releaseLocked(f.dev)
}

// releaseLocked stops the engine, gives the cache's memory back (and
// unmaps it and the buffers when no other File is on its Cache) and closes
// the devices through dev.
// REQUIRES: closeMu held exclusively.
func (f *File) releaseLocked(dev io.Closer) error {
	f.closed = true
	var errs []error
	errs = append(errs, f.eng.Close(), f.cache.Close(), f.shared.detach(f))
	errs = append(errs, dev.Close())
	return errors.Join(errs...)
}

// Stats describe what the File did since it was opened.
type Stats struct {
	Mode       Mode
	DirtyBytes int64 // bytes of this File's dirty folios in the cache
	CacheBytes int64 // folio memory this File uses
	// CacheBudget is the page cache's share of Options.CacheSize (or of
	// the size of Options.Cache, shared with its other Files): folio
	// memory never exceeds it. Together with ReadBuffers.Size,
	// UnitBuffers.Size and (COW mode, a Cache of its own) the container's
	// maps it stays within CacheSize, but for the limits Cache documents.
	CacheBudget int64
	ReadBuffers pagecache.ScratchStats // buffers of reads that miss (of the Cache): never more than their Size in use
	UnitBuffers pagecache.ScratchStats // native: buffers units are assembled in (of the Cache; zero in COW mode)
	Writeback   writeback.Stats
	COW         cow.Stats     // the container's space and work (COW mode; zero otherwise)
	Journal     journal.Stats // the journal's work (journal mode; zero otherwise)
	LastError   error         // the error of the last writeback pass, nil if it wrote everything
}

// Stats returns the counters. It works after Close too.
func (f *File) Stats() Stats {
	s := Stats{Mode: f.mode, Writeback: f.eng.Stats(), LastError: f.eng.Err(), ReadBuffers: f.readBufs.Stats()}
	if f.unitBufs != nil {
		s.UnitBuffers = f.unitBufs.Stats()
	}
	switch d := f.dev.(type) {
	case interface{ Stats() cow.Stats }:
		s.COW = d.Stats()
	case interface{ Stats() journal.Stats }:
		s.Journal = d.Stats()
	}
	f.closeMu.RLock()
	defer f.closeMu.RUnlock()
	if !f.closed {
		s.DirtyBytes, s.CacheBytes, s.CacheBudget = f.cache.DirtyBytes(), f.cache.Used(), f.cache.Budget()
	}
	return s
}
