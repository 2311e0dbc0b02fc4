package cow

import "errors"

// Sentinel errors. Errors returned by this package wrap one of these (and,
// for I/O failures, the inner device's error), so match them with errors.Is.
var (
	// ErrNotFormatted: Open found no COW superblock on the device (for
	// example an all-zero device). Format it first.
	ErrNotFormatted = errors.New("cow: device is not formatted")

	// ErrCorrupt: Open found a superblock but no consistent state: both
	// superblock copies damaged, the checkpoint they name damaged, or a
	// record that passes its checksum but names an impossible place.
	ErrCorrupt = errors.New("cow: device is corrupt")

	// ErrTooSmall: Format was asked for a logical size (or options) that do
	// not fit on the inner device with the documented overhead.
	ErrTooSmall = errors.New("cow: inner device too small")

	// ErrInvalidOptions: an option is out of range (not a power of two, too
	// small, inconsistent with another).
	ErrInvalidOptions = errors.New("cow: invalid options")

	// ErrNoSpace: the cleaner could not free space for a write. It does not
	// happen while the logical data fits (see the package documentation);
	// it marks a bug or a damaged device. Nothing was written.
	ErrNoSpace = errors.New("cow: no free space")

	// ErrFailed: an earlier write or flush of the inner device failed, so
	// the device refuses further writes and flushes (reads still work and
	// see the last successful commit). Open the inner device again to
	// recover what was committed.
	ErrFailed = errors.New("cow: device failed")
)
