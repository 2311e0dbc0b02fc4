package untornvfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/untorn/untorn/atomicio"
)

// Name is the name Register gives the default VFS: open a database with
// "file:app.db?vfs=untorn".
const Name = "untorn"

// DefaultCacheSize is the memory of a database File's cache when
// Options.CacheSize is 0. The File reads the database file with O_DIRECT,
// so its cache takes the place of the kernel's page cache, which holds a
// stock SQLite file whole where memory allows: 256 MiB, four times
// atomicio's default, keeps a read-mostly database of that size at memory
// speed.
const DefaultCacheSize = 256 << 20

// Register registers a VFS with default settings under Name. It is safe to
// call more than once.
func Register() { vfs.Register(Name, &VFS{}) }

// VFS keeps SQLite main database files in atomicio Files and hands every
// other file (rollback journals, statement and temporary files) to Aux.
//
// The zero VFS opens a main database at its path with atomicio.Open in
// journal mode (the file stays an SQLite database file; see the package
// documentation), locks it against every other opener (see Locking there)
// and uses SQLite's stock "os" VFS for the rest. Set the fields before
// registering; a VFS is safe for concurrent use by many connections.
type VFS struct {
	// Options open a main database file. Mode ModeAuto (the zero value)
	// means journal mode, except for a COW container that an earlier
	// release of this VFS made (a file that is neither an SQLite database
	// nor empty, without a journal beside it): that opens as atomicio
	// decides, COW for a container. ModeCOW keeps a new database in a COW
	// container (readable through this package only). ModeNative writes
	// pages in place with RWF_ATOMIC and gets no batches (see Limits).
	// CacheSize is DefaultCacheSize if 0. Ignored when OpenFile is set.
	Options atomicio.Options
	// OpenFile, if set, opens the atomicio File for a main database name
	// instead of atomicio.Open (tests open a blockdev.Mem this way); the
	// VFS then takes no file lock, and keeping other openers out is
	// OpenFile's business. The VFS closes the File when its last
	// connection closes.
	OpenFile func(name string) (*atomicio.File, error)
	// Aux serves every file that is not a main database; nil is
	// vfs.Find("os").
	Aux vfs.VFS

	// plainBatches (tests only) writes a batch's pages as separate untorn
	// writes as they come while still claiming IOCAP_BATCH_ATOMIC: the
	// negative control of the crash test.
	plainBatches bool
	// skipCounterBump (tests only) leaves the change counter as SQLite
	// leaves it in a batch: the control of the two-connection test.
	skipCounterBump bool
	// failCommit (tests only), if set, fails CommitAtomicWrite with its
	// error before anything is written.
	failCommit func() error
	// ioerrCommit (tests only) reports a failed CommitAtomicWrite as
	// SQLITE_IOERR, as a VFS that maps errors naively would: the control of
	// the failed-commit test.
	ioerrCommit bool
	// noFileLock (tests only) takes no lock on SQLite's lock bytes: the
	// control of the locking tests.
	noFileLock bool

	stats stats

	mu  sync.Mutex           // guards dbs
	dbs map[string]*database // open main databases by full name
}

// Stats counts what the VFS did, for tests and benchmarks.
type Stats struct {
	Batches        int64 // atomic writes committed
	BatchRollbacks int64 // atomic writes rolled back or failed
	BatchBytes     int64 // bytes of pages written in committed batches
	AuxOpens       int64 // files opened through Aux (journals, temp files)
}

type stats struct {
	batches, rollbacks, batchBytes, auxOpens atomic.Int64
}

// Stats returns the counters so far.
func (v *VFS) Stats() Stats {
	return Stats{
		Batches:        v.stats.batches.Load(),
		BatchRollbacks: v.stats.rollbacks.Load(),
		BatchBytes:     v.stats.batchBytes.Load(),
		AuxOpens:       v.stats.auxOpens.Load(),
	}
}

