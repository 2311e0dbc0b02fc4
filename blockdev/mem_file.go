package blockdev

import "fmt"

// NewMemFile returns a zeroed Mem of size bytes that behaves like a
// regular file: it is a Resizer (Resizable reports true) whose size may
// change to anything up to limit bytes, and its size is part of the crash
// model. A Resize is volatile like a write until the next Flush (or a FUA
// write after it, which commits it as RWF_DSYNC commits a file's size): at
// a crash the size is the one after some prefix of the resizes since the
// last Flush, whatever a cut that survived cut reads as zeros if the Mem
// grows again, and writes past the size that survived are gone (see
// CrashClone). size may be 0; limit must be a positive multiple of the
// block size, at least size. Its memory follows its size. NewMem makes a
// Mem of fixed size, as a block device has.
func NewMemFile(size, limit int64, l Limits) (*Mem, error) {
	if err := validateMemLimits(limit, l); err != nil {
		return nil, err
	}
	if err := checkSize(l, size); err != nil || size > limit {
		return nil, fmt.Errorf("%w: size %d with a limit of %d", ErrOutOfRange, size, limit)
	}
	m := &Mem{limits: l, file: true, limit: limit, cur: make([]byte, size), durable: make([]byte, size)}
	m.size.Store(size)
	return m, nil
}

var _ Resizer = (*Mem)(nil)

// Resize sets the size of a Mem made by NewMemFile (see Resizer): a cut
// zeros what it cut, growth reads as zeros. Past the limit it fails with
// ErrOutOfRange (as ftruncate past a file system's largest file fails with
// EFBIG). A Mem made by NewMem fails with ErrNotSupported (after the checks
// of the size).
func (m *Mem) Resize(size int64) error {
	if err := checkSize(m.limits, size); err != nil {
		return &OpError{Op: "resize", Off: size, Err: err}
	}
	if !m.file {
		return &OpError{Op: "resize", Off: size, Err: fmt.Errorf("%w: a Mem made by NewMem has a fixed size", ErrNotSupported)}
	}
	if size > m.limit {
		return &OpError{Op: "resize", Off: size, Err: fmt.Errorf("%w: size %d past the limit %d", ErrOutOfRange, size, m.limit)}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return &OpError{Op: "resize", Off: size, Err: ErrClosed}
	}
	m.cur = resized(m.cur, size)
	m.log = append(m.log, memWrite{off: size, resize: true})
	m.stats.Resizes++
	m.size.Store(size)
	return nil
}

// Allocate checks the range (for a Mem made by NewMemFile it may lie past
// the size, within the limit) and does nothing else: memory is allocated
// as the size grows. A Mem made by NewMem fails with ErrNotSupported.
func (m *Mem) Allocate(off, n int64) error {
	if err := checkRange(m.limits, m.limit, off, n); err != nil {
		return &OpError{Op: "allocate", Off: off, Len: int(n), Err: err}
	}
	if !m.file {
		return &OpError{Op: "allocate", Off: off, Len: int(n), Err: fmt.Errorf("%w: a Mem made by NewMem has a fixed size", ErrNotSupported)}
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return &OpError{Op: "allocate", Off: off, Len: int(n), Err: ErrClosed}
	}
	return nil
}

// resized returns b with length n: cut (what was cut zeroed, so that it
// reads as zeros when b grows within its capacity again) or grown with
// zeros.
func resized(b []byte, n int64) []byte {
	if n <= int64(len(b)) {
		clear(b[n:])
		return b[:n]
	}
	return append(b, make([]byte, n-int64(len(b)))...)
}
