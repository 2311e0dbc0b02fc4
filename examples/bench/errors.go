package main

import "errors"

var (
	// errNotApplicable: a contender cannot run here (file system without
	// RWF_ATOMIC, an existing file that is no COW container, ...), or was
	// asked for what it cannot do (a read from the write-only bound).
	// The report shows it as "n/a: <reason>".
	errNotApplicable = errors.New("n/a")
	// errBadFlag: a flag value that cannot be used.
	errBadFlag = errors.New("bad flag")
	// errMismatch: a read returned something other than what was written
	// last: the harness or a contender is broken.
	errMismatch = errors.New("read back mismatch")
	// errNoSpace: the benchmark directory has too little free space.
	errNoSpace = errors.New("not enough free space")
)
