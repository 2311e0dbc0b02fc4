package blockdev

import "strings"

// Flags modify a WriteAt.
type Flags uint32

const (
	// Atomic asks for an untorn write: after a crash all of the write or
	// none of it is on the device. See CheckAtomic for the rules it obeys.
	Atomic Flags = 1 << iota
	// FUA asks for a durable write: it is on stable storage when WriteAt
	// returns (it says nothing about earlier writes).
	FUA
)

// String returns "Atomic|FUA", "Atomic", "FUA" or "0".
func (f Flags) String() string {
	var parts []string
	if f&Atomic != 0 {
		parts = append(parts, "Atomic")
	}
	if f&FUA != 0 {
		parts = append(parts, "FUA")
	}
	if rest := f &^ (Atomic | FUA); rest != 0 {
		parts = append(parts, "unknown")
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, "|")
}

// Limits describe what a device accepts.
type Limits struct {
	BlockSize int // addressing unit and the unit in which a plain write can tear (512 or 4096)
	AtomicMin int // smallest untorn write; 0 when the device has no untorn writes
	AtomicMax int // largest untorn write; 0 when the device has no untorn writes
	MemAlign  int // alignment the buffers given to ReadAt/WriteAt must have (O_DIRECT)
	// AtomicHardwareMax is the largest untorn write the device does in
	// hardware, at full speed (a drive's own atomic write unit, REQ_ATOMIC):
	// 0 when it does none or the kernel reports no such figure (XFS's
	// software atomic writes). When not 0 it is a power of two with
	// AtomicMin <= AtomicHardwareMax <= AtomicMax: an Atomic write of at
	// most this many bytes (naturally aligned, as every Atomic write) costs
	// no more than a plain one.
	AtomicHardwareMax int
}

// HardwareUnit reports whether an Atomic write of n bytes at off is one
// the device does in hardware: a power of two within [AtomicMin,
// AtomicHardwareMax] at a multiple of itself.
func (l Limits) HardwareUnit(off int64, n int) bool {
	return l.AtomicHardwareMax > 0 && n <= l.AtomicHardwareMax && CheckAtomic(l, off, n) == nil
}

// HasAtomic reports whether the device offers untorn writes at all.
func (l Limits) HasAtomic() bool { return l.AtomicMax > 0 }

// Device is a block device: a capacity that changes only through Resizer,
// block-aligned I/O, an explicit crash model. The rules every
// implementation keeps:
//
//   - Offsets and lengths are multiples of BlockSize and buffers are
//     MemAlign-aligned; otherwise the call fails with ErrMisaligned.
//   - Accesses must lie within [0, Size()); otherwise ErrOutOfRange.
//   - An Atomic write obeys CheckAtomic (the RWF_ATOMIC rules); otherwise it
//     fails with ErrAtomicInvalid, or ErrAtomicUnsupported on a device with
//     AtomicMax == 0, and writes nothing.
//   - Reads see every completed write (read-your-writes), durable or not.
//   - Crash model: a write is volatile until a later Flush returns, unless it
//     had FUA. At a crash any subset of the volatile writes survives, applied
//     in issue order; a plain write survives block by block (it can tear at
//     BlockSize), an Atomic write survives whole or not at all.
//   - Safe for concurrent use. A failed write or flush is always reported to
//     its caller. After Close every method but Size and Limits returns
//     ErrClosed.
type Device interface {
	ReadAt(p []byte, off int64) (n int, err error)
	WriteAt(p []byte, off int64, flags Flags) (n int, err error)
	Flush() error // everything written before Flush was called is durable when it returns
	Size() int64  // capacity in bytes, a multiple of BlockSize
	Limits() Limits
	Close() error
}
