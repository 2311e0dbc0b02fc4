package journal

import (
	"errors"

	"github.com/untorn/untorn/blockdev"
)

// Sentinel errors. Errors returned by this package wrap one of these (and,
// for I/O failures, the device's error, e.g. syscall.ENOSPC), so match
// them with errors.Is.
var (
	// ErrNotFormatted: Open found no journal header on the journal device
	// (an all-zero device). Format it first.
	ErrNotFormatted = errors.New("journal: device is not formatted")
	// ErrCorrupt: the journal holds damage that is not the torn tail of a
	// crash: both header copies damaged, a record that fails its checksum
	// while a later record shows it had been durable, or a record that
	// passes its checksum but names an impossible place. Open returns it
	// without writing anything to either device (see Options.Salvage). It
	// is blockdev.ErrCorrupt.
	ErrCorrupt = blockdev.ErrCorrupt
	// ErrVersion: the journal header has an on-disk format version this
	// code does not read. Nothing was written.
	ErrVersion = errors.New("journal: unsupported on-disk format version")
	// ErrTooLarge: a transaction needs more room than the journal has, even
	// empty, and the journal device cannot grow (a fixed device). Nothing
	// was written.
	ErrTooLarge = errors.New("journal: transaction larger than the journal")
	// ErrInvalidOptions: an option is out of range, or the two devices do
	// not fit together (block sizes, a data device smaller than the
	// logical size it must hold).
	ErrInvalidOptions = errors.New("journal: invalid options")
)
