package blockdev

import "fmt"

// VectorWriter is a Device that writes several buffers back to back as one
// write (pwritev), so that a caller can send data from where it lies
// instead of copying it into one buffer first. File, Mem and FaultDevice
// implement it (a FaultDevice only as far as the device it wraps does).
type VectorWriter interface {
	Device
	// WritevAt writes bufs back to back at off, exactly as WriteAt would
	// write their concatenation: the same checks (each buffer a multiple
	// of BlockSize and MemAlign-aligned), the same crash model (a plain
	// write may tear at BlockSize; FUA is durable on return). Atomic takes
	// one buffer only: more fail with ErrAtomicInvalid and write nothing.
	WritevAt(bufs [][]byte, off int64, flags Flags) (int, error)
}

var (
	_ VectorWriter = (*File)(nil)
	_ VectorWriter = (*Mem)(nil)
	_ VectorWriter = (*FaultDevice)(nil)
)

// maxIOV is how many buffers one pwritev takes (IOV_MAX on Linux).
const maxIOV = 1024

// CheckVector checks a vectored write of bufs at off as CheckIO checks a
// write of their concatenation, and returns its length.
func CheckVector(l Limits, size int64, bufs [][]byte, off int64, flags Flags) (int, error) {
	n := 0
	bs := max(l.BlockSize, 1)
	for _, b := range bufs {
		if len(b)%bs != 0 || !IsAligned(b, l.MemAlign) {
			return 0, fmt.Errorf("%w: a buffer of %d bytes is not a multiple of the block size %d or not %d-byte aligned",
				ErrMisaligned, len(b), bs, l.MemAlign)
		}
		n += len(b)
	}
	if flags&Atomic != 0 && len(bufs) > 1 {
		return 0, fmt.Errorf("%w: an untorn write takes one buffer, got %d", ErrAtomicInvalid, len(bufs))
	}
	if err := checkRange(l, size, off, int64(n)); err != nil {
		return 0, err
	}
	if flags&Atomic != 0 {
		return n, CheckAtomic(l, off, n)
	}
	return n, nil
}

// WritevAt writes bufs at off: with pwritev2(2) on the native File (see
// writevNative); one positioned write per buffer, then the flush for FUA,
// on the portable one (a vectored plain write may tear at BlockSize
// anyway).
func (f *File) WritevAt(bufs [][]byte, off int64, flags Flags) (int, error) {
	if flags&Atomic != 0 && len(bufs) == 1 {
		// WriteAt takes closeMu itself: taking it here first would read-lock
		// it twice, which deadlocks against a Close waiting in between.
		return f.WriteAt(bufs[0], off, flags)
	}
	op := opName(flags, true)
	f.closeMu.RLock()
	defer f.closeMu.RUnlock()
	total, err := CheckVector(f.limits, f.size.Load(), bufs, off, flags)
	if err != nil {
		return 0, &OpError{Op: op, Path: f.path, Off: off, Len: total, Err: err}
	}
	if f.closed {
		return 0, &OpError{Op: op, Path: f.path, Off: off, Len: total, Err: ErrClosed}
	}
	if f.native {
		return f.writevNative(bufs, off, flags, total)
	}
	done := 0
	for _, b := range bufs {
		n, err := f.osf.WriteAt(b, off+int64(done))
		done += n
		if err == nil && n < len(b) {
			err = ErrShortWrite
		}
		if err != nil {
			return done, &OpError{Op: op, Path: f.path, Off: off + int64(done), Len: total - done, Err: osErr(err)}
		}
	}
	if flags&FUA != 0 {
		if err := f.syncData(); err != nil {
			return done, &OpError{Op: op, Path: f.path, Off: off, Len: total, Err: err}
		}
	}
	return done, nil
}

// skipBytes drops the first n bytes of bufs (a short write's part).
func skipBytes(bufs [][]byte, n int) [][]byte {
	for n > 0 && len(bufs) > 0 {
		if n < len(bufs[0]) {
			rest := make([][]byte, len(bufs))
			copy(rest, bufs)
			rest[0] = rest[0][n:]
			return rest
		}
		n -= len(bufs[0])
		bufs = bufs[1:]
	}
	return bufs
}

// WritevAt writes the concatenation of bufs at off as one WriteAt (one
// logged write in the crash model).
func (m *Mem) WritevAt(bufs [][]byte, off int64, flags Flags) (int, error) {
	total, err := CheckVector(m.limits, m.Size(), bufs, off, flags)
	if err != nil {
		return 0, &OpError{Op: opName(flags, true), Off: off, Len: total, Err: err}
	}
	return m.WriteAt(concat(bufs, total, m.limits.MemAlign), off, flags)
}

// WritevAt injects once for the whole write (numbered and offered as one
// write of the total length), then writes to the inner device: vectored
// when it is a VectorWriter, else as one WriteAt of the concatenation.
func (d *FaultDevice) WritevAt(bufs [][]byte, off int64, flags Flags) (int, error) {
	kind := OpWrite
	if flags&Atomic != 0 {
		kind = OpAtomicWrite
	}
	total := 0
	for _, b := range bufs {
		total += len(b)
	}
	if err := d.inject(kind, off, total, flags); err != nil {
		return 0, err
	}
	if vw, ok := d.inner.(VectorWriter); ok {
		return vw.WritevAt(bufs, off, flags)
	}
	return d.inner.WriteAt(concat(bufs, total, d.inner.Limits().MemAlign), off, flags)
}

// concat copies bufs, total bytes in all, into one align-aligned buffer.
func concat(bufs [][]byte, total, align int) []byte {
	p := AlignedBuffer(total, align)
	at := 0
	for _, b := range bufs {
		at += copy(p[at:], b)
	}
	return p
}
