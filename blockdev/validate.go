package blockdev

import (
	"fmt"
	"math/bits"
	"unsafe"
)

// CheckAtomic applies the RWF_ATOMIC rules to an Atomic write of n bytes at
// off on a device with limits l: n is a power of two with
// l.AtomicMin <= n <= l.AtomicMax and off is a multiple of n. It returns nil,
// an error wrapping ErrAtomicUnsupported when l has no untorn writes, or one
// wrapping ErrAtomicInvalid. Every Device implementation uses it, and so can
// callers that want to know in advance whether a write would be accepted.
func CheckAtomic(l Limits, off int64, n int) error {
	switch {
	case l.AtomicMax <= 0:
		return ErrAtomicUnsupported
	case n <= 0 || bits.OnesCount64(uint64(n)) != 1:
		return fmt.Errorf("%w: length %d is not a power of two", ErrAtomicInvalid, n)
	case n < l.AtomicMin:
		return fmt.Errorf("%w: length %d below the minimum %d", ErrAtomicInvalid, n, l.AtomicMin)
	case n > l.AtomicMax:
		return fmt.Errorf("%w: length %d above the maximum %d", ErrAtomicInvalid, n, l.AtomicMax)
	case off%int64(n) != 0:
		return fmt.Errorf("%w: offset %d is not a multiple of the length %d", ErrAtomicInvalid, off, n)
	}
	return nil
}

// CheckIO validates an access of len(p) bytes at off on a device of the
// given size and limits: block alignment of off and len(p), MemAlign
// alignment of p's address, and the range [0, size). For writes with the
// Atomic flag it also applies CheckAtomic. It returns nil or an error
// wrapping ErrMisaligned, ErrOutOfRange, ErrAtomicInvalid or
// ErrAtomicUnsupported.
func CheckIO(l Limits, size int64, p []byte, off int64, flags Flags) error {
	n := len(p)
	bs := int64(max(l.BlockSize, 1))
	switch {
	case off < 0 || off > size || int64(n) > size-off:
		return fmt.Errorf("%w: [%d, %d) on a device of %d bytes", ErrOutOfRange, off, off+int64(n), size)
	case off%bs != 0 || int64(n)%bs != 0:
		return fmt.Errorf("%w: [%d, +%d) is not a multiple of the block size %d", ErrMisaligned, off, n, bs)
	case !IsAligned(p, l.MemAlign):
		return fmt.Errorf("%w: buffer address is not %d-byte aligned", ErrMisaligned, l.MemAlign)
	}
	if flags&Atomic != 0 {
		return CheckAtomic(l, off, n)
	}
	return nil
}

// IsAligned reports whether p's first byte lies on an align-byte boundary.
// An empty buffer and align <= 1 are always aligned.
func IsAligned(p []byte, align int) bool {
	if align <= 1 || cap(p) == 0 {
		return true
	}
	return uintptr(unsafe.Pointer(unsafe.SliceData(p)))%uintptr(align) == 0
}

// AlignedBuffer returns a zeroed buffer of n bytes whose address is a
// multiple of align, suitable for a Device whose Limits().MemAlign is align
// (O_DIRECT). It returns nil for n < 0; align <= 1 means no alignment.
// The buffer lives on the Go heap, which does not move objects.
func AlignedBuffer(n, align int) []byte {
	if n < 0 {
		return nil
	}
	if align <= 1 {
		return make([]byte, n)
	}
	raw := make([]byte, n+align)
	skip := 0
	if r := int(uintptr(unsafe.Pointer(unsafe.SliceData(raw))) % uintptr(align)); r != 0 {
		skip = align - r
	}
	return raw[skip : skip+n : skip+n]
}
