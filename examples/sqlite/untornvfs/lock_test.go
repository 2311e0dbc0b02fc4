package untornvfs

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/atomicio"
)

// stockWhileHeld runs SQLite's stock VFS (ncruces' "os" VFS, OFD locks)
// against a database the VFS v holds open, and returns the first thing
// the stock VFS got that it should not have: a read or a write while v
// held the database (and what it read), or, after v closed it, a stale or
// wrong view. A stock connection that read the database before v opened
// it keeps its page cache; a new one opens while v holds it.
func stockWhileHeld(t *testing.T, v *VFS) error {
	k := bank{seed: 3}
	path := filepath.Join(t.TempDir(), "held.db")
	name := register(t, v)
	db, err := openBankAt(t, name, path)
	require.NoError(t, err)
	runBank(t, db, k, 1, 10)
	require.NoError(t, db.Close())

	old, err := openBankAt(t, "", path) // stock, reads before v holds the file
	require.NoError(t, err)
	defer old.Close()
	_, h, err := readBank(old)
	require.NoError(t, err)
	require.Equal(t, 10, h)

	db, err = openBankAt(t, name, path)
	require.NoError(t, err)
	defer db.Close()
	runBank(t, db, k, 11, 20)
	fresh, err := sqlite3.Open("file:" + path) // stock, opened while v holds the file
	require.NoError(t, err)
	defer fresh.Close()
	for _, c := range []struct {
		who string
		db  *sqlite3.Conn
	}{{"a stock connection that had read before", old}, {"a stock connection opened meanwhile", fresh}} {
		_, h, err := readBank(c.db)
		if err == nil {
			return fmt.Errorf("%s read the database while the VFS held it (it holds %d of 20 transactions)", c.who, h)
		}
		require.ErrorIs(t, err, sqlite3.BUSY, "%s: got %v", c.who, err)
		err = c.db.Exec("CREATE TABLE stock_was_here(x)")
		if err == nil {
			return fmt.Errorf("%s wrote the database while the VFS held it", c.who)
		}
		require.ErrorIs(t, err, sqlite3.BUSY, "%s: got %v", c.who, err)
	}
	require.NoError(t, db.Close())

	// Released: the stock connections read everything, the one that had
	// read before included (the change counter moved), and write.
	for _, c := range []*sqlite3.Conn{old, fresh} {
		got, h, err := readBank(c)
		require.NoError(t, err)
		if h != 20 {
			return fmt.Errorf("after the VFS closed the database a stock connection sees %d transactions, want 20 (stale cache?)", h)
		}
		require.NoError(t, k.expected(20).compare(got))
	}
	require.NoError(t, old.Exec("CREATE TABLE stock_was_here(x)"))
	return nil
}

// TestStockVFSGetsBusy: while the VFS holds a database open, SQLite's
// stock VFS in the same process gets SQLITE_BUSY for reads and writes,
// whether its connection read the database before or opened it meanwhile;
// once the VFS closed it, the stock VFS reads every transaction and
// writes.
func TestStockVFSGetsBusy(t *testing.T) {
	require.NoError(t, stockWhileHeld(t, &VFS{}))
}

// TestStockVFSGetsBusyCatchesNoLock is the control: without the lock on
// SQLite's lock bytes the stock VFS reads the data file while the VFS
// holds it, and (no checkpoint has run: FlushInterval < 0, a large
// journal) sees an older database than the VFS committed.
func TestStockVFSGetsBusyCatchesNoLock(t *testing.T) {
	err := stockWhileHeld(t, &VFS{noFileLock: true, Options: atomicio.Options{FlushInterval: -1}})
	require.Error(t, err, "the test cannot see a stock read while the VFS holds the database")
	require.ErrorContains(t, err, "holds 10 of 20 transactions", "the stock read should be stale")
	t.Logf("caught: %v", err)
}

