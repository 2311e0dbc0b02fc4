package atomicio

import (
	"context"
	"fmt"
	"io"

	"github.com/untorn/untorn/pagecache"
)

// ReadAt reads len(p) bytes at off (io.ReaderAt): the latest data written,
// from the cache or from the device. Misses read ahead sequentially and
// fill the cache. It returns io.EOF when the range runs past Size.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	f.closeMu.RLock()
	defer f.closeMu.RUnlock()
	if f.closed {
		return 0, ErrClosed
	}
	f.sizeMu.RLock()
	defer f.sizeMu.RUnlock()
	size := f.eng.Size()
	switch {
	case off < 0:
		return 0, fmt.Errorf("%w: negative offset %d", ErrInvalid, off)
	case off >= size:
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	want := p
	if int64(len(p)) > size-off {
		want = p[:size-off]
	}
	done := 0
	for done < len(want) {
		n, gap, err := f.cache.Read(want[done:], off+int64(done))
		done += n
		if err != nil {
			return done, fmt.Errorf("atomicio: read: %w", err)
		}
		if done == len(want) {
			break
		}
		n, err = f.readMiss(want[done:], off+int64(done), gap, size)
		done += n
		if err != nil {
			return done, err
		}
	}
	if len(want) < len(p) {
		return done, io.EOF
	}
	return done, nil
}

// readMiss reads the device for a miss at pos (the gap the cache reported
// starts at pos rounded down to a page), copies what p needs, and caches
// what it read. Its buffer comes from the File's read buffers, carved out
// of its Cache: when they are all in use it waits for one.
func (f *File) readMiss(p []byte, pos int64, gap pagecache.Extent, size int64) (int, error) {
	f.raMu.Lock()
	ext := f.ra.OnMiss(pos, len(p))
	f.raMu.Unlock()
	// Read at least the gap's first page and at most maxRead, within the device.
	lo := ext.Off
	hi := min(ext.Off+ext.Len, lo+f.maxRead, ceilTo(size, pagecache.PageSize), f.dev.Size())
	b, err := f.readBufs.Get(context.Background(), int(hi-lo))
	if err != nil {
		return 0, fmt.Errorf("atomicio: read buffer: %w", err)
	}
	defer f.readBufs.Put(b)
	buf := b.Data
	seq := f.eng.ReadSeq()
	if err := f.eng.ReadDevice(buf, lo); err != nil {
		return 0, fmt.Errorf("atomicio: read [%d, %d): %w", lo, hi, err)
	}
	// Only the gap's bytes are served from the device: past it the cache
	// may hold newer data.
	gapEnd := min(gap.Off+gap.Len, hi)
	n := copy(p, buf[pos-lo:gapEnd-lo])
	f.eng.FillIfCurrent(seq, lo, buf)
	return n, nil
}
