package main

import "errors"

// Sentinel errors. run maps them to the exit status: errUsage to 2,
// errDamage (and blockdev.ErrCorrupt, which the library's damage errors
// wrap) to 1, anything else to 2.
var (
	// errUsage: a missing or unknown verb, a missing PATH, extra
	// arguments.
	errUsage = errors.New("usage")
	// errDamage: a check (or a recovery, an inspection)
	// found damage: a checksum that fails where it is not the torn tail
	// of a crash, a data block that fails its checksum.
	errDamage = errors.New("damage found")
	// errNotRegular: PATH is not a regular file (a directory, a device,
	// a socket, ...).
	errNotRegular = errors.New("not a regular file")
	// errOrphanJournal: a journal exists but its data file does not.
	errOrphanJournal = errors.New("a journal without its data file")
)
