package main

import (
	"fmt"
	"path/filepath"
)

// contender is one way of writing pages durably. The runner calls it from
// one goroutine: Open, then Write/Read/Sync in any order, then Close.
type contender interface {
	// Name is the short name shown in the report and used for its files.
	Name() string
	// Open opens (creating and filling it the first time) the contender's
	// files in cfg.Dir. An error wrapping errNotApplicable means the
	// contender cannot run there; the report shows the reason.
	Open(cfg fileConfig) error
	// Write writes p (one page, a multiple of 4 KiB) at off, a multiple
	// of len(p). p may be reused as soon as Write returns.
	Write(p []byte, off int64) error
	// Read fills p from off with the latest data written.
	Read(p []byte, off int64) error
	// Sync makes every Write before it durable.
	Sync() error
	// Close syncs and releases the files (they stay on disk for the next
	// run).
	Close() error
	// BytesWritten is how many bytes the contender has sent to the device
	// since Open (data, doublewrite copies, headers; for untorn what its
	// writeback handed to the device).
	BytesWritten() int64
}

// writeOnly is a contender that executes only a workload's writes (the
// bound, seq-append, which keeps no index to read from). When writeOnly
// reports true, runOnce never calls its Read: it skips the warm-up and
// counts each read as a page op that took no time, so its us/page (time
// over all page ops, reads included) is a ceiling for the contenders that
// do read.
type writeOnly interface{ writeOnly() bool }

// fileConfig is what a contender needs to know to open its files.
type fileConfig struct {
	Dir       string
	Size      int64   // data file capacity (logical, for untorn)
	CacheSize int64   // untorn's page cache budget
	PageSize  int     // the workload's page size
	SyncEvery int     // pages written between Syncs
	Writers   int     // parallel writers for the O_DIRECT contenders
	NeedReads bool    // the workload reads (a writeOnly contender still opens: its reads are not executed)
	Age       float64 // untorn: overwrite a new COW container Age x Size before its first run
	COWSpare  int     // untorn: atomicio.Options.COWSparePercent of new containers (0: default)
	// JournalSize: untorn: atomicio.Options.JournalSize of new files in
	// journal mode, and journal-bound's window is half of it (0: default).
	JournalSize int64
}

func (c fileConfig) path(name, ext string) string { return filepath.Join(c.Dir, name+ext) }

// contenderNames lists every contender in report order.
var contenderNames = []string{
	"untorn-auto", "untorn-journal", "untorn-native", "untorn-cow", "buffered", "dio-atomic", "doublewrite",
	"seq-append", "seq-append-new", "journal-bound",
}

// newContender builds a contender by name.
func newContender(name string) (contender, error) {
	switch name {
	case "untorn-auto":
		return newUntorn(name, modeAuto), nil
	case "untorn-journal":
		return newUntorn(name, modeJournal), nil
	case "untorn-native":
		return newUntorn(name, modeNative), nil
	case "untorn-cow":
		return newUntorn(name, modeCOW), nil
	case "buffered":
		return &bufferedFile{}, nil
	case "dio-atomic":
		return &directAtomic{}, nil
	case "doublewrite":
		return &doublewrite{}, nil
	case "seq-append":
		return &seqAppend{}, nil
	case "seq-append-new":
		return &seqAppend{fresh: true}, nil
	case "journal-bound":
		return &journalBound{}, nil
	}
	return nil, fmt.Errorf("%w: unknown contender %q", errBadFlag, name)
}

// notApplicable wraps a reason as errNotApplicable.
func notApplicable(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errNotApplicable}, args...)...)
}
