package blockdev

import "errors"

// Sentinel errors. Every error a Device returns for one of these conditions
// wraps the matching sentinel, so callers test with errors.Is.
var (
	// ErrAtomicInvalid: an Atomic write broke the RWF_ATOMIC rules (length
	// not a power of two, outside [AtomicMin, AtomicMax], or offset not a
	// multiple of the length). Nothing was written.
	ErrAtomicInvalid = errors.New("blockdev: invalid atomic write")

	// ErrAtomicUnsupported: an Atomic write to a device whose Limits have
	// AtomicMax == 0. Nothing was written.
	ErrAtomicUnsupported = errors.New("blockdev: device has no untorn writes")

	// ErrMisaligned: an offset or length that is not a multiple of BlockSize,
	// or a buffer whose address is not MemAlign-aligned. Nothing was done.
	ErrMisaligned = errors.New("blockdev: misaligned offset, length or buffer")

	// ErrOutOfRange: an access below 0 or past Size(). Nothing was done.
	ErrOutOfRange = errors.New("blockdev: access out of range")

	// ErrClosed: the device was closed.
	ErrClosed = errors.New("blockdev: device closed")

	// ErrShortWrite: the operating system accepted only part of an Atomic
	// write. The range must be treated as unknown until rewritten.
	ErrShortWrite = errors.New("blockdev: short write")

	// ErrLocked: OpenFile found the file open (and locked) elsewhere: two
	// writers would corrupt it.
	ErrLocked = errors.New("blockdev: file is locked by another open")

	// ErrNotSupported: the device does not offer the operation (Discard,
	// Resize or Allocate on a FaultDevice over a device without it, Resize
	// on a block device, Allocate on a file system without fallocate).
	// Nothing was done.
	ErrNotSupported = errors.New("blockdev: operation not supported by the device")

	// ErrCorrupt: the device's content is damaged in a way that is not the
	// torn tail of a crash (a checksum that fails where a later record
	// proves the data had been durable, a damaged root, a data block that
	// fails its checksum on read). The message names where. Devices that
	// checksum their content (blockdev/cow, blockdev/journal) return it;
	// they never return wrong data silently instead.
	ErrCorrupt = errors.New("blockdev: device content is corrupt")
	// ErrInjected marks an error produced by a fault Injector; it is always
	// joined with the errno it simulates (syscall.EIO, syscall.ENOSPC).
	ErrInjected = errors.New("blockdev: injected fault")
)
