package atomicio

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

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

// renameNoReplace is renameat2(RENAME_NOREPLACE) within one directory; a
// variable so that tests can play a file system without it.
var renameNoReplace = func(dirfd int, from, to string) error {
	return unix.Renameat2(dirfd, from, dirfd, to, unix.RENAME_NOREPLACE)
}

// fsync is fsync(2) on the new file and on its directory; a variable so
// that tests can observe both.
var fsync = fsyncRetry

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
	dirfd, err := openDir(dir)
	if err != nil {
		return nil, fmt.Errorf("atomicio: create %s: %w", path, err)
	}
	defer unix.Close(dirfd)
	removeStaleTemps(dirfd, dir, base)
	b, err := build(dirfd, path, opts, -1)
	if err != nil {
		return nil, err
	}
	if err := step("publish"); err != nil {
		return b.discard(fmt.Errorf("publish: %w", err))
	}
	if err := publishNoReplace(dirfd, b.tmp, base); errors.Is(err, unix.EEXIST) {
		// Another process published first: ours goes, theirs is opened
		// as an existing file.
		_, _ = b.discard(err)
		return nil, errRaced
	} else if err != nil {
		return b.discard(err)
	}
	return b.finish(dirfd)
}

// replaceEmpty replaces the empty regular file at path (no symbolic link)
// with a new data file.
func replaceEmpty(path string, opts Options) (*File, error) {
	dir, base := filepath.Dir(path), filepath.Base(path)
	dirfd, err := openDir(dir)
	if err != nil {
		return nil, fmt.Errorf("atomicio: create %s: %w", path, err)
	}
	defer unix.Close(dirfd)
	if err := step("lock-empty"); err != nil {
		return nil, fmt.Errorf("atomicio: create %s: lock: %w", path, err)
	}
	efd, err := openRetry(dirfd, base, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	switch {
	case errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ELOOP):
		return nil, errRaced
	case err != nil:
		return nil, fmt.Errorf("atomicio: create %s: %w", path, err)
	}
	defer unix.Close(efd)
	if err := blockdev.LockFD(efd); err != nil {
		return nil, fmt.Errorf("atomicio: create %s: %w", path, err)
	}
	// still reports whether path is, under our lock, the empty file we
	// locked: if so nobody else can be replacing it.
	still := func() (uint32, bool) {
		var st unix.Stat_t
		if unix.Fstat(efd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size != 0 || !sameFile(dirfd, base, efd) {
			return 0, false
		}
		return st.Mode & 0o7777, true
	}
	perm, ok := still()
	if !ok {
		return nil, errRaced
	}
	removeStaleTemps(dirfd, dir, base)
	b, err := build(dirfd, path, opts, int(perm))
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
	if err := unix.Renameat(dirfd, b.tmp, dirfd, base); err != nil {
		return b.discard(fmt.Errorf("rename: %w", err))
	}
	return b.finish(dirfd)
}

// built is a new data file under its temporary name, complete and durable,
// with its File open (and the file locked).
type built struct {
	path  string // where it goes
	dirfd int
	tmp   string // its temporary name in dirfd
	fd    int    // a plain descriptor of it (fsync, fstat), no lock
	dev   *blockdev.File
	file  *File
	// journal is the new file's journal under its temporary name (journal
	// mode), published after the file.
	journal *built
}

// build creates, sizes, preallocates, formats and fsyncs a new data file
// for path under a temporary name, with permission bits perm (-1: 0o644
// under the umask). On error it has removed the temporary file.
func build(dirfd int, path string, opts Options, perm int) (*built, error) {
	fail := func(err error) (*built, error) {
		return nil, fmt.Errorf("atomicio: create %s: %w", path, err)
	}
	info, err := blockdev.Stat(filepath.Dir(path))
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
	b, err := createTemp(dirfd, path, size, perm)
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
		jb, jd, err := buildJournal(dirfd, path, b.dev, opts, perm)
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
	if err := fsync(b.fd); err != nil {
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
		_ = unix.Unlinkat(dirfd, b.tmp, 0)
		if b.journal != nil {
			_ = unix.Unlinkat(dirfd, b.journal.tmp, 0)
			_ = unix.Close(b.journal.fd)
		}
		_ = target.Close()
		_ = unix.Close(b.fd)
		return nil, err
	}
	if mode == ModeJournal {
		f.journalPath = path
	}
	b.file = f
	return b, nil
}

// createTemp creates and locks a new temporary file of size bytes for path,
// with permission bits perm (-1: 0o644 under the umask).
func createTemp(dirfd int, path string, size int64, perm int) (*built, error) {
	dir, base := filepath.Dir(path), filepath.Base(path)
	var lastErr error
	for range maxTempTries {
		name := tempName(base)
		fd, err := openRetry(dirfd, name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o644)
		if errors.Is(err, unix.EEXIST) {
			lastErr = err
			continue
		} else if err != nil {
			return nil, fmt.Errorf("create-temp %s: %w", name, err)
		}
		if err := fchmod(fd, perm); err != nil {
			_ = unix.Unlinkat(dirfd, name, 0)
			_ = unix.Close(fd)
			return nil, fmt.Errorf("create-temp %s: chmod: %w", name, err)
		}
		// The lock is taken by a second open; until then another Open's
		// removeStaleTemps may lock the file and remove it: then try again
		// with another name.
		dev, err := blockdev.OpenFile(filepath.Join(dir, name), blockdev.FileOptions{Size: size})
		if errors.Is(err, blockdev.ErrLocked) || errors.Is(err, unix.ENOENT) {
			_ = unix.Unlinkat(dirfd, name, 0)
			_ = unix.Close(fd)
			lastErr = err
			continue
		} else if err != nil {
			_ = unix.Unlinkat(dirfd, name, 0)
			_ = unix.Close(fd)
			return nil, fmt.Errorf("create-temp: %w", err)
		}
		if !sameFile(dirfd, name, fd) {
			_ = dev.Close()
			_ = unix.Close(fd)
			lastErr = unix.ENOENT
			continue
		}
		return &built{path: path, dirfd: dirfd, tmp: name, fd: fd, dev: dev}, nil
	}
	return nil, fmt.Errorf("create-temp: %d tries: %w", maxTempTries, lastErr)
}

// fail removes the temporary file (still locked), releases it and returns
// err for path. Before the File exists only.
func (b *built) fail(err error) (*built, error) {
	_ = unix.Unlinkat(b.dirfd, b.tmp, 0)
	_ = b.dev.Close()
	_ = unix.Close(b.fd)
	if b.journal != nil {
		_, _ = b.journal.fail(err)
	}
	return nil, fmt.Errorf("atomicio: create %s: %w", b.path, err)
}

// discard removes the unpublished temporary file (still locked), releases
// the File and returns err for path.
func (b *built) discard(err error) (*File, error) {
	_ = unix.Unlinkat(b.dirfd, b.tmp, 0)
	if b.journal != nil {
		_ = unix.Unlinkat(b.dirfd, b.journal.tmp, 0)
		_ = unix.Close(b.journal.fd)
	}
	_ = b.file.Abandon()
	_ = unix.Close(b.fd)
	return nil, fmt.Errorf("atomicio: create %s: %w", b.path, err)
}

// finish publishes the journal of a file in journal mode (after the file:
// a crash between the two leaves a file without a journal, which Open
// gives a new one), makes the names durable and returns the File.
func (b *built) finish(dirfd int) (*File, error) {
	_ = unix.Close(b.fd)
	if j := b.journal; j != nil {
		err := step("publish-journal")
		if err == nil {
			err = publishNoReplace(dirfd, j.tmp, filepath.Base(j.path))
		}
		_ = unix.Close(j.fd)
		if err != nil {
			_ = unix.Unlinkat(dirfd, j.tmp, 0)
			_ = b.file.Abandon()
			return nil, fmt.Errorf("atomicio: create %s: publish the journal: %w", b.path, err)
		}
	}
	err := step("sync-dir")
	if err == nil {
		err = fsync(dirfd)
	}
	if err != nil {
		_ = b.file.Abandon()
		return nil, fmt.Errorf("atomicio: create %s: fsync the directory: %w", b.path, err)
	}
	return b.file, nil
}

// publishNoReplace gives the file named from the name to in dirfd, failing
// with EEXIST if to exists. Without RENAME_NOREPLACE (EINVAL: the file
// system does not support the flag; ENOSYS: an old kernel) it links and
// unlinks: link(2) never replaces either. If the process dies between the
// two (or the unlink fails), the data file keeps a second name that looks
// like a temporary file: harmless, it stays until a later creation of that
// path removes it as stale.
func publishNoReplace(dirfd int, from, to string) error {
	err := renameNoReplace(dirfd, from, to)
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) {
		if err != nil {
			return fmt.Errorf("rename: %w", err)
		}
		return nil
	}
	if err := unix.Linkat(dirfd, from, dirfd, to, 0); err != nil {
		return fmt.Errorf("link (the file system has no RENAME_NOREPLACE): %w", err)
	}
	_ = unix.Unlinkat(dirfd, from, 0)
	return nil
}