// FileStats returns the atomicio Stats of the main database open under
// name (as SQLite names it, or as the path given to SQLite: it is resolved
// with FullPathname), and false when no connection has it open. In
// journal mode Stats.Journal says how full the journal is and what the
// checkpoints did.
func (v *VFS) FileStats(name string) (atomicio.Stats, bool) {
	names := []string{name}
	if full, _ := v.FullPathname(name); full != "" && full != name {
		names = append(names, full)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, n := range names {
		if db, ok := v.dbs[n]; ok {
			return db.file.Stats(), true
		}
	}
	return atomicio.Stats{}, false
}

var _ vfs.VFSFilename = (*VFS)(nil)

func (v *VFS) aux() vfs.VFS {
	if v.Aux != nil {
		return v.Aux
	}
	return vfs.Find("os")
}

// Open opens a main database file as an atomicio File, shared by every
// connection to the same name; other files go to Aux.
func (v *VFS) Open(name string, flags vfs.OpenFlag) (vfs.File, vfs.OpenFlag, error) {
	if name == "" || flags&vfs.OPEN_MAIN_DB == 0 {
		v.stats.auxOpens.Add(1)
		return v.aux().Open(name, flags)
	}
	return v.openMain(name, flags)
}

// OpenFilename is Open for SQLite's Filename objects, which the stock VFS
// needs for its journals.
func (v *VFS) OpenFilename(name *vfs.Filename, flags vfs.OpenFlag) (vfs.File, vfs.OpenFlag, error) {
	if name == nil || flags&vfs.OPEN_MAIN_DB == 0 {
		v.stats.auxOpens.Add(1)
		if aux, ok := v.aux().(vfs.VFSFilename); ok {
			return aux.OpenFilename(name, flags)
		}
		if name == nil {
			return v.aux().Open("", flags)
		}
		return v.aux().Open(name.String(), flags)
	}
	return v.openMain(name.String(), flags)
}

func (v *VFS) openMain(name string, flags vfs.OpenFlag) (vfs.File, vfs.OpenFlag, error) {
	db, err := v.acquire(name, flags&vfs.OPEN_CREATE != 0)
	if err != nil {
		return nil, 0, err
	}
	// The File is open for writing either way; a read-only connection
	// gets its flags back as asked, and SQLite refuses its writes.
	return &conn{vfs: v, db: db}, flags, nil
}

// acquire returns the database open under name, opening it first if no
// connection has (creating a missing file when create is set). A database
// whose File failed to close is still there, and is taken up again.
func (v *VFS) acquire(name string, create bool) (*database, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if db, ok := v.dbs[name]; ok {
		db.refs++
		return db, nil
	}
	f, lock, err := v.openFile(name, create)
	if err != nil {
		return nil, codeFor(fmt.Errorf("untornvfs: open %q: %w", name, err), sqlite3.CANTOPEN)
	}
	if v.dbs == nil {
		v.dbs = map[string]*database{}
	}
	db := &database{name: name, file: f, lock: lock, refs: 1}
	v.dbs[name] = db
	return db, nil
}

// openFile opens the File of the database at name and, unless OpenFile is
// set, locks it (see fileLock). An existing file is locked first:
// atomicio.Open recovers a file that has a journal, writing it, and no
// stock SQLite may be reading it then; a stock SQLite that holds a lock
// on it keeps it (ErrLocked). A missing file (create set) is created by
// atomicio.Open, which builds it under a temporary name and renames it to
// name, and so is an empty one, which it replaces with a new file; the
// file Open published is locked once Open returns.
func (v *VFS) openFile(name string, create bool) (*atomicio.File, *fileLock, error) {
	if v.OpenFile != nil {
		f, err := v.OpenFile(name)
		return f, nil, err
	}
	if v.noFileLock {
		f, err := atomicio.Open(name, v.fileOptions(name))
		return f, nil, err
	}
	lock, err := lockFile(name)
	if errors.Is(err, fs.ErrNotExist) && create {
		lock, err = nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	f, err := atomicio.Open(name, v.fileOptions(name))
	if err != nil {
		if lock != nil {
			err = errors.Join(err, lock.release())
		}
		return nil, nil, err
	}
	if lock != nil {
		same, err := lock.at(name)
		if err != nil {
			return nil, nil, errors.Join(err, lock.release(), f.Close())
		}
		if same {
			return f, lock, nil
		}
	}
	// A new file is at name: lock it, then let go of the one it replaced.
	nl, err := lockFile(name)
	if err == nil {
		var same bool
		if same, err = nl.at(name); err == nil && !same {
			err = fmt.Errorf("%w: %s was replaced while it was being opened", ErrLocked, name)
		}
		if err != nil {
			err = errors.Join(err, nl.release())
		}
	}
	if lock != nil {
		err = errors.Join(err, lock.release())
	}
	if err != nil {
		return nil, nil, errors.Join(err, f.Close())
	}
	return f, nl, nil
}

// fileOptions are the atomicio Options for the database at path: v.Options
// with the mode resolved (see VFS.Options) and the cache size defaulted.
func (v *VFS) fileOptions(path string) atomicio.Options {
	opts := v.Options
	if opts.Mode == atomicio.ModeAuto && sqliteOrNew(path) {
		opts.Mode = atomicio.ModeJournal
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = DefaultCacheSize
	}
	return opts
}

// sqliteMagic starts every SQLite database file (the header string).
var sqliteMagic = []byte("SQLite format 3\x00")

// sqliteOrNew reports whether the file at path takes journal mode under
// ModeAuto: it has a journal beside it, is missing or empty, or starts as
// an SQLite database does. Anything else (a COW container, or a file it
// cannot read) is left to atomicio.Open.
func sqliteOrNew(path string) bool {
	if _, err := os.Lstat(atomicio.JournalPath(path)); err == nil {
		return true
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return true
	} else if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, len(sqliteMagic))
	n, err := io.ReadFull(f, head)
	switch {
	case n == 0 && (err == nil || errors.Is(err, io.EOF)):
		return true
	case err != nil:
		return false
	}
	return bytes.Equal(head, sqliteMagic)
}

// release drops one connection's reference and closes the File with the
// last one, then drops the file lock: a stock opener gets the file only
// once it is complete (journal mode: checkpointed, the journal removed).
// If the Close fails the File is kept open, with its data and its locks,
// under its name: the next connection to it takes it up again, and the
// last close tries again.
func (v *VFS) release(db *database) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	db.refs--
	if db.refs > 0 {
		return nil
	}
	if err := db.file.Close(); err != nil {
		return codeFor(fmt.Errorf("untornvfs: close %q: %w", db.name, err), sqlite3.IOERR_CLOSE)
	}
	delete(v.dbs, db.name)
	if db.lock != nil {
		if err := db.lock.release(); err != nil {
			return codeFor(fmt.Errorf("untornvfs: close %q: %w", db.name, err), sqlite3.IOERR_CLOSE)
		}
	}
	return nil
}

// Delete deletes a file through Aux (SQLite deletes journals, never a main
// database).
func (v *VFS) Delete(name string, syncDir bool) error { return v.aux().Delete(name, syncDir) }

// Access asks Aux.
func (v *VFS) Access(name string, flags vfs.AccessFlag) (bool, error) {
	return v.aux().Access(name, flags)
}

// FullPathname asks Aux.
func (v *VFS) FullPathname(name string) (string, error) { return v.aux().FullPathname(name) }

// database is one main database file and the state its connections share.
type database struct {
	name  string
	file  *atomicio.File
	lock  *fileLock // on SQLite's lock bytes; nil with OpenFile or noFileLock
	locks lockTable
	refs  int // guarded by VFS.mu
}
