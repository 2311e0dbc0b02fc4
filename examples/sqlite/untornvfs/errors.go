package untornvfs

import (
	"errors"
	"syscall"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/untorn/untorn/atomicio"
)

// Sentinel errors. Errors the VFS returns to SQLite carry an SQLite code as
// well (vfs.SystemError); the Go error below them wraps these sentinels or
// atomicio's, so a test or a hook can match them with errors.Is.
var (
	// ErrBatchOpen: SQLite began an atomic write while one was open on the
	// same connection. Nothing was changed.
	ErrBatchOpen = errors.New("untornvfs: atomic write already begun")
	// ErrNoBatch: SQLite committed or rolled back an atomic write that was
	// never begun.
	ErrNoBatch = errors.New("untornvfs: no atomic write begun")
	// ErrLockProtocol: a lock transition SQLite never asks for (EXCLUSIVE
	// without SHARED, an unlock to a level above SHARED).
	ErrLockProtocol = errors.New("untornvfs: lock transition out of protocol")
	// ErrClosed: the connection's file was closed.
	ErrClosed = errors.New("untornvfs: file closed")
	// ErrLocked: another opener holds a lock on SQLite's lock bytes of
	// the database file (a stock SQLite in a transaction, or this VFS in
	// another process or another VFS value), so the VFS did not open it.
	// SQLite gets SQLITE_BUSY.
	ErrLocked = errors.New("untornvfs: database file locked by another opener")
)

// codeFor tags err with the SQLite code that says what happened: BUSY for
// a file another opener holds, FULL for no space, CORRUPT for damage the
// container detected, NOMEM for a cache out of memory, fallback otherwise.
func codeFor[T interface{ ~uint8 | ~uint16 }](err error, fallback T) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, ErrLocked), errors.Is(err, atomicio.ErrLocked):
		return vfs.SystemError(err, sqlite3.BUSY)
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, atomicio.ErrOutOfRange):
		return vfs.SystemError(err, sqlite3.FULL)
	case errors.Is(err, atomicio.ErrCorrupt):
		return vfs.SystemError(err, sqlite3.CORRUPT)
	case errors.Is(err, atomicio.ErrNoMemory):
		return vfs.SystemError(err, sqlite3.NOMEM)
	}
	return vfs.SystemError(err, fallback)
}

// commitCode is the code for a failed CommitAtomicWrite. It is never of
// the IOERR class: on an IOERR SQLite falls back to its rollback journal
// without syncing it and writes the pages in place (pager.c,
// sqlite3PagerCommitPhaseOne), which a power cut can tear. Any other code
// fails the COMMIT, with nothing written; the transaction rolls back from
// SQLite's page cache and can be run again. A batch too large for the
// container and a full device are SQLITE_FULL; other failures SQLITE_ERROR
// (the Go error beneath says which).
func commitCode(err error) error {
	if errors.Is(err, atomicio.ErrTooLarge) {
		return vfs.SystemError(err, sqlite3.FULL)
	}
	return codeFor(err, sqlite3.ERROR)
}