// removeStaleTemps removes the temporary files for base in dir that no
// process holds locked: they were left by a process killed while creating
// (or, after the link fallback, are a second name of a data file). One that
// is locked is being created and stays. It removes only while holding the
// lock and after checking the name still is the file it locked; a creator
// checks the same after locking its new file, so the two cannot both go on
// with one file. Best effort: errors leave files behind.
func removeStaleTemps(dirfd int, dir, base string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	_ = d.Close()
	prefix := tempPrefix(base)
	for _, name := range names {
		if _, ok := tempBase(name); !ok || !strings.HasPrefix(name, prefix) ||
			len(name) != len(prefix)+tempRandHex {
			continue
		}
		fd, err := openRetry(dirfd, name, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
		if err != nil {
			continue
		}
		var st unix.Stat_t
		if blockdev.LockFD(fd) == nil && unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG &&
			sameFile(dirfd, name, fd) {
			_ = unix.Unlinkat(dirfd, name, 0)
		}
		_ = unix.Close(fd)
	}
}

func fchmod(fd, perm int) error {
	if perm < 0 {
		return nil
	}
	return unix.Fchmod(fd, uint32(perm))
}

// sameFile reports whether name in dirfd is the file open as fd.
func sameFile(dirfd int, name string, fd int) bool {
	var a, b unix.Stat_t
	if unix.Fstat(fd, &a) != nil || unix.Fstatat(dirfd, name, &b, unix.AT_SYMLINK_NOFOLLOW) != nil {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}

func openDir(dir string) (int, error) {
	return openRetry(unix.AT_FDCWD, dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}

func openRetry(dirfd int, name string, flags int, perm uint32) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, flags, perm)
		if !errors.Is(err, unix.EINTR) {
			return fd, err
		}
	}
}

func fsyncRetry(fd int) error {
	for {
		err := unix.Fsync(fd)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
