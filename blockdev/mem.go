package blockdev

import (
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"
)

// Limits profiles for Mem, after real devices.
var (
	// LimitsNone: a device without untorn writes (ext4 on a plain disk).
	LimitsNone = Limits{BlockSize: 4096, MemAlign: 512}
	// LimitsNVMe: an NVMe drive with 16 KiB atomic write units (AWUPF),
	// all of them done in hardware.
	LimitsNVMe = Limits{BlockSize: 4096, AtomicMin: 4096, AtomicMax: 16 << 10, MemAlign: 512, AtomicHardwareMax: 16 << 10}
	// LimitsNVMe64K: an enterprise NVMe drive with 64 KiB hardware atomic
	// write units.
	LimitsNVMe64K = Limits{BlockSize: 4096, AtomicMin: 4096, AtomicMax: 64 << 10, MemAlign: 512, AtomicHardwareMax: 64 << 10}
	// LimitsXFS: XFS with software (CoW) atomic writes, up to 2 MiB.
	LimitsXFS = Limits{BlockSize: 4096, AtomicMin: 4096, AtomicMax: 2 << 20, MemAlign: 512}
	// LimitsPortable: the portable File's (FileOptions.Portable, and every
	// File on macOS and Windows): 4 KiB blocks, no buffer alignment, no
	// untorn writes. A Mem with these limits is what the layers above see
	// of such a file, with the crash model made explicit.
	LimitsPortable = portableLimits
)

// MemProfiles names every Limits profile, for table-driven tests.
func MemProfiles() map[string]Limits {
	return map[string]Limits{"none": LimitsNone, "nvme": LimitsNVMe, "xfs": LimitsXFS}
}

// Mem is a memory-backed Device that makes the crash model explicit. It
// keeps the durable image (as of the last Flush) apart from the log of
// volatile writes since, so CrashClone can build the device as it would be
// found after a power cut without disturbing the running one.
//
// Every Atomic write it takes (the limits' rules: a power of two up to
// AtomicMax, naturally aligned) survives a crash whole or not at all,
// those up to AtomicHardwareMax as a drive's own atomic writes and the
// larger ones as a file system's software ones; only BreakAtomicAbove
// (a negative control) makes it tear some.
//
// Lock order: mu only.
type Mem struct {
	limits Limits
	// file: made by NewMemFile, it behaves like a regular file (see
	// mem_file.go); limit is the largest size it may take.
	file  bool
	limit int64
	size  atomic.Int64 // the capacity; changes (file only) with mu held exclusively

	mu      sync.RWMutex // guards everything below
	cur     []byte       // what reads see: every completed write (len: the size)
	durable []byte       // the image as of the last completed Flush (len: the size then)
	log     []memWrite   // writes (and, file only, resizes) since the last Flush, in issue order
	stats   MemStats     // write and flush counters
	closed  bool
	// tearAbove: Atomic writes longer than this survive a crash block by
	// block (BreakAtomicAbove); 0 keeps them all whole.
	tearAbove int

	reads, bytesRead atomic.Int64 // read counters, updated under mu held shared
}

var (
	_ Device    = (*Mem)(nil)
	_ Discarder = (*Mem)(nil)
)

// memWrite is one write since the last Flush, or (resize) a size change of
// a Mem made by NewMemFile: the new size is off.
type memWrite struct {
	off    int64
	data   []byte
	flags  Flags
	resize bool
}

// MemStats counts what a Mem was asked to do. Discards and Resizes (of a
// Mem made by NewMemFile) are counted apart from Writes and BytesWritten.
type MemStats struct {
	Reads, Writes, AtomicWrites, FUAWrites, Flushes int64
	BytesRead, BytesWritten                         int64
	Discards, Resizes                               int64
}

// NewMem returns a zeroed Mem of size bytes with limits l (for example
// LimitsXFS). size must be a positive multiple of l.BlockSize; BlockSize
// and MemAlign must be powers of two; atomic limits must be both zero or
// powers of two with BlockSize <= AtomicMin <= AtomicMax.
func NewMem(size int64, l Limits) (*Mem, error) {
	if err := validateMemLimits(size, l); err != nil {
		return nil, err
	}
	m := &Mem{limits: l, limit: size, cur: make([]byte, size), durable: make([]byte, size)}
	m.size.Store(size)
	return m, nil
}

