package atomicio

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/untorn/untorn/blockdev"
)

// Temporary files: Open builds a new data file under the name
// "." + base + tempMarker + tempRandHex hex digits in the data file's
// directory (base truncated so that the name fits in NAME_MAX).
const (
	tempMarker  = ".untorn-tmp-"
	tempRandHex = 16
	nameMax     = 255
	// maxTempTries bounds the attempts to create and lock a temporary file
	// (a random name taken, a stale-file cleaner of another process holding
	// it for a moment).
	maxTempTries = 8
)

// createHook, when set (tests only), runs before each step of creating a
// data file; an error it returns is that step's failure. The steps, in
// order: "lock-empty" (replacing an empty file only), "create-temp",
// "preallocate" (with Options.Preallocate), "format", "sync-file",
// "new-file", "publish", "sync-dir".
var createHook func(step string) error

func step(name string) error {
	if createHook == nil {
		return nil
	}
	return createHook(name)
}

// renameNoReplace is a rename within one directory that never replaces
// (blockdev.Dir.RenameNoReplace); a variable so that tests can play a file
// system without it.
var renameNoReplace = func(d *blockdev.Dir, from, to string) error {
	return d.RenameNoReplace(from, to)
}

// syncer is what fsync makes durable: a new file (*os.File) or its
// directory (*blockdev.Dir).
type syncer interface{ Sync() error }

// fsync syncs the new file (os.File.Sync: fsync, F_FULLFSYNC on macOS,
// FlushFileBuffers on Windows) and its directory (blockdev.Dir.Sync) at
// path; a variable so that tests can observe both.
var fsync = func(path string, s syncer) error { return s.Sync() }

// tempPrefix is what every temporary file name for base starts with.
func tempPrefix(base string) string {
	if room := nameMax - 1 - len(tempMarker) - tempRandHex; len(base) > room {
		base = base[:room]
	}
	return "." + base + tempMarker
}

// tempBase reports whether name is a temporary file name and returns the
// (possibly truncated) base name it was made for.
func tempBase(name string) (string, bool) {
	i := strings.LastIndex(name, tempMarker)
	if i < 1 || name[0] != '.' || len(name)-i-len(tempMarker) != tempRandHex {
		return "", false
	}
	for _, c := range name[i+len(tempMarker):] {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", false
		}
	}
	return name[1:i], true
}

func tempName(base string) string {
	var r [tempRandHex / 2]byte
	_, _ = rand.Read(r[:]) // never fails (crypto/rand)
	return tempPrefix(base) + hex.EncodeToString(r[:])
}

// createNew creates the data file at path, which did not exist.
func createNew(path string, opts Options) (*File, error) {
	dir, base := filepath.Dir(path), filepath.Base(path)
	d, err := blockdev.OpenDir(dir)
	if err != nil {
		return nil, fmt.Errorf("atomicio: create %s: %w", path, err)
	}
	defer d.Close()
	removeStaleTemps(d, base)
	b, err := build(d, path, opts, noPerm)
	if err != nil {
		return nil, err
	}
	if err := step("publish"); err != nil {
		return b.discard(fmt.Errorf("publish: %w", err))
	}
	if err := publishNoReplace(d, b.tmp, base); errors.Is(err, fs.ErrExist) {
		// Another process published first: ours goes, theirs is opened
		// as an existing file.
		_, _ = b.discard(err)
		return nil, errRaced
	} else if err != nil {
		return b.discard(err)
	}
	return b.finish(d)
}

