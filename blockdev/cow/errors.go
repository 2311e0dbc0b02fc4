package cow

import (
	"errors"
	"fmt"
	"github.com/untorn/untorn/blockdev"
)

// Sentinel errors. Errors returned by this package wrap one of these (and,
// for I/O failures, the inner device's error), so match them with errors.Is.
var (
	// ErrNotFormatted: Open found no COW superblock on the device (for
	// example an all-zero device). Format it first.
	ErrNotFormatted = errors.New("cow: device is not formatted")

	// ErrCorrupt: the device holds damage that is not the torn tail of a
	// crash: both roots (superblock copy and the checkpoint it names)
	// damaged; a record in the middle of the log that fails its checksum
	// while a later record shows it had been durable; a record that passes
	// its checksum but names an impossible place; or, from ReadAt, a data
	// block that does not match its checksum. The message names where.
	// Open returns it without writing anything (see Options.Salvage).
	ErrCorrupt = blockdev.ErrCorrupt

	// ErrVersion: the device holds a COW container of an on-disk format
	// version this code does not read (an older or newer release wrote
	// it). Nothing was written. Copy the data out with the release that
	// wrote it.
	ErrVersion = errors.New("cow: unsupported on-disk format version")

	// ErrIncompleteFormat: the device holds a Format that was cut before it
	// completed (a power cut or a killed process): no data was ever
	// committed there, so it may be formatted again. It also wraps
	// ErrNotFormatted.
	ErrIncompleteFormat = fmt.Errorf("%w: format was interrupted", ErrNotFormatted)

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

	// ErrFailed: a write or flush of the inner device failed (it also
	// wraps that error, e.g. syscall.ENOSPC or EIO), so the device's
	// on-disk state is unknown to it until it has read it again. The next
	// WriteAt, CommitBatch, Flush or CleanAhead first recovers from the
	// inner device exactly as Open does and, when that works, goes on: a
	// transient error (ENOSPC until space is freed, an EIO that goes away)
	// costs nothing that had been flushed, and a write that failed may or
	// may not have been committed, whole either way. When recovery finds
	// corruption the device stays failed (wrapping ErrCorrupt) and
	// refuses writes until it is reopened.
	ErrFailed = errors.New("cow: device failed")
)
