package untornvfs

import (
	"encoding/binary"
	"fmt"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/untorn/untorn/atomicio"
)

// Offsets in the database header (page 1) of the file change counter and
// of the "version valid for" number: the in-header database size is valid
// while the two are equal.
const (
	changeCounterOff = 24
	validForOff      = 92
	headerLen        = 100
)

// openBatch is an atomic write under way on one connection: SQLite's
// BeginAtomicWrite to CommitAtomicWrite or RollbackAtomicWrite.
type openBatch struct {
	b    *atomicio.Batch
	size int64  // the file size once the batch applies
	hdr  []byte // the database header as the batch leaves it; nil if it writes none
}

// BeginAtomicWrite starts collecting the transaction's writes in an untorn
// batch.
func (c *conn) BeginAtomicWrite() error {
	if c.batch != nil {
		return ErrBatchOpen
	}
	c.batch = &openBatch{b: c.db.file.NewBatch(), size: c.db.file.Size()}
	return nil
}

// note records what a write does to the batch's size and header.
func (o *openBatch) note(p []byte, off int64) {
	if end := off + int64(len(p)); end > o.size {
		o.size = end
	}
	if off == 0 && len(p) >= headerLen {
		o.hdr = append(o.hdr[:0], p[:headerLen]...)
	}
}

func (o *openBatch) writeAt(p []byte, off int64) (int, error) {
	n, err := o.b.WriteAt(p, off)
	if err != nil {
		return n, codeFor(fmt.Errorf("untornvfs: batch write %d bytes at %d: %w", len(p), off, err), sqlite3.IOERR_WRITE)
	}
	o.note(p, off)
	return n, nil
}

func (o *openBatch) truncate(size int64) error {
	if err := o.b.Truncate(size); err != nil {
		return codeFor(fmt.Errorf("untornvfs: batch truncate to %d: %w", size, err), sqlite3.IOERR_TRUNCATE)
	}
	o.size = size
	return nil
}

// CommitAtomicWrite bumps the file change counter and commits the batch:
// after it every connection reads the whole transaction, and after the
// Sync SQLite calls next a crash keeps all of it or none. On failure
// nothing was written (see commitCode for the code SQLite gets).
//
// SQLite skips its own change-counter update when it commits with a batch
// (pager.c updates it only without one). Other connections of this
// process and others keep their page caches while the counter is
// unchanged, so without the bump they would read stale pages and lose
// updates.
func (c *conn) CommitAtomicWrite() error {
	o := c.batch
	if o == nil {
		return ErrNoBatch
	}
	c.batch = nil
	if c.vfs.failCommit != nil {
		if err := c.vfs.failCommit(); err != nil {
			o.b.Discard()
			c.vfs.stats.rollbacks.Add(1)
			err = fmt.Errorf("untornvfs: commit atomic write: %w", err)
			if c.vfs.ioerrCommit {
				return vfs.SystemError(err, sqlite3.IOERR_COMMIT_ATOMIC)
			}
			return commitCode(err)
		}
	}
	if err := c.bumpChangeCounter(o); err != nil {
		o.b.Discard()
		c.vfs.stats.rollbacks.Add(1)
		return commitCode(err)
	}
	n := o.b.Len()
	if err := o.b.Commit(); err != nil {
		c.vfs.stats.rollbacks.Add(1)
		return commitCode(fmt.Errorf("untornvfs: commit atomic write of %d bytes: %w", n, err))
	}
	c.vfs.stats.batches.Add(1)
	c.vfs.stats.batchBytes.Add(n)
	return nil
}

// RollbackAtomicWrite drops the batch: nothing of it was written.
func (c *conn) RollbackAtomicWrite() error {
	if c.batch != nil {
		c.batch.b.Discard()
		c.batch = nil
		c.vfs.stats.rollbacks.Add(1)
	}
	return nil
}

// bumpChangeCounter sets the change counter one past both the file's and
// the batch's, in the batch (in place for plainBatches), and the "version
// valid for" number with it where the header had the two equal. A batch on
// a file without a header yet (SQLite's first transaction) changes nothing.
func (c *conn) bumpChangeCounter(o *openBatch) error {
	if c.vfs.skipCounterBump {
		return nil
	}
	var onFile [headerLen]byte
	n, _ := c.db.file.ReadAt(onFile[:], 0)
	hdr := o.hdr
	if hdr == nil {
		if n < headerLen {
			return nil
		}
		hdr = onFile[:]
	}
	next := binary.BigEndian.Uint32(hdr[changeCounterOff:])
	if n == headerLen {
		next = max(next, binary.BigEndian.Uint32(onFile[changeCounterOff:]))
	}
	next++
	var v [4]byte
	binary.BigEndian.PutUint32(v[:], next)
	offs := []int64{changeCounterOff}
	if binary.BigEndian.Uint32(hdr[validForOff:]) == binary.BigEndian.Uint32(hdr[changeCounterOff:]) {
		offs = append(offs, validForOff)
	}
	for _, off := range offs {
		var err error
		if c.vfs.plainBatches {
			_, err = atomicio.WriteAt(c.db.file, v[:], off)
		} else {
			_, err = o.b.WriteAt(v[:], off)
		}
		if err != nil {
			return fmt.Errorf("untornvfs: change counter: %w", err)
		}
	}
	return nil
}