// replaceEmpty replaces the empty regular file at path (no symbolic link)
// with a new data file.
func replaceEmpty(path string, opts Options) (*File, error) {
	dir, base := filepath.Dir(path), filepath.Base(path)
	d, err := blockdev.OpenDir(dir)
	if err != nil {
		return nil, fmt.Errorf("atomicio: create %s: %w", path, err)
	}
	defer d.Close()
	if err := step("lock-empty"); err != nil {
		return nil, fmt.Errorf("atomicio: create %s: lock: %w", path, err)
	}
	ef, err := d.OpenNoFollow(base)
	switch {
	case errors.Is(err, fs.ErrNotExist) || isSymlinkErr(err):
		return nil, errRaced
	case err != nil:
		return nil, fmt.Errorf("atomicio: create %s: %w", path, err)
	}
	defer ef.Close()
	if err := blockdev.LockFile(ef); err != nil {
		return nil, fmt.Errorf("atomicio: create %s: %w", path, err)
	}
	// still reports whether path is, under our lock, the empty file we
	// locked: if so nobody else can be replacing it.
	still := func() (fs.FileMode, bool) {
		st, err := ef.Stat()
		if err != nil || !st.Mode().IsRegular() || st.Size() != 0 || !d.SameFile(base, ef) {
			return 0, false
		}
		return st.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky), true
	}
	perm, ok := still()
	if !ok {
		return nil, errRaced
	}
	removeStaleTemps(d, base)
	b, err := build(d, path, opts, filePerm{perm, true})
	if err != nil {
		return nil, err
	}
	if err := step("publish"); err != nil {
		return b.discard(fmt.Errorf("publish: %w", err))
	}
	if _, ok := still(); !ok {
		_, _ = b.discard(errRaced)
		return nil, errRaced
	}
	// A plain rename replaces the empty file: we hold its lock and
	// checked it is still the file at path.
	if err := d.Rename(b.tmp, base); err != nil {
		return b.discard(fmt.Errorf("rename: %w", err))
	}
	return b.finish(d)
}

// built is a new data file under its temporary name, complete and durable,
// with its File open (and the file locked).
type built struct {
	path string // where it goes
	dir  *blockdev.Dir
	tmp  string   // its temporary name in dir
	osf  *os.File // a plain handle of it (fsync, fstat), no lock
	dev  *blockdev.File
	file *File
	// journal is the new file's journal under its temporary name (journal
	// mode), published after the file.
	journal *built
}

