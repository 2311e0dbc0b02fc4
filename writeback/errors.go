package writeback

import "errors"

// Sentinel errors of the package; match with errors.Is.
var (
	// ErrTooLarge: an untorn write whose unit (the range the device path
	// must write in one piece) exceeds what that path can write untorn.
	// Nothing was written.
	ErrTooLarge = errors.New("writeback: untorn write too large for the device path")
	// ErrClosed: the engine was closed.
	ErrClosed = errors.New("writeback: closed")
	// ErrInvalid: a bad configuration, offset or length.
	ErrInvalid = errors.New("writeback: invalid argument")
	// errSkipped ends the writeback of folios whose group could not be
	// written in this pass (a writer held one of them); they stay dirty.
	errSkipped = errors.New("writeback: skipped, retried in a later pass")
	// errNoScratch: no unit buffer was free for a native unit; its group
	// waits for a later pass.
	errNoScratch = errors.New("writeback: no free unit buffer")
)
