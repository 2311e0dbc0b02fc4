package blockdev

import (
	"io/fs"
	"os"
)

// Dir is an open directory in which files are created, renamed and
// removed, each name change made durable by Sync: what creating a file
// atomically needs (a temporary name, the file synced, a rename, the
// directory synced) and the only file-system calls the packages above
// blockdev make. Names are single path elements within the directory.
//
// On Unix the directory is open (O_DIRECTORY) and every call is relative
// to it (openat, renameat, unlinkat), so a rename of the directory meanwhile
// does not move the calls elsewhere; Sync is fsync of the directory
// (fcntl(F_FULLFSYNC) on macOS, where fsync stops at the drive's cache).
// On Windows a Dir is a path: renames are MoveFileEx with
// MOVEFILE_WRITE_THROUGH, which returns once the rename is on disk, and
// Sync does nothing (Windows has no directory sync; NTFS journals its
// metadata). Every file a Dir opens can be renamed and removed while open
// (FILE_SHARE_DELETE on Windows).
//
// A Dir is not safe for concurrent Close; its other methods may be called
// concurrently.
type Dir struct {
	path string
	dirSys
}

// Path returns the path the Dir was opened with.
func (d *Dir) Path() string { return d.path }

// CreateNew creates the regular file name, which must not exist (an error
// wrapping fs.ErrExist otherwise; a symbolic link there counts as
// existing), open for reading and writing; with perm >= 0 it gets exactly
// those permission bits (else 0o644 less the umask). It takes no lock.
func (d *Dir) CreateNew(name string, perm fs.FileMode, setPerm bool) (*os.File, error) {
	f, err := d.createNew(name)
	if err != nil {
		return nil, err
	}
	if setPerm {
		if err := f.Chmod(perm); err != nil {
			_ = f.Close()
			_ = d.Remove(name)
			return nil, err
		}
	}
	return f, nil
}