// vfsWhileStockHolds opens a database through the VFS v while a stock
// connection holds each of SQLite's locks on it, and returns the first
// open that succeeded. Every refused open must leave the file as it was
// and no journal beside it; once the stock connection lets go, the open
// succeeds.
func vfsWhileStockHolds(t *testing.T, v *VFS) error {
	k := bank{seed: 4}
	path := filepath.Join(t.TempDir(), "stock.db")
	stock, err := openBankAt(t, "", path)
	require.NoError(t, err)
	defer stock.Close()
	runBank(t, stock, k, 1, 10)
	name := register(t, v)
	sum := func() [32]byte {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		return sha256.Sum256(b)
	}
	for _, hold := range []struct{ lock, begin, end string }{
		{"SHARED (a read transaction)", "BEGIN; SELECT count(*) FROM acct", "COMMIT"},
		{"RESERVED (a write transaction)", "BEGIN IMMEDIATE; UPDATE acct SET bal = bal WHERE id = 1", "ROLLBACK"},
		{"EXCLUSIVE (locking_mode=EXCLUSIVE)", "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT", "PRAGMA locking_mode=NORMAL; SELECT count(*) FROM acct"},
	} {
		require.NoError(t, stock.Exec(hold.begin), hold.lock)
		before := sum()
		db, err := sqlite3.Open(fmt.Sprintf("file:%s?vfs=%s", path, name))
		if err == nil {
			_ = db.Close()
			return fmt.Errorf("the VFS opened the database while a stock connection held %s", hold.lock)
		}
		require.ErrorIs(t, err, sqlite3.BUSY, "%s: got %v", hold.lock, err)
		require.Equal(t, before, sum(), "%s: a refused open changed the file", hold.lock)
		_, err = os.Stat(atomicio.JournalPath(path))
		require.ErrorIs(t, err, os.ErrNotExist, "%s: a refused open left a journal", hold.lock)
		require.NoError(t, stock.Exec(hold.end), hold.lock)
	}
	require.NoError(t, checkBank(t, name, path, k, 10), "once the stock connection lets go")
	return nil
}

// TestVFSRefusesAStockHolder: the VFS does not open a database while a
// stock connection holds a SQLite lock on it (SHARED, RESERVED or
// EXCLUSIVE): SQLITE_BUSY, and nothing written. An idle stock connection
// holds no lock: the VFS opens the file then, and the stock connection
// gets SQLITE_BUSY instead (TestStockVFSGetsBusy).
func TestVFSRefusesAStockHolder(t *testing.T) {
	require.NoError(t, vfsWhileStockHolds(t, &VFS{}))
}

// TestVFSRefusesAStockHolderCatchesNoLock is the control: without its lock
// the VFS opens (and starts a journal for) a file a stock connection is
// reading or writing.
func TestVFSRefusesAStockHolderCatchesNoLock(t *testing.T) {
	err := vfsWhileStockHolds(t, &VFS{noFileLock: true})
	require.Error(t, err)
	t.Logf("caught: %v", err)
}

