package atomicio

import (
	"errors"
	"fmt"
	"sync"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/cow"
	"github.com/untorn/untorn/pagecache"
	"github.com/untorn/untorn/writeback"
)

// File is a file (or device) with a userspace page cache whose untorn
// writes (the package function WriteAt) reach stable storage whole or not
// at all. Its methods are safe for concurrent use.
//
// Lock order: closeMu, then raMu; the engine's and the cache's locks are
// below both.
type File struct {
	dev   blockdev.Device // what the engine writes: the raw device or the COW container
	cache *pagecache.Cache
	eng   *writeback.Engine
	opts  Options
	mode  Mode
	size  int64

	closeMu sync.RWMutex // held shared by every operation, exclusively by Close
	closed  bool

	raMu sync.Mutex // guards ra
	ra   pagecache.Readahead

	bufs  sync.Pool // *[]byte of pagecache.MaxFolioSize, aligned for dev
	waits sync.Pool // *writeWait with Options.WriteTimeout
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
	target, mode, err := resolveMode(dev, opts, false)
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

// newFile builds a File whose engine writes dev; Close closes dev (a COW
// container closes the device under it).
func newFile(dev blockdev.Device, mode Mode, opts Options) (*File, error) {
	size := dev.Size() - dev.Size()%pagecache.PageSize
	if size <= 0 {
		return nil, fmt.Errorf("%w: device of %d bytes", ErrInvalid, dev.Size())
	}
	// CacheSize bounds the File's memory as a whole: a COW container's
	// maps and buffers come out of it.
	// It still leaves room for one write of MaxAtomic bytes.
	budget := opts.CacheSize
	if c, ok := dev.(*cow.Device); ok {
		budget = max(budget-c.MemoryBytes(), budget/2, min(budget, int64(opts.MaxAtomic)))
	}
	cache, err := pagecache.New(pagecache.Config{
		Budget:          budget,
		BackgroundDirty: opts.BackgroundDirty,
		HardDirty:       opts.HardDirty,
		Prefault:        true,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: cache: %w", ErrInvalid, err)
	}
	eng, err := writeback.New(writeback.Config{
		Cache:         cache,
		Device:        dev,
		Native:        mode == ModeNative,
		QueueDepth:    opts.QueueDepth,
		FlushInterval: opts.FlushInterval,
		PlainUntorn:   opts.plainUntorn,
	})
	if err != nil {
		_ = cache.Close()
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	f := &File{dev: dev, cache: cache, eng: eng, opts: opts, mode: mode, size: size}
	f.waits.New = func() any { return &writeWait{timeout: opts.WriteTimeout} }
	align := dev.Limits().MemAlign
	f.bufs.New = func() any {
		b := blockdev.AlignedBuffer(pagecache.MaxFolioSize, max(align, pagecache.PageSize))
		return &b
	}
	return f, nil
}

// Size returns the capacity in bytes: writes must end at or below it.
func (f *File) Size() int64 { return f.size }

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
	return f.eng.Sync()
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
	return f.releaseLocked()
}

// Abandon releases the File without writing anything back: dirty data is
// lost. It is for a process that gives up on a failed device; it returns
// the first error of closing the device.
func (f *File) Abandon() error {
	f.closeMu.Lock()
	defer f.closeMu.Unlock()
	if f.closed {
		return ErrClosed
	}
	return f.releaseLocked()
}

// releaseLocked stops the engine, unmaps the cache and closes the devices.
// REQUIRES: closeMu held exclusively.
func (f *File) releaseLocked() error {
	f.closed = true
	var errs []error
	errs = append(errs, f.eng.Close(), f.cache.Close(), f.dev.Close())
	return errors.Join(errs...)
}

// Stats describe what the File did since it was opened.
type Stats struct {
	Mode       Mode
	DirtyBytes int64 // bytes of dirty folios in the cache
	CacheBytes int64 // folio memory in use
	Writeback  writeback.Stats
	COW        cow.Stats // the container's space and work (COW mode; zero in native mode)
	LastError  error     // the error of the last writeback pass, nil if it wrote everything
}

// Stats returns the counters. It works after Close too.
func (f *File) Stats() Stats {
	s := Stats{Mode: f.mode, Writeback: f.eng.Stats(), LastError: f.eng.Err()}
	if c, ok := f.dev.(*cow.Device); ok {
		s.COW = c.Stats()
	}
	f.closeMu.RLock()
	defer f.closeMu.RUnlock()
	if !f.closed {
		s.DirtyBytes, s.CacheBytes = f.cache.DirtyBytes(), f.cache.Used()
	}
	return s
}
