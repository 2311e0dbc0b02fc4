package untornvfs

import (
	"fmt"
	"sync"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"
)

// lockTable holds SQLite's lock levels for one database between the
// connections of this process, as the unix VFS keeps them in the kernel:
// any number of SHARED holders; at most one RESERVED, PENDING or EXCLUSIVE
// holder (the writer); PENDING keeps new readers out while the writer waits
// for the readers to leave; EXCLUSIVE only when the writer is the last
// reader. Other processes are kept out by atomicio's file lock.
//
// A connection never waits here: a conflict is SQLITE_BUSY, and SQLite's
// busy handler decides whether to try again.
type lockTable struct {
	mu      sync.Mutex // guards the fields below
	shared  int        // connections at SHARED or above
	writer  *conn      // holder of RESERVED, PENDING or EXCLUSIVE; nil if none
	pending bool       // writer is at PENDING or EXCLUSIVE
}

// lock moves c up to level (SHARED, RESERVED or EXCLUSIVE; PENDING on the
// way to EXCLUSIVE). c.level is guarded by t.mu.
func (t *lockTable) lock(c *conn, level vfs.LockLevel) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if level <= c.level {
		return nil
	}
	switch level {
	case vfs.LOCK_SHARED:
		if c.level != vfs.LOCK_NONE {
			return protocolError(c.level, level)
		}
		if t.pending {
			return sqlite3.BUSY
		}
		t.shared++
		c.level = vfs.LOCK_SHARED
		return nil
	case vfs.LOCK_RESERVED:
		if c.level != vfs.LOCK_SHARED {
			return protocolError(c.level, level)
		}
		if t.writer != nil {
			return sqlite3.BUSY
		}
		t.writer, c.level = c, vfs.LOCK_RESERVED
		return nil
	case vfs.LOCK_EXCLUSIVE:
		if c.level == vfs.LOCK_NONE {
			return protocolError(c.level, level)
		}
		if t.writer != nil && t.writer != c {
			return sqlite3.BUSY
		}
		t.writer, t.pending, c.level = c, true, vfs.LOCK_PENDING
		if t.shared > 1 {
			return sqlite3.BUSY // stay PENDING: readers drain, none enter
		}
		c.level = vfs.LOCK_EXCLUSIVE
		return nil
	}
	return protocolError(c.level, level)
}

// unlock moves c down to level (SHARED or NONE).
func (t *lockTable) unlock(c *conn, level vfs.LockLevel) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if level >= c.level {
		return nil
	}
	if level > vfs.LOCK_SHARED {
		return protocolError(c.level, level)
	}
	if t.writer == c {
		t.writer, t.pending = nil, false
	}
	if level == vfs.LOCK_NONE {
		t.shared--
	}
	c.level = level
	return nil
}

// reserved reports whether any connection holds RESERVED or above.
func (t *lockTable) reserved() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.writer != nil
}

// levelOf returns c's level.
func (t *lockTable) levelOf(c *conn) vfs.LockLevel {
	t.mu.Lock()
	defer t.mu.Unlock()
	return c.level
}

func protocolError(from, to vfs.LockLevel) error {
	return vfs.SystemError(fmt.Errorf("%w: %v to %v", ErrLockProtocol, from, to), sqlite3.MISUSE)
}
