package atomicio

import (
	"fmt"

	"github.com/untorn/untorn/pagecache"
)

// Truncate changes the file size to size, as os.File.Truncate does: bytes
// past size are dropped, a grown file reads as zeros up to size. It is a
// batch of one Truncate (see Batch): the cut is in the cache at once and
// reaches the device with the next writeback, in COW mode in one
// transaction with the size, so after a crash the file shows the old size
// and content or the new ones, and once a Sync has returned after it the
// bytes cut off never come back. A size past MaxSize fails with
// ErrOutOfRange. In native mode the file stays a plain file: Truncate
// writes back what is dirty, then resizes it with ftruncate at once (a
// size that is not a multiple of the block size fails with
// ErrNotSupported); the new size is durable with the next Sync, and a
// crash before it shows the old size or the new one, not tied to the
// writes around it as in COW mode.
func (f *File) Truncate(size int64) error {
	b := f.NewBatch()
	if err := b.Truncate(size); err != nil {
		return err
	}
	return b.Commit()
}

// lockForWrite takes sizeMu shared for a write of [off, end); in native
// mode it first grows the file to cover the write's unit when it ends
// past the size. On success the caller holds sizeMu shared.
func (f *File) lockForWrite(off, end int64, untorn bool) error {
	for {
		f.sizeMu.RLock()
		if f.mode != ModeNative || end <= f.eng.Size() {
			return nil
		}
		f.sizeMu.RUnlock()
		if err := f.growNative(off, end, untorn); err != nil {
			return err
		}
	}
}

// nativeAllocStep is how far ahead of the size a native file's space is
// allocated (fallocate, FALLOC_FL_KEEP_SIZE), so that the untorn write
// path does not allocate blocks write by write.
const nativeAllocStep = 64 << 20

// growNative extends a native file so that a write of [off, end) fits:
// to the end of the block, or of the untorn unit, that holds end. A
// native file's size therefore moves in whole blocks (a page-aligned
// engine never sees the difference).
func (f *File) growNative(off, end int64, untorn bool) error {
	if f.resizer == nil {
		return fmt.Errorf("%w: native mode on a device of fixed size %d: [%d, %d) lies past it", ErrOutOfRange, f.eng.Size(), off, end)
	}
	f.sizeMu.Lock()
	defer f.sizeMu.Unlock()
	size := f.eng.Size()
	if end <= size {
		return nil
	}
	newSize := ceilTo(end, pagecache.PageSize)
	if untorn {
		_, hi := f.eng.UnitOf(off, end)
		newSize = max(newSize, hi)
	}
	return f.resizeNativeLocked(size, newSize)
}

// resizeNativeLocked sets a native file's size: the cache and the side-car
// lose what lies past a smaller size, the file is resized (ftruncate), and
// the space ahead of a larger one is allocated in nativeAllocStep steps.
// REQUIRES: sizeMu held exclusively.
func (f *File) resizeNativeLocked(old, size int64) error {
	bs := int64(f.dev.Limits().BlockSize)
	if size%bs != 0 {
		return fmt.Errorf("%w: native mode: size %d is not a multiple of the block size %d", ErrNotSupported, size, bs)
	}
	if f.resizer == nil {
		return fmt.Errorf("%w: native mode on a device of fixed size", ErrNotSupported)
	}
	if size < old {
		if err := f.eng.Cut(size); err != nil {
			return fmt.Errorf("atomicio: truncate: %w", err)
		}
	}
	if err := f.resizer.Resize(size); err != nil {
		return fmt.Errorf("atomicio: resize to %d: %w", size, err)
	}
	if size > old && size/nativeAllocStep != old/nativeAllocStep {
		// Allocation ahead is an optimisation: a file system without it
		// (or without the space now) allocates on write instead.
		_ = f.resizer.Allocate(size, ceilTo(size, nativeAllocStep)+nativeAllocStep-size)
	}
	return f.eng.SetSize(size)
}
