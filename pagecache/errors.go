package pagecache

import (
	"errors"
	"fmt"
)

// Sentinel errors of the package. Every error returned wraps one of them; match with errors.Is.
var (
	// ErrNoMemory: the cache could not get the memory a write needs within the caller's context.
	ErrNoMemory = errors.New("pagecache: no memory")
	// ErrTooLarge: the range can never fit in the memory budget. It wraps ErrNoMemory.
	ErrTooLarge = fmt.Errorf("pagecache: range larger than the memory budget: %w", ErrNoMemory)
	// ErrClosed: the cache was closed.
	ErrClosed = errors.New("pagecache: closed")
	// ErrInvalid: a bad offset, length, size or handle.
	ErrInvalid = errors.New("pagecache: invalid argument")
	// ErrBusy: the folio is reserved by a writer or already under writeback.
	ErrBusy = errors.New("pagecache: folio busy")
	// ErrNotDirty: there is no dirty folio at the offset.
	ErrNotDirty = errors.New("pagecache: no dirty folio at offset")
)
