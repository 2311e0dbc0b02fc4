package atomicio

import (
	"errors"
	"fmt"

	"github.com/untorn/untorn/pagecache"
	"github.com/untorn/untorn/writeback"
)

// WriteAt writes p at off in f as one untorn write: after any crash the
// range [off, off+len(p)) reads either entirely as before or entirely as
// this write (or later writes) left it, never a mix. It returns at memory
// speed; the data is durable after the next successful Sync (or at once
// with Options.WriteThrough). No alignment is needed.
//
// It writes all of p or nothing: len(p) and nil, or 0 and an error that
// wraps ErrTooLarge (len(p) > MaxAtomic, or a unit the device path cannot
// write untorn), ErrOutOfRange, ErrInvalid, ErrNoMemory or ErrClosed. An
// empty p is a no-op.
func WriteAt(f *File, p []byte, off int64) (n int, err error) {
	if f == nil {
		return 0, fmt.Errorf("%w: nil File", ErrInvalid)
	}
	return f.write(p, off, true)
}

// WriteAt writes p at off in f as a plain buffered write (io.WriterAt):
// all of p is copied into the cache or nothing is, but after a crash the
// range may be torn at block granularity, as with pwrite. A plain write
// inside a dirty untorn range becomes part of that range's unit.
func (f *File) WriteAt(p []byte, off int64) (n int, err error) {
	return f.write(p, off, false)
}

func (f *File) write(p []byte, off int64, untorn bool) (int, error) {
	f.closeMu.RLock()
	defer f.closeMu.RUnlock()
	switch {
	case f.closed:
		return 0, ErrClosed
	case off < 0:
		return 0, fmt.Errorf("%w: negative offset %d", ErrInvalid, off)
	case len(p) == 0:
		return 0, nil
	case off > f.maxSize || int64(len(p)) > f.maxSize-off:
		return 0, fmt.Errorf("%w: [%d, %d) past the largest size %d", ErrOutOfRange, off, off+int64(len(p)), f.maxSize)
	case untorn && len(p) > f.opts.MaxAtomic:
		return 0, fmt.Errorf("%w: %d bytes, the limit is %d (Options.MaxAtomic)", ErrTooLarge, len(p), f.opts.MaxAtomic)
	}
	if err := f.lockForWrite(off, off+int64(len(p)), untorn); err != nil {
		return 0, err
	}
	defer f.sizeMu.RUnlock()
	w := f.waits.Get().(*writeWait)
	err := f.eng.Write(w, p, off, untorn)
	w.reset()
	f.waits.Put(w)
	if err != nil {
		return 0, wrapWriteErr(err)
	}
	if f.opts.WriteThrough {
		if err := f.eng.Sync(); err != nil {
			return len(p), fmt.Errorf("atomicio: write-through sync: %w", err)
		}
	}
	return len(p), nil
}

func wrapWriteErr(err error) error {
	switch {
	case errors.Is(err, writeback.ErrTooLarge):
		return fmt.Errorf("%w: %w", ErrTooLarge, err)
	case errors.Is(err, pagecache.ErrNoMemory):
		return fmt.Errorf("%w: %w", ErrNoMemory, err)
	case errors.Is(err, writeback.ErrClosed), errors.Is(err, pagecache.ErrClosed):
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return fmt.Errorf("atomicio: write: %w", err)
}
