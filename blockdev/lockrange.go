package blockdev

import "os"

// LockRange takes, without waiting, a write lock on the bytes [off,
// off+n) of the open file f, held by f itself (not by the process): an
// open file description lock (fcntl F_OFD_SETLK) on Linux and macOS,
// LockFileEx on Windows. Closing f releases it; closing another open file
// of the same file does not. A lock held elsewhere, by another open file
// in this process or another process (process-associated fcntl locks
// conflict with it too), fails with an error wrapping ErrLocked. The
// SQLite VFS of examples/sqlite holds SQLite's lock bytes with it.
func LockRange(f *os.File, off, n int64) error { return lockRange(f, off, n) }
