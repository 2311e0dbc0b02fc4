package untornvfs

import (
	"errors"
	"fmt"
	"io"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/untorn/untorn/atomicio"
)

// conn is one connection's handle on a main database file. SQLite uses a
// connection from one goroutine at a time, so the fields are unguarded,
// except level, which the database's lockTable guards.
type conn struct {
	vfs    *VFS
	db     *database
	level  vfs.LockLevel // guarded by db.locks.mu
	closed bool

	batch *openBatch // the atomic write begun and not ended; nil if none
}

var (
	_ vfs.File                 = (*conn)(nil)
	_ vfs.FileLockState        = (*conn)(nil)
	_ vfs.FileBatchAtomicWrite = (*conn)(nil)
)

// sectorSize is what SQLite is told a sector is: the block of the
// journal and of the container, the unit they write in.
const sectorSize = 4096

// Close unlocks, drops an atomic write left open and releases the
// database (closing its File with the last connection).
func (c *conn) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	_ = c.RollbackAtomicWrite()
	_ = c.db.locks.unlock(c, vfs.LOCK_NONE)
	return c.vfs.release(c.db)
}

// ReadAt reads the file; an atomic write under way is not seen until it
// commits. A read past the end returns io.EOF, which SQLite takes as a
// short read and fills with zeros.
func (c *conn) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.db.file.ReadAt(p, off)
	if err != nil && n < len(p) {
		return n, readError(err)
	}
	return n, nil
}

// WriteAt writes p untorn (atomicio.WriteAt), or adds it to the atomic
// write under way.
func (c *conn) WriteAt(p []byte, off int64) (int, error) {
	if c.batch != nil && !c.vfs.plainBatches {
		return c.batch.writeAt(p, off)
	}
	if c.batch != nil {
		c.batch.note(p, off)
	}
	n, err := atomicio.WriteAt(c.db.file, p, off)
	if err != nil {
		return n, codeFor(fmt.Errorf("untornvfs: write %d bytes at %d: %w", len(p), off, err), sqlite3.IOERR_WRITE)
	}
	return n, nil
}

// Truncate sets the size, or adds the change to the atomic write under
// way.
func (c *conn) Truncate(size int64) error {
	if c.batch != nil && !c.vfs.plainBatches {
		return c.batch.truncate(size)
	}
	if c.batch != nil {
		c.batch.size = size
	}
	if err := c.db.file.Truncate(size); err != nil {
		return codeFor(fmt.Errorf("untornvfs: truncate to %d: %w", size, err), sqlite3.IOERR_TRUNCATE)
	}
	return nil
}

// Sync makes every write and committed atomic write so far durable. The
// flags are ignored: every Sync is a full one.
func (c *conn) Sync(vfs.SyncFlag) error {
	if err := c.db.file.Sync(); err != nil {
		return codeFor(fmt.Errorf("untornvfs: sync: %w", err), sqlite3.IOERR_FSYNC)
	}
	return nil
}

// Size returns the file's size, as the atomic write under way leaves it.
func (c *conn) Size() (int64, error) {
	if c.batch != nil {
		return c.batch.size, nil
	}
	return c.db.file.Size(), nil
}

// Lock raises the connection's lock (see lockTable).
func (c *conn) Lock(level vfs.LockLevel) error { return c.db.locks.lock(c, level) }

// Unlock lowers the connection's lock.
func (c *conn) Unlock(level vfs.LockLevel) error { return c.db.locks.unlock(c, level) }

// CheckReservedLock reports whether any connection holds RESERVED or above.
func (c *conn) CheckReservedLock() (bool, error) { return c.db.locks.reserved(), nil }

// LockState returns the connection's lock level.
func (c *conn) LockState() vfs.LockLevel { return c.db.locks.levelOf(c) }

// SectorSize returns 4096.
func (c *conn) SectorSize() int { return sectorSize }

// DeviceCharacteristics says what the file promises SQLite:
//   - IOCAP_BATCH_ATOMIC (journal and COW modes): the pages written
//     between BeginAtomicWrite and CommitAtomicWrite land all or none (one
//     journal record, or one container transaction);
//   - IOCAP_POWERSAFE_OVERWRITE: a write never damages bytes outside it,
//     even across a power cut;
//   - IOCAP_SUBPAGE_READ: reads of part of a page are fine.
//
// It does not claim IOCAP_SAFE_APPEND, which SQLite applies to its journal
// (a file of Aux, whose appends are not ours to promise), IOCAP_SEQUENTIAL
// (untorn orders nothing between writes without a Sync; SQLite would drop
// its journal syncs) or the IOCAP_ATOMICnK sizes (true for every
// atomicio.WriteAt, but with batches they buy nothing and open another
// commit path).
func (c *conn) DeviceCharacteristics() vfs.DeviceCharacteristic {
	caps := vfs.IOCAP_POWERSAFE_OVERWRITE | vfs.IOCAP_SUBPAGE_READ
	if m := c.db.file.Mode(); m == atomicio.ModeJournal || m == atomicio.ModeCOW {
		caps |= vfs.IOCAP_BATCH_ATOMIC
	}
	return caps
}

func readError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, io.EOF) {
		return io.EOF // the vfs package turns exactly io.EOF into a short read
	}
	return codeFor(fmt.Errorf("untornvfs: read: %w", err), sqlite3.IOERR_READ)
}