// build creates, sizes, preallocates, formats and fsyncs a new data file
// for path under a temporary name, with permission bits perm (noPerm: 0o644
// under the umask). On error it has removed the temporary file.
func build(d *blockdev.Dir, path string, opts Options, perm filePerm) (*built, error) {
	fail := func(err error) (*built, error) {
		return nil, fmt.Errorf("atomicio: create %s: %w", path, err)
	}
	info, err := statDevice(filepath.Dir(path), opts)
	if err != nil {
		return fail(err)
	}
	mode := opts.Mode
	if mode == ModeAuto {
		// The side journal, which writes the units the hardware does
		// untorn in place (see ModeAuto).
		mode = ModeJournal
	}
	bs := 4096
	if info.DIOReported && info.DIOOffsetAlign > 0 {
		bs = max(bs, int(info.DIOOffsetAlign))
	}
	// Native: the file starts at its initial size (whole blocks). COW: an
	// empty file, which the container grows as it writes (to its roots
	// first, then segment by segment), and cuts when the segments at its
	// top are freed; the layout it grows into is checked here.
	size := ceilTo(opts.Size, int64(bs))
	if mode == ModeJournal {
		size = 0 // the data file gets its exact length below
	}
	capacity := ceilTo(cmp.Or(opts.MaxSize, max(DefaultMaxSize, opts.Size)), int64(bs))
	if mode == ModeCOW {
		if _, err := cowPhysicalSize(bs, opts, capacity); err != nil {
			return nil, err
		}
		size = 0
	}
	if err := step("create-temp"); err != nil {
		return fail(fmt.Errorf("create-temp: %w", err))
	}
	b, err := createTemp(d, path, size, perm, fileOptions(opts))
	if err != nil {
		return fail(err)
	}
	if mode == ModeJournal && opts.Size > 0 {
		// The file starts with exactly Size bytes (zeros); the journal
		// starts from that length.
		if err := b.dev.SetLength(opts.Size); err != nil {
			return b.fail(err)
		}
	}
	if opts.Preallocate {
		if err := step("preallocate"); err != nil {
			return b.fail(fmt.Errorf("preallocate: %w", err))
		}
		switch mode {
		case ModeCOW:
			err = preallocateCOW(b.dev, bs, opts, capacity)
		case ModeJournal:
			// Checkpoints write pages home: their space is allocated
			// ahead (the journal itself is always written whole).
			err = b.dev.Allocate(0, ceilTo(opts.Size, int64(bs)))
		default:
			err = preallocate(b.dev)
		}
		if err != nil {
			return b.fail(err)
		}
	}
	if err := step("format"); err != nil {
		return b.fail(fmt.Errorf("format: %w", err))
	}
	var target blockdev.Device = b.dev
	if mode == ModeJournal {
		jb, jd, err := buildJournal(d, path, b.dev, opts, perm)
		if err != nil {
			return b.fail(err)
		}
		b.journal, target = jb, jd
	} else if mode == ModeCOW {
		c, err := formatCOW(b.dev, opts, capacity)
		if err != nil {
			return b.fail(err)
		}
		target = c
		if err := initialSize(c, opts.Size); err != nil {
			_ = c.Close()
			return b.fail(err)
		}
	} else if !b.dev.Limits().HasAtomic() {
		return b.fail(fmt.Errorf("%w: native mode needs RWF_ATOMIC: %w", ErrNoUntornWrites, blockdev.ErrAtomicUnsupported))
	}
	// The format flushed the data; fsync makes the size and the rest of
	// the inode durable before the name can point at it.
	if err := step("sync-file"); err != nil {
		return b.fail(fmt.Errorf("sync-file: %w", err))
	}
	if err := fsync(b.osf.Name(), b.osf); err != nil {
		return b.fail(fmt.Errorf("fsync: %w", err))
	}
	// From here on errors and Path name where the file is going; nothing
	// else uses the device yet.
	b.dev.SetPath(path)
	if err := step("new-file"); err != nil {
		return b.fail(fmt.Errorf("new-file: %w", err))
	}
	f, err := newFile(target, mode, opts)
	if err != nil {
		_ = d.Remove(b.tmp)
		if b.journal != nil {
			_ = d.Remove(b.journal.tmp)
			_ = b.journal.osf.Close()
		}
		_ = target.Close()
		_ = b.osf.Close()
		return nil, err
	}
	if mode == ModeJournal {
		f.journalPath = path
	}
	b.file = f
	return b, nil
}

// createTemp creates and locks a new temporary file of size bytes for path,
// with permission bits perm (noPerm: 0o644 under the umask), opened as
// fopts asks (Size set here).
func createTemp(d *blockdev.Dir, path string, size int64, perm filePerm, fopts blockdev.FileOptions) (*built, error) {
	dir, base := filepath.Dir(path), filepath.Base(path)
	fopts.Size = size
	var lastErr error
	for range maxTempTries {
		name := tempName(base)
		osf, err := d.CreateNew(name, perm.mode, perm.set)
		if errors.Is(err, fs.ErrExist) {
			lastErr = err
			continue
		} else if err != nil {
			return nil, fmt.Errorf("create-temp %s: %w", name, err)
		}
		// The lock is taken by a second open; until then another Open's
		// removeStaleTemps may lock the file and remove it: then try again
		// with another name.
		dev, err := blockdev.OpenFile(filepath.Join(dir, name), fopts)
		if errors.Is(err, blockdev.ErrLocked) || errors.Is(err, fs.ErrNotExist) {
			_ = d.Remove(name)
			_ = osf.Close()
			lastErr = err
			continue
		} else if err != nil {
			_ = d.Remove(name)
			_ = osf.Close()
			return nil, fmt.Errorf("create-temp: %w", err)
		}
		if !d.SameFile(name, osf) {
			_ = dev.Close()
			_ = osf.Close()
			lastErr = fs.ErrNotExist
			continue
		}
		return &built{path: path, dir: d, tmp: name, osf: osf, dev: dev}, nil
	}
	return nil, fmt.Errorf("create-temp: %d tries: %w", maxTempTries, lastErr)
}