func validateMemLimits(size int64, l Limits) error {
	pow2 := func(v int) bool { return v > 0 && bits.OnesCount(uint(v)) == 1 }
	switch {
	case !pow2(l.BlockSize) || l.MemAlign < 0 || (l.MemAlign > 1 && !pow2(l.MemAlign)):
		return fmt.Errorf("%w: block size %d, memory alignment %d", ErrMisaligned, l.BlockSize, l.MemAlign)
	case size <= 0 || size%int64(l.BlockSize) != 0:
		return fmt.Errorf("%w: size %d is not a positive multiple of %d", ErrOutOfRange, size, l.BlockSize)
	case l.AtomicMax == 0 && l.AtomicMin == 0:
		return nil
	case !pow2(l.AtomicMin) || !pow2(l.AtomicMax) || l.AtomicMin < l.BlockSize || l.AtomicMax < l.AtomicMin:
		return fmt.Errorf("%w: atomic limits [%d, %d] with block size %d", ErrAtomicInvalid, l.AtomicMin, l.AtomicMax, l.BlockSize)
	}
	if hw := l.AtomicHardwareMax; hw != 0 && (!pow2(hw) || hw < l.AtomicMin || hw > l.AtomicMax) {
		return fmt.Errorf("%w: hardware atomic limit %d outside [%d, %d]", ErrAtomicInvalid, hw, l.AtomicMin, l.AtomicMax)
	}
	return nil
}

// BreakAtomicAbove makes m a device that overstates its untorn writes: it
// goes on taking Atomic writes up to AtomicMax, but from now on those
// longer than n bytes survive a crash block by block, as plain writes do
// (and so do the crash clones of m). n <= 0 restores the honest model.
// It exists for negative controls (a hardware limit reported larger than
// the drive has must be caught as torn); never call it outside a test.
func (m *Mem) BreakAtomicAbove(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tearAbove = max(n, 0)
}

// Size returns the capacity in bytes.
func (m *Mem) Size() int64 { return m.size.Load() }

// Limits returns the limits given to NewMem.
func (m *Mem) Limits() Limits { return m.limits }

// Stats returns the operation counters.
func (m *Mem) Stats() MemStats {
	m.mu.RLock()
	defer m.mu.RUnlock()
	s := m.stats
	s.Reads, s.BytesRead = m.reads.Load(), m.bytesRead.Load()
	return s
}

// ReadAt reads the latest completed writes.
func (m *Mem) ReadAt(p []byte, off int64) (int, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := CheckIO(m.limits, m.Size(), p, off, 0); err != nil {
		return 0, &OpError{Op: "read", Off: off, Len: len(p), Err: err}
	}
	if m.closed {
		return 0, &OpError{Op: "read", Off: off, Len: len(p), Err: ErrClosed}
	}
	m.reads.Add(1)
	m.bytesRead.Add(int64(len(p)))
	return copy(p, m.cur[off:]), nil
}

// WriteAt applies p at off and records it as volatile (durable at once with
// FUA, as far as CrashClone is concerned).
func (m *Mem) WriteAt(p []byte, off int64, flags Flags) (int, error) {
	data := make([]byte, len(p))
	copy(data, p)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := CheckIO(m.limits, m.Size(), p, off, flags); err != nil {
		return 0, &OpError{Op: opName(flags, true), Off: off, Len: len(p), Err: err}
	}
	if m.closed {
		return 0, &OpError{Op: opName(flags, true), Off: off, Len: len(p), Err: ErrClosed}
	}
	copy(m.cur[off:], p)
	m.log = append(m.log, memWrite{off: off, data: data, flags: flags})
	m.stats.Writes++
	m.stats.BytesWritten += int64(len(p))
	if flags&Atomic != 0 {
		m.stats.AtomicWrites++
	}
	if flags&FUA != 0 {
		m.stats.FUAWrites++
	}
	return len(p), nil
}

// Discard zeros [off, off+n) in what reads see and records it as a
// volatile plain write of zeros: until the next Flush, CrashClone keeps any
// subset of its blocks, as for any plain write. Mem has no holes; its memory
// use does not change.
func (m *Mem) Discard(off, n int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := checkRange(m.limits, m.Size(), off, n); err != nil {
		return &OpError{Op: "discard", Off: off, Len: int(n), Err: err}
	}
	zeros := make([]byte, n)
	if m.closed {
		return &OpError{Op: "discard", Off: off, Len: int(n), Err: ErrClosed}
	}
	m.stats.Discards++
	if n == 0 {
		return nil
	}
	copy(m.cur[off:], zeros)
	m.log = append(m.log, memWrite{off: off, data: zeros})
	return nil
}

// Flush makes every completed write durable.
func (m *Mem) Flush() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return &OpError{Op: "flush", Off: -1, Err: ErrClosed}
	}
	for _, w := range m.log {
		if w.resize {
			m.durable = resized(m.durable, w.off)
			continue
		}
		copy(m.durable[w.off:], w.data)
	}
	m.log = m.log[:0]
	m.stats.Flushes++
	return nil
}

// Close makes the Mem unusable; CrashClone still works on it (power can
// fail after a process closed its files).
func (m *Mem) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return &OpError{Op: "close", Off: -1, Err: ErrClosed}
	}
	m.closed = true
	return nil
}

// Volatile returns the number of writes not yet made durable by a Flush
// (FUA writes included: they stay in the log to keep issue order).
func (m *Mem) Volatile() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.log)
}