// TestLockFileRefusesAHeldFile: lockFile refuses a file locked by another
// descriptor, in this process too, with ErrLocked; closing a third
// descriptor of the file (as atomicio and stock connections do) does not
// drop the lock, as it would drop a process-associated fcntl lock; closing
// the lock's own descriptor does.
func TestLockFileRefusesAHeldFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock.db")
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	l, err := lockFile(path)
	require.NoError(t, err)
	_, err = lockFile(path)
	require.ErrorIs(t, err, ErrLocked)
	other, err := os.Open(path)
	require.NoError(t, err)
	require.NoError(t, other.Close())
	_, err = lockFile(path)
	require.ErrorIs(t, err, ErrLocked, "closing another descriptor dropped the lock")
	require.NoError(t, l.release())
	l, err = lockFile(path)
	require.NoError(t, err, "the released lock is free")
	require.NoError(t, l.release())
	_, err = lockFile(filepath.Join(t.TempDir(), "missing.db"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

// TestCloseFailureKeepsTheLock: a File whose Close fails keeps the
// database, and its lock, in the VFS: a stock connection still gets
// SQLITE_BUSY (the data file may be half checkpointed). SQLite ignores the
// error of closing a file (sqlite3_close returns SQLITE_OK), so this is
// all that stands between the failure and a stock reader. The failure
// here is a File closed underneath, a stand-in for an I/O error in the
// final checkpoint.
func TestCloseFailureKeepsTheLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fail.db")
	v := &VFS{}
	db := openDB(t, register(t, v), path)
	require.NoError(t, db.Exec("CREATE TABLE t(x); INSERT INTO t VALUES(1)"))
	v.mu.Lock()
	f := v.dbs[path].file
	v.mu.Unlock()
	require.NoError(t, f.Abandon()) // every later Close fails with ErrClosed
	require.NoError(t, db.Close(), "SQLite reports no error of xClose")
	require.Contains(t, v.dbs, path, "the database stays, with its lock")
	require.Zero(t, v.dbs[path].refs)
	stock, err := sqlite3.Open("file:" + path)
	require.NoError(t, err)
	defer stock.Close()
	err = stock.Exec("SELECT count(*) FROM t")
	require.ErrorIs(t, err, sqlite3.BUSY, "got %v", err)
}

// stockReadsDuringSessions runs sessions of the VFS on one database (open,
// 30 bank transactions with a journal small enough to be checkpointed
// every few of them, close) while a stock connection reads the bank in a
// loop, and returns the first read that saw anything but the state at the
// end of a session: the VFS holds the database from before its open
// recovers it to after its close has written everything home, so a stock
// read that gets in sees whole sessions. After each session it waits for
// a stock read to get in. It also returns how many reads got in and how
// many were refused.
func stockReadsDuringSessions(t *testing.T, v *VFS, sessions int) (readErr error, reads, busy int64) {
	const perSession = 30
	k := bank{seed: 8}
	path := filepath.Join(t.TempDir(), "sessions.db")
	name := register(t, v)
	session := func(s int) {
		var db *sqlite3.Conn
		var err error
		for {
			db, err = openBankAt(t, name, path)
			if !errors.Is(err, sqlite3.BUSY) {
				break // the stock reader held SHARED for a moment
			}
			time.Sleep(100 * time.Microsecond)
		}
		require.NoError(t, err)
		runBank(t, db, k, s*perSession+1, (s+1)*perSession)
		require.NoError(t, db.Close())
	}
	// The VFS makes the database; the stock connection opens it then (see
	// the package documentation on an existing empty file).
	session(0)
	stock, err := openBankAt(t, "", path)
	require.NoError(t, err)
	defer stock.Close()

	var nreads, nbusy atomic.Int64
	done := make(chan struct{})
	result := make(chan error, 1)
	go func() {
		for {
			select {
			case <-done:
				result <- nil
				return
			default:
			}
			got, h, err := readBank(stock)
			if err == nil && h%perSession != 0 {
				err = fmt.Errorf("%d transactions, not the end of a session", h)
			}
			if err == nil {
				err = k.expected(h).compare(got)
			}
			if err == nil && nreads.Load()%16 == 0 {
				var integrity []string
				integrity, err = queryStrings(stock, "PRAGMA integrity_check")
				if err == nil && (len(integrity) != 1 || integrity[0] != "ok") {
					err = fmt.Errorf("integrity_check: %v", integrity)
				}
			}
			switch {
			case errors.Is(err, sqlite3.BUSY):
				nbusy.Add(1)
				time.Sleep(50 * time.Microsecond)
			case err != nil:
				result <- fmt.Errorf("stock read %d: %w", nreads.Load(), err)
				return
			default:
				nreads.Add(1)
			}
		}
	}()
	for s := 1; s < sessions; s++ {
		before := nreads.Load()
		session(s)
		for deadline := time.Now().Add(10 * time.Second); nreads.Load() == before; {
			select {
			case readErr = <-result:
				return readErr, nreads.Load(), nbusy.Load()
			default:
			}
			require.True(t, time.Now().Before(deadline), "no stock read got in after session %d", s)
			time.Sleep(time.Millisecond)
		}
	}
	close(done)
	return <-result, nreads.Load(), nbusy.Load()
}

// TestStockReadsOnlyWholeSessions: a stock reader polling a database that
// the VFS opens and closes again and again, checkpointing all the while,
// reads only states at the end of a session, never a file a checkpoint is
// writing, and is refused in between.
func TestStockReadsOnlyWholeSessions(t *testing.T) {
	err, reads, busy := stockReadsDuringSessions(t, &VFS{Options: atomicio.Options{JournalSize: 64 << 10}}, 4)
	t.Logf("%d stock reads got in, %d were refused", reads, busy)
	require.NoError(t, err)
	require.GreaterOrEqual(t, reads, int64(3), "a read after each session")
	require.Positive(t, busy, "the reader never met the VFS")
}

// TestStockReadsOnlyWholeSessionsCatchesNoLock is the control: without the
// lock the stock reader reads the data file between checkpoints and during
// them, and sees a state that is not the end of a session (or a damaged
// one).
func TestStockReadsOnlyWholeSessionsCatchesNoLock(t *testing.T) {
	err, reads, _ := stockReadsDuringSessions(t, &VFS{noFileLock: true, Options: atomicio.Options{JournalSize: 64 << 10}}, 20)
	require.Error(t, err, "%d stock reads, none saw a session in progress", reads)
	t.Logf("caught: %v", err)
}
