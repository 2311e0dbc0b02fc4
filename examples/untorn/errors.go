package main

import "errors"

// Sentinel errors. run maps them to the exit status: errUsage to 2,
// errDamage (and blockdev.ErrCorrupt, which the library's damage errors
// wrap) to 1, anything else to 2.
var (
	// errUsage: a missing or unknown verb, a missing PATH, extra
	// arguments.
	errUsage = errors.New("usage")
	// errDamage: a check (or a recovery, an inspection, a conversion)
	// found damage: a checksum that fails where it is not the torn tail
	// of a crash, a data block that fails its checksum.
	errDamage = errors.New("damage found")
	// errNotRegular: PATH is not a regular file (a directory, a device,
	// a socket, ...).
	errNotRegular = errors.New("not a regular file")
	// errOrphanJournal: a journal exists but its data file does not.
	errOrphanJournal = errors.New("a journal without its data file")
	// errNotContainer: convert was given a file that is not a COW
	// container.
	errNotContainer = errors.New("not a COW container")
	// errHasJournal: convert was given a file with a journal beside it.
	errHasJournal = errors.New("the file has a journal")
	// errRaced: the file at PATH changed while the command was opening it.
	errRaced = errors.New("the file changed while it was being opened")
	// errProgress: convert's progress record is missing, damaged or
	// about another file; the conversion starts over (never shown as a
	// failure).
	errProgress = errors.New("no usable progress record")
	// errStopped: a test hook stopped a conversion (a simulated kill).
	errStopped = errors.New("stopped by a test hook")
)