// fail removes the temporary file (still locked), releases it and returns
// err for path. Before the File exists only.
func (b *built) fail(err error) (*built, error) {
	_ = b.dir.Remove(b.tmp)
	_ = b.dev.Close()
	_ = b.osf.Close()
	if b.journal != nil {
		_, _ = b.journal.fail(err)
	}
	return nil, fmt.Errorf("atomicio: create %s: %w", b.path, err)
}

// discard removes the unpublished temporary file (still locked), releases
// the File and returns err for path.
func (b *built) discard(err error) (*File, error) {
	_ = b.dir.Remove(b.tmp)
	if b.journal != nil {
		_ = b.dir.Remove(b.journal.tmp)
		_ = b.journal.osf.Close()
	}
	_ = b.file.Abandon()
	_ = b.osf.Close()
	return nil, fmt.Errorf("atomicio: create %s: %w", b.path, err)
}

// finish publishes the journal of a file in journal mode (after the file:
// a crash between the two leaves a file without a journal, which Open
// gives a new one), makes the names durable and returns the File.
func (b *built) finish(d *blockdev.Dir) (*File, error) {
	_ = b.osf.Close()
	if j := b.journal; j != nil {
		err := step("publish-journal")
		if err == nil {
			err = publishNoReplace(d, j.tmp, filepath.Base(j.path))
		}
		_ = j.osf.Close()
		if err != nil {
			_ = d.Remove(j.tmp)
			_ = b.file.Abandon()
			return nil, fmt.Errorf("atomicio: create %s: publish the journal: %w", b.path, err)
		}
	}
	err := step("sync-dir")
	if err == nil {
		err = fsync(d.Path(), d)
	}
	if err != nil {
		_ = b.file.Abandon()
		return nil, fmt.Errorf("atomicio: create %s: fsync the directory: %w", b.path, err)
	}
	return b.file, nil
}

// publishNoReplace gives the file named from the name to in d, failing
// with an error wrapping fs.ErrExist if to exists. Without a rename that
// never replaces (blockdev.ErrNotSupported: the file system or the kernel
// lacks RENAME_NOREPLACE) it links and removes: a link never replaces
// either. If the process dies between the two (or the removal fails), the
// data file keeps a second name that looks like a temporary file:
// harmless, it stays until a later creation of that path removes it as
// stale.
func publishNoReplace(d *blockdev.Dir, from, to string) error {
	err := renameNoReplace(d, from, to)
	if !errors.Is(err, blockdev.ErrNotSupported) {
		if err != nil {
			return fmt.Errorf("rename: %w", err)
		}
		return nil
	}
	if err := d.Link(from, to); err != nil {
		return fmt.Errorf("link (the file system has no RENAME_NOREPLACE): %w", err)
	}
	_ = d.Remove(from)
	return nil
}

// removeStaleTemps removes the temporary files for base in d that no
// process holds locked: they were left by a process killed while creating
// (or, after the link fallback, are a second name of a data file). One that
// is locked is being created and stays. It removes only while holding the
// lock and after checking the name still is the file it locked; a creator
// checks the same after locking its new file, so the two cannot both go on
// with one file. Best effort: errors leave files behind.
func removeStaleTemps(d *blockdev.Dir, base string) {
	dh, err := os.Open(d.Path())
	if err != nil {
		return
	}
	names, _ := dh.Readdirnames(-1)
	_ = dh.Close()
	prefix := tempPrefix(base)
	for _, name := range names {
		if _, ok := tempBase(name); !ok || !strings.HasPrefix(name, prefix) ||
			len(name) != len(prefix)+tempRandHex {
			continue
		}
		f, err := d.OpenNoFollow(name)
		if err != nil {
			continue
		}
		if blockdev.LockFile(f) == nil {
			if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && d.SameFile(name, f) {
				_ = d.Remove(name)
			}
		}
		_ = f.Close()
	}
}

// filePerm is the permission a new file gets: mode when set, else 0o644
// under the umask.
type filePerm struct {
	mode fs.FileMode
	set  bool
}

var noPerm = filePerm{}

// isSymlinkErr reports whether err is what opening a symbolic link
// without following it reports (ELOOP).
func isSymlinkErr(err error) bool { return errors.Is(err, syscall.ELOOP) }
