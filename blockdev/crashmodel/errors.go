package crashmodel

import "errors"

// Violations found by Check.
var (
	// ErrTorn: an Atomic write shows in some of its blocks while others
	// hold data older than it.
	ErrTorn = errors.New("crashmodel: atomic write torn")
	// ErrLost: a block lost data that was durable (flushed or FUA).
	ErrLost = errors.New("crashmodel: durable data lost")
	// ErrPhantom: a block holds data no write in the history produced.
	ErrPhantom = errors.New("crashmodel: block holds data nobody wrote")
	// ErrHistory: the recorded history is malformed (misaligned or out of
	// range write, image of the wrong size).
	ErrHistory = errors.New("crashmodel: invalid history or image")
)
