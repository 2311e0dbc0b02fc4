package pagestore

import "errors"

// Sentinel errors; the errors this package returns wrap them (and the
// cause from below, where there is one), so match them with errors.Is.
var (
	// ErrInvalid: a bad argument or option, or a File too small for a store.
	ErrInvalid = errors.New("pagestore: invalid argument")
	// ErrTooLarge: a key longer than MaxKeySize or a value longer than
	// MaxValueSize. Nothing was changed.
	ErrTooLarge = errors.New("pagestore: key or value too large")
	// ErrCorrupt: a page or the meta page does not check out.
	ErrCorrupt = errors.New("pagestore: corrupt store")
	// ErrFull: Sync found no free page for the changed buckets. Nothing
	// was written; the changes stay pending (delete something and retry).
	ErrFull = errors.New("pagestore: no free page")
	// ErrFailed: an earlier Sync failed in its I/O; the store must be
	// reopened, which recovers the last committed state.
	ErrFailed = errors.New("pagestore: store failed, reopen it")
	// ErrClosed: the Store was closed.
	ErrClosed = errors.New("pagestore: store closed")
)
